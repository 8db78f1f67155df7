"""Every error caseflow defines has an HTTP status of its own family (never 500)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import deployments
import flows
import models
import states
from deployments.api.errors import STATUSES, TooManyAttempts, status_for
from models.errors import Conflict, DatabaseUnavailable, IntegrityFailure, SchemaMissing
from states.errors import CaseflowError, InvalidInput, NotFound, RuleViolation
from states.roles import BadCredentials, IdentityRequired, RoleNotAllowed

for package in (states, models, flows, deployments):  # load every error class there is
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if ".migrations" not in module.name and "demo" not in module.name:
            importlib.import_module(module.name)


def every_error() -> list[type[CaseflowError]]:
    found: list[type[CaseflowError]] = []
    todo = [CaseflowError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: c.__qualname__)


def instance(cls: type[CaseflowError]) -> CaseflowError:
    error = CaseflowError.__new__(cls)
    CaseflowError.__init__(error, "m")
    return error


FAMILIES = [(TooManyAttempts, 429), (IdentityRequired, 401), (RoleNotAllowed, 403),
            (DatabaseUnavailable, 503), (SchemaMissing, 503), (InvalidInput, 400),
            (NotFound, 404), (Conflict, 409), (RuleViolation, 422), (IntegrityFailure, 422)]


@pytest.mark.parametrize("cls", every_error(), ids=lambda c: c.__qualname__)
def test_every_error_is_mapped(cls: type[CaseflowError]) -> None:
    status = status_for(instance(cls))
    if cls is CaseflowError:
        assert status == 500  # the base itself is never raised
        return
    assert status != 500, f"{cls.__qualname__} has no HTTP status in deployments/api/errors.py"
    assert status == next(s for f, s in FAMILIES if issubclass(cls, f))


def test_the_contracts_statuses() -> None:
    assert {s for _, s in STATUSES} >= {400, 401, 403, 404, 409, 422}
    assert status_for(instance(BadCredentials)) == 401
