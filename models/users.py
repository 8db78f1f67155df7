"""The user directory and its API tokens, read and written with Core statements on a connection.

Like every repository here, nothing commits: the service that opened the unit of work does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from models.errors import Conflict
from models.tables import api_tokens, users
from states.roles import Identity, Role, UnknownUser


@dataclass(frozen=True, slots=True)
class StoredUser:
    id: int
    identity: Identity
    password_hash: str | None
    created_at: datetime
    tokens: int = 0  # live (not revoked) API tokens

    def to_json(self) -> dict[str, object]:
        who = self.identity
        return {"name": who.name, "role": who.role.value, "role_label": who.role.label,
                "department": who.department, "password": self.password_hash is not None,
                "tokens": self.tokens, "created_at": self.created_at.isoformat()}


def _user(row: sa.Row[tuple[object, ...]], tokens: int = 0) -> StoredUser:
    m = row._mapping
    return StoredUser(m["id"], Identity(m["name"], Role(m["role"]), m["department"]),
                      m["password_hash"], m["created_at"], tokens)


def any_user(connection: sa.Connection) -> bool:
    """Whether the directory holds anyone: until it does, caseflow stays open as before."""
    return connection.execute(sa.select(users.c.id).limit(1)).first() is not None


def add(connection: sa.Connection, identity: Identity, password_hash: str | None,
        now: datetime) -> StoredUser:
    if connection.execute(sa.select(users.c.id).where(users.c.name == identity.name)).first():
        raise Conflict(f"a user {identity.name!r} already exists",
                       [f"caseflow user passwd {identity.name}", "another name"])
    values = {"name": identity.name, "role": identity.role.value,
              "department": identity.department, "password_hash": password_hash,
              "created_at": now}
    row_id = connection.execute(sa.insert(users).values(values).returning(users.c.id)).scalar_one()
    return StoredUser(row_id, identity, password_hash, now)


def load(connection: sa.Connection, name: str) -> StoredUser:
    row = connection.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None:
        raise UnknownUser(name)
    return _user(row)


def all_users(connection: sa.Connection) -> list[StoredUser]:
    live = (sa.select(sa.func.count()).where(api_tokens.c.user_id == users.c.id,
                                             api_tokens.c.revoked_at.is_(None))
            .scalar_subquery())
    rows = connection.execute(sa.select(users, live.label("live")).order_by(users.c.name))
    return [_user(row, row._mapping["live"]) for row in rows]


def set_password(connection: sa.Connection, name: str, password_hash: str) -> None:
    user = load(connection, name)
    connection.execute(sa.update(users).where(users.c.id == user.id)
                       .values(password_hash=password_hash))


def add_token(connection: sa.Connection, name: str, token_hash: str, now: datetime) -> None:
    user = load(connection, name)
    connection.execute(sa.insert(api_tokens).values(user_id=user.id, token_hash=token_hash,
                                                    created_at=now))


def by_token(connection: sa.Connection, token_hash: str) -> Identity | None:
    """The user a live token belongs to, or None (unknown or revoked)."""
    row = connection.execute(
        sa.select(users).join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
    ).first()
    return None if row is None else _user(row).identity


def revoke_tokens(connection: sa.Connection, name: str, now: datetime) -> int:
    """Revoke every live token of the user; how many there were."""
    user = load(connection, name)
    result = connection.execute(
        sa.update(api_tokens)
        .where(api_tokens.c.user_id == user.id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now))
    return result.rowcount
