"""Alert routes from the bureau's policy file: where each recipient's alerts go.

The sweep queues every alert under a route name: the recipient's role (``clerk``,
``supervisor``, ``leader``), or ``DEPARTMENT/role`` when the case has a department. The policy
file maps route names to channels::

    [alerts.routes.clerk]
    channel = "wecom"                       # 企业微信群机器人
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."

    [alerts.routes.supervisor]
    channel = "dingtalk"                    # 钉钉机器人, 加签
    url = "https://oapi.dingtalk.com/robot/send?access_token=..."
    secret_env = "CASEFLOW_DINGTALK_SECRET" # the secret is read from this variable

    [alerts.routes."行政复议科/clerk"]      # a department's own route; others use "clerk"
    channel = "webhook"
    url = "https://oa.example.gov.cn/hooks/caseflow"
    secret_env = "CASEFLOW_WEBHOOK_SECRET"
    mentions = ["zhangsan"]

A ``DEPARTMENT/role`` alert without a route of its own goes by the role's route. ``secret``
may also be written inline, but a secret in a file that is copied around is a secret no
longer: prefer ``secret_env``.

`parse_routes` checks the already-parsed TOML; `resolve_routes` looks the secrets up in an
environment mapping the caller passes (nothing here reads ``os.environ``). Both raise
`InvalidPolicy` naming the offending key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flows.alerts import CHANNELS, Channel
from states.errors import InvalidPolicy
from states.escalation import RECIPIENTS

ROLES: frozenset[str] = frozenset(role for roles in RECIPIENTS.values() for role in roles)
_KEYS = ("channel", "url", "secret", "secret_env", "mentions")
_SIGNED: frozenset[str] = frozenset({"dingtalk", "webhook"})


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A route as the policy declares it; the secret may still be an environment variable."""

    name: str
    channel: Channel
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    secret_env: str | None = None
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """A route ready to send through: channel, URL, the secret itself, who to @-mention."""

    name: str
    channel: Channel
    url: str = field(repr=False)  # a robot's URL carries its key: keep both out of logs
    secret: str | None = field(repr=False)
    mentions: tuple[str, ...] = ()


def parse_routes(policy: Mapping[str, Any], *, origin: str = "policy") -> dict[str, RouteSpec]:
    """The ``[alerts.routes.NAME]`` tables of a parsed policy; ``{}`` when there are none."""
    section = policy.get("alerts", {})
    where = f"{origin}: alerts"
    _require_table(section, where)
    unknown = sorted(set(section) - {"routes"})
    if unknown:
        raise InvalidPolicy(f"{where} has no setting {unknown[0]!r}", ["routes"])
    tables = section.get("routes", {})
    _require_table(tables, f"{where}.routes")
    return {name: _spec(name, table, f"{where}.routes.{name}") for name, table in tables.items()}


def _require_table(value: object, where: str) -> None:
    if not isinstance(value, Mapping):
        raise InvalidPolicy(f"{where} is {value!r}, not a table", ["a table"])


def _spec(name: str, table: object, where: str) -> RouteSpec:
    _require_table(table, where)
    assert isinstance(table, Mapping)
    department, _, role = name.rpartition("/")
    if role not in ROLES or (department == "" and "/" in name):
        raise InvalidPolicy(f"{where}: {name!r} is not a route name",
                            sorted(ROLES) + [f"DEPARTMENT/{r}" for r in sorted(ROLES)])
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise InvalidPolicy(f"{where} has no setting {unknown[0]!r}", list(_KEYS))
    channel = table.get("channel")
    if channel not in CHANNELS:
        raise InvalidPolicy(f"{where}.channel is {channel!r}", sorted(CHANNELS))
    url = table.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise InvalidPolicy(f"{where}.url is {url!r}", ["an http:// or https:// URL"])
    secret, secret_env = table.get("secret"), table.get("secret_env")
    for key, value in (("secret", secret), ("secret_env", secret_env)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidPolicy(f"{where}.{key} is not a non-empty string", ["a string"])
    if channel in _SIGNED and (secret is None) == (secret_env is None):
        raise InvalidPolicy(f"{where}: a {channel} route needs exactly one of secret, "
                            "secret_env", ["secret_env = \"VARIABLE\"", "secret = \"...\""])
    if channel not in _SIGNED and (secret is not None or secret_env is not None):
        raise InvalidPolicy(f"{where}: a {channel} route takes no secret (its key is in the URL)",
                            ["channel", "url", "mentions"])
    mentions = table.get("mentions", [])
    if not isinstance(mentions, list) or not all(isinstance(m, str) and m for m in mentions):
        raise InvalidPolicy(f"{where}.mentions is {mentions!r}", ["a list of user ids"])
    return RouteSpec(name, channel, url, secret, secret_env, tuple(mentions))


def resolve_routes(
    specs: Mapping[str, RouteSpec], env: Mapping[str, str], *, origin: str = "policy"
) -> dict[str, Route]:
    """The routes with their secrets; a ``secret_env`` that is not set is `InvalidPolicy`."""
    routes: dict[str, Route] = {}
    for name, spec in specs.items():
        secret = spec.secret
        if spec.secret_env is not None:
            secret = env.get(spec.secret_env) or None
            if secret is None:
                raise InvalidPolicy(
                    f"{origin}: alerts.routes.{name}.secret_env names {spec.secret_env}, "
                    "which is not set in the environment",
                    [f"export {spec.secret_env}=..."],
                )
        routes[name] = Route(name, spec.channel, spec.url, secret, spec.mentions)
    return routes


def find_route(routes: Mapping[str, Route], name: str) -> Route | None:
    """The route for an alert queued under ``name``: its own, else its role's."""
    if name in routes:
        return routes[name]
    _, _, role = name.rpartition("/")
    return routes.get(role)


def missing_route(name: str) -> str:
    """The last error of an alert whose route the policy does not declare."""
    _, slash, role = name.rpartition("/")
    names = f"{name!r} or {role!r}" if slash else repr(name)
    return f"no route {names} in the policy's [alerts.routes]"
