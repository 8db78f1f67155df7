"""The user directory's use cases: add, set a password, issue and revoke API tokens, log in.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's recommendation): it is
memory-hard, and unlike bcrypt it takes the whole of a long Chinese passphrase (bcrypt reads
72 bytes, 24 Chinese characters). API tokens are long random strings, so a plain SHA-256 of
them is what is stored: no one can guess a token from its hash, and lookup stays one indexed
equality.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flows.context import Bureau
from models import users as directory
from models.users import StoredUser
from states.errors import InvalidInput
from states.roles import BadCredentials, Identity, Role, UnknownUser, check_user

MIN_PASSWORD = 8
_hasher = PasswordHasher()


class WeakPassword(InvalidInput):
    code = "weak_password"


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD} characters",
                           [f"{MIN_PASSWORD}+ characters"])
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(bureau: Bureau, name: str, role: Role, *, department: str | None,
             password: str | None, now: datetime) -> StoredUser:
    check_user(name, role, department)
    hashed = hash_password(password) if password is not None else None
    with bureau.unit_of_work() as uow:
        stored = directory.add(uow.connection, Identity(name, role, department or None),
                               hashed, now)
        uow.commit()
    return stored


def set_password(bureau: Bureau, name: str, password: str) -> None:
    hashed = hash_password(password)
    with bureau.unit_of_work() as uow:
        directory.set_password(uow.connection, name, hashed)
        uow.commit()


def issue_token(bureau: Bureau, name: str, now: datetime) -> str:
    """A new API token for the user: returned once, only its hash is kept."""
    token = secrets.token_urlsafe(32)
    with bureau.unit_of_work() as uow:
        directory.add_token(uow.connection, name, token_hash(token), now)
        uow.commit()
    return token


def revoke(bureau: Bureau, name: str, now: datetime) -> int:
    with bureau.unit_of_work() as uow:
        count = directory.revoke_tokens(uow.connection, name, now)
        uow.commit()
    return count


def list_users(bureau: Bureau) -> list[StoredUser]:
    with bureau.unit_of_work(write=False) as uow:
        return directory.all_users(uow.connection)


def users_exist(bureau: Bureau) -> bool:
    with bureau.unit_of_work(write=False) as uow:
        return directory.any_user(uow.connection)


def identity(bureau: Bureau, name: str) -> Identity:
    """The identity a CLI command acts as (``--as USER``)."""
    with bureau.unit_of_work(write=False) as uow:
        return directory.load(uow.connection, name).identity


def by_token(bureau: Bureau, token: str) -> Identity:
    """Every API request's first read, made afresh each time (a revoked token is refused on the
    next request). One statement: on PostgreSQL it runs without a transaction of its own
    (autocommit), saving the BEGIN and ROLLBACK round trips — in READ COMMITTED a statement
    sees its own snapshot either way."""
    with bureau.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        found = directory.by_token(connection, token_hash(token))
    if found is None:
        raise BadCredentials("the API token is unknown or revoked",
                             ["Authorization: Bearer TOKEN from `caseflow user token NAME`"])
    return found


def log_in(bureau: Bureau, name: str, password: str) -> Identity:
    """The user whose name and password these are; one message whatever was wrong, so that a
    guesser learns nothing about which names exist."""
    refused = BadCredentials("wrong user name or password", [])
    try:
        with bureau.unit_of_work(write=False) as uow:
            user = directory.load(uow.connection, name)
    except UnknownUser:
        _hasher.hash(password)  # the same time as a wrong password: names stay secret
        raise refused from None
    if user.password_hash is None:
        raise refused
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise refused from None
    return user.identity
