"""The declared case types, by name. Adding one is adding a module and a line here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from states.casetype import CaseType
from states.casetypes.complaint import complaint
from states.casetypes.legal_aid import legal_aid
from states.casetypes.reconsideration import reconsideration
from states.errors import UnknownCaseType

CASE_TYPES: Mapping[str, CaseType] = MappingProxyType(
    {t.name: t for t in (reconsideration, legal_aid, complaint)}
)


def case_type(name: str, types: Mapping[str, CaseType] = CASE_TYPES) -> CaseType:
    try:
        return types[name]
    except KeyError:
        raise UnknownCaseType(name, types) from None
