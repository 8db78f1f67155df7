"""Alert routes from the policy file: parsed strictly, secrets from the environment passed in."""

from __future__ import annotations

import tomllib

import pytest

from flows.routes import Route, find_route, missing_route, parse_routes, resolve_routes
from states.errors import InvalidPolicy

POLICY = """
[clocks.legal_aid.review]
warning_days = 2

[alerts.routes.clerk]
channel = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
mentions = ["zhangsan"]

[alerts.routes.supervisor]
channel = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=t"
secret_env = "CF_DING_SECRET"

[alerts.routes.leader]
channel = "webhook"
url = "https://oa.example.gov.cn/hooks/caseflow"
secret = "inline-secret"

[alerts.routes."行政复议科/clerk"]
channel = "webhook"
url = "https://oa.example.gov.cn/hooks/fuyi"
secret_env = "CF_FUYI_SECRET"
"""

ENV = {"CF_DING_SECRET": "SECding", "CF_FUYI_SECRET": "fuyi"}


def routes(text: str, env: dict[str, str] | None = None) -> dict[str, Route]:
    return resolve_routes(parse_routes(tomllib.loads(text), origin="p.toml"), env or ENV,
                          origin="p.toml")


def test_the_policy_routes_resolve_with_their_secrets() -> None:
    found = routes(POLICY)
    assert set(found) == {"clerk", "supervisor", "leader", "行政复议科/clerk"}
    assert found["clerk"] == Route("clerk", "wecom",
                                   "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
                                   None, ("zhangsan",))
    assert found["supervisor"].secret == "SECding"
    assert found["leader"].secret == "inline-secret"
    assert found["行政复议科/clerk"].secret == "fuyi"


def test_a_route_never_shows_its_secret_or_url() -> None:
    text = repr(routes(POLICY)["supervisor"])
    assert "SECding" not in text and "access_token" not in text


def test_a_department_falls_back_to_the_roles_route() -> None:
    found = routes(POLICY)
    assert find_route(found, "行政复议科/clerk") is found["行政复议科/clerk"]
    assert find_route(found, "法律援助科/clerk") is found["clerk"]
    assert find_route(found, "法律援助科/leader") is found["leader"]
    assert find_route({"clerk": found["clerk"]}, "法律援助科/leader") is None
    assert missing_route("leader") == "no route 'leader' in the policy's [alerts.routes]"
    assert missing_route("法律援助科/leader") == (
        "no route '法律援助科/leader' or 'leader' in the policy's [alerts.routes]")


def test_no_alerts_section_means_no_routes() -> None:
    assert parse_routes({"clocks": {}}) == {}
    assert parse_routes({"alerts": {}}) == {}


def test_an_unset_secret_variable_names_itself() -> None:
    with pytest.raises(InvalidPolicy, match=r"CF_DING_SECRET.*not set"):
        routes(POLICY, {"CF_FUYI_SECRET": "x"})


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('[alerts.routes.clerk]\nchannel = "sms"\nurl = "https://x"', "channel"),
        ('[alerts.routes.clerk]\nchannel = "wecom"', "url"),
        ('[alerts.routes.clerk]\nchannel = "wecom"\nurl = "ftp://x"', "url"),
        ('[alerts.routes.clerk]\nchannel = "webhook"\nurl = "https://x"', "exactly one"),
        ('[alerts.routes.clerk]\nchannel = "webhook"\nurl = "https://x"\nsecret = "a"\n'
         'secret_env = "B"', "exactly one"),
        ('[alerts.routes.clerk]\nchannel = "wecom"\nurl = "https://x"\nsecret = "a"',
         "takes no secret"),
        ('[alerts.routes.clerk]\nchannel = "wecom"\nurl = "https://x"\ncolour = "red"',
         "no setting 'colour'"),
        ('[alerts.routes.clerk]\nchannel = "wecom"\nurl = "https://x"\nmentions = "a"',
         "mentions"),
        ('[alerts.routes.janitor]\nchannel = "wecom"\nurl = "https://x"', "not a route name"),
        ('[alerts.routes."/clerk"]\nchannel = "wecom"\nurl = "https://x"', "not a route name"),
        ('[alerts]\nroute = 1', "no setting 'route'"),
        ('alerts = 3', "not a table"),
    ],
)
def test_a_bad_route_is_refused_with_where_and_what(table: str, problem: str) -> None:
    with pytest.raises(InvalidPolicy, match=problem) as caught:
        routes(table)
    assert caught.value.message.startswith("p.toml: alerts")
    assert caught.value.allowed
