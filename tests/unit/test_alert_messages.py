"""Alert messages: the exact request each channel gets, signatures, outcome classes, backoff.

Every request goes through ``httpx.MockTransport``; signatures are recomputed here with
hmac/hashlib/base64 directly, not with the module's helpers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from flows.alerts import (
    MAX_ATTEMPTS,
    Alert,
    SendResult,
    backoff,
    decide,
    render,
    send,
    verify_signature,
)
from states.escalation import Rung

NOW_MS = 1717200000000
DING_SECRET = "SEC0000caseflow"  # its sign at NOW_MS holds '+', '/' and '=': encoding matters
HOOK_SECRET = "whsec-caseflow-test"

Handler = Callable[[httpx.Request], httpx.Response]


def make_alert(channel: str = "webhook", **changes: Any) -> Alert:
    urls = {
        "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1",
        "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=t-1",
        "webhook": "https://hooks.example.org/caseflow",
    }
    secrets = {"wecom": None, "dingtalk": DING_SECRET, "webhook": HOOK_SECRET}
    alert = Alert(
        idempotency_key="alert-42",
        channel=channel,  # type: ignore[arg-type]
        url=urls[channel],
        secret=secrets[channel],
        ref="2025-FYJZ-0007",
        case_type="法律援助",
        clock="review",
        clock_label="审查期限",
        rung="overdue",
        due_on=date(2025, 6, 9),
        basis="《法律援助法》第四十三条",
        recipient="supervisor",
        mentions=(),
    )
    return replace(alert, **changes)


def capture(alert: Alert, answer: httpx.Response | None = None,
            *, timeout: float = 5.0) -> tuple[httpx.Request, SendResult]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer if answer is not None else httpx.Response(200, json={"errcode": 0})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = send(client, alert, now_ms=NOW_MS, timeout=timeout)
    assert len(seen) == 1
    return seen[0], result


def outcome(alert: Alert, handler: Handler) -> SendResult:
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return send(client, alert, now_ms=NOW_MS, timeout=5.0)


# -- request shapes -----------------------------------------------------------------------------


def test_wecom_request_is_a_markdown_robot_message() -> None:
    alert = make_alert("wecom", mentions=("zhangsan",))
    request, result = capture(alert)
    assert result == SendResult("sent", 200, "")
    assert request.method == "POST"
    assert str(request.url) == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert set(body) == {"msgtype", "markdown"}
    assert body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"content"}
    content = body["markdown"]["content"]
    assert content.splitlines() == [
        '### <font color="warning">【逾期】</font>案件期限提醒',
        "> 案号:2025-FYJZ-0007",
        "> 案件类型:法律援助",
        "> 期限:审查期限",
        "> 届满日期:2025年6月9日",
        "> 依据:《法律援助法》第四十三条",
        "> 提醒对象:科室负责人",
        "<@zhangsan>",
    ]
    assert len(content.encode()) <= 4096


@pytest.mark.parametrize(
    ("rung", "tag"),
    [
        ("due_soon", '<font color="comment">【预警】</font>'),
        ("overdue", '<font color="warning">【逾期】</font>'),
        ("overdue_serious", '<font color="warning">【严重逾期】</font>'),
    ],
)
def test_wecom_rung_is_coloured(rung: str, tag: str) -> None:
    body = json.loads(render(make_alert("wecom", rung=rung), now_ms=NOW_MS).body)
    assert body["markdown"]["content"].startswith(f"### {tag}")


def expected_ding_sign(secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_dingtalk_url_carries_timestamp_and_sign_computed_by_hand() -> None:
    sign = expected_ding_sign(DING_SECRET, NOW_MS)
    assert {"+", "/", "="} <= set(sign)  # so that a missing url-encoding would show
    request, result = capture(make_alert("dingtalk"))
    assert result.outcome == "sent"
    expected = (
        "https://oapi.dingtalk.com/robot/send?access_token=t-1"
        f"&timestamp={NOW_MS}&sign={quote(sign, safe='')}"
    )
    assert str(request.url) == expected
    query = parse_qs(urlsplit(str(request.url)).query)
    assert query == {"access_token": ["t-1"], "timestamp": [str(NOW_MS)], "sign": [sign]}


def test_dingtalk_url_without_query_gets_a_question_mark() -> None:
    alert = make_alert("dingtalk", url="https://robot.example.org/send")
    url = render(alert, now_ms=NOW_MS).url
    assert url.startswith(f"https://robot.example.org/send?timestamp={NOW_MS}&sign=")


def test_dingtalk_sign_follows_the_timestamp_passed_in() -> None:
    alert = make_alert("dingtalk")
    assert render(alert, now_ms=NOW_MS) == render(alert, now_ms=NOW_MS)
    later = parse_qs(urlsplit(render(alert, now_ms=NOW_MS + 1).url).query)
    assert later["sign"] == [expected_ding_sign(DING_SECRET, NOW_MS + 1)]
    assert later["timestamp"] == [str(NOW_MS + 1)]


def test_dingtalk_body_is_markdown_with_title_text_and_mentions() -> None:
    alert = make_alert("dingtalk", rung="overdue_serious", mentions=("13800000000", "lisi"))
    request, _ = capture(alert)
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert set(body) == {"msgtype", "markdown", "at"}
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【严重逾期】2025-FYJZ-0007 审查期限"
    assert body["markdown"]["text"].splitlines() == [
        '### <font color="#CC0000">【严重逾期】</font>案件期限提醒',
        "",
        "- **案号**:2025-FYJZ-0007",
        "- **案件类型**:法律援助",
        "- **期限**:审查期限",
        "- **届满日期**:2025年6月9日",
        "- **依据**:《法律援助法》第四十三条",
        "- **提醒对象**:科室负责人",
        "",
        "@13800000000 @lisi",
    ]
    assert body["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["lisi"], "isAtAll": False}


def test_dingtalk_without_mentions_has_no_at_block() -> None:
    body = json.loads(render(make_alert("dingtalk"), now_ms=NOW_MS).body)
    assert set(body) == {"msgtype", "markdown"}


def test_webhook_request_is_signed_json_with_idempotency_key() -> None:
    request, result = capture(make_alert("webhook", mentions=("u1",)), httpx.Response(204))
    assert result == SendResult("sent", 204, "")
    assert str(request.url) == "https://hooks.example.org/caseflow"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "alert-42"
    mac = hmac.new(HOOK_SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-caseflow-signature"] == f"sha256={mac}"
    assert json.loads(request.content) == {
        "type": "caseflow.alert",
        "version": 1,
        "idempotency_key": "alert-42",
        "ref": "2025-FYJZ-0007",
        "case_type": "法律援助",
        "clock": "review",
        "clock_label": "审查期限",
        "rung": "overdue",
        "rung_label": "逾期",
        "due_on": "2025-06-09",
        "basis": "《法律援助法》第四十三条",
        "recipient": "supervisor",
        "mentions": ["u1"],
        "provisional": False,
    }
    assert HOOK_SECRET not in request.content.decode()
    assert request.content == render(make_alert("webhook", mentions=("u1",)), now_ms=0).body


def test_signature_verifies_and_fails_when_any_byte_changes() -> None:
    rendered = render(make_alert("webhook"), now_ms=NOW_MS)
    header = rendered.headers["X-Caseflow-Signature"]
    assert verify_signature(HOOK_SECRET, rendered.body, header)
    for index in range(len(rendered.body)):
        tampered = bytearray(rendered.body)
        tampered[index] ^= 0x01
        assert not verify_signature(HOOK_SECRET, bytes(tampered), header), index
    assert not verify_signature(HOOK_SECRET, rendered.body + b" ", header)
    assert not verify_signature("another-secret", rendered.body, header)
    assert not verify_signature(HOOK_SECRET, rendered.body, header.removeprefix("sha256="))
    assert not verify_signature(HOOK_SECRET, rendered.body, header.replace("sha256", "sha1"))
    assert not verify_signature(HOOK_SECRET, rendered.body, "sha256=ünïcode")


def test_field_text_cannot_inject_markdown_tags_or_lines() -> None:
    alert = make_alert("wecom", basis='第一条\n# 标题 <font color="info">绿</font>')
    content = json.loads(render(alert, now_ms=NOW_MS).body)["markdown"]["content"]
    assert "> 依据:第一条 # 标题 ＜font color=\"info\"＞绿＜/font＞" in content.splitlines()


def test_long_basis_is_clipped() -> None:
    alert = make_alert("wecom", basis="法" * 5000)
    content = json.loads(render(alert, now_ms=NOW_MS).body)["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert "…" in content


def test_timeout_is_passed_to_the_request() -> None:
    request, _ = capture(make_alert("webhook"), httpx.Response(200), timeout=1.5)
    assert request.extensions["timeout"] == {
        "connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5,
    }


def test_alert_needs_a_known_channel_rung_and_its_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        make_alert("webhook", secret=None)
    with pytest.raises(ValueError, match="secret"):
        make_alert("dingtalk", secret="")
    with pytest.raises(ValueError, match="channel"):
        replace(make_alert("webhook"), channel="sms")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rung"):
        make_alert("webhook", rung="late")
    with pytest.raises(ValueError, match="idempotency"):
        make_alert("webhook", idempotency_key="")
    assert make_alert("wecom").secret is None
    assert make_alert("webhook", rung="arisen").rung is Rung.ARISEN  # the one Rung, of states/


# -- outcomes -----------------------------------------------------------------------------------


def answer(status: int, **kwargs: Any) -> Handler:
    return lambda request: httpx.Response(status, **kwargs)


def raising(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)
    return handler


@pytest.mark.parametrize(
    ("channel", "handler", "expected", "status"),
    [
        ("webhook", answer(200), "sent", 200),
        ("webhook", answer(202, json={"errcode": 45009}), "sent", 202),  # errcode: robots only
        ("wecom", answer(200, json={"errcode": 0, "errmsg": "ok"}), "sent", 200),
        ("dingtalk", answer(200, json={"errcode": 0, "errmsg": "ok"}), "sent", 200),
        ("wecom", answer(200, json={"errcode": 45009, "errmsg": "api freq out of limit"}),
         "retry", 200),
        ("wecom", answer(200, json={"errcode": -1, "errmsg": "system busy"}), "retry", 200),
        ("wecom", answer(200, json={"errcode": 93000, "errmsg": "invalid webhook url"}),
         "dead", 200),
        ("dingtalk", answer(200, json={"errcode": 130101, "errmsg": "send too fast"}),
         "retry", 200),
        ("dingtalk", answer(200, json={"errcode": 310000, "errmsg": "sign not match"}),
         "dead", 200),
        ("dingtalk", answer(200, json={"errcode": 45009}), "dead", 200),  # WeCom's, not Ding's
        ("wecom", answer(200, text="<html>portal</html>"), "dead", 200),
        ("wecom", answer(200, json=["errcode", 0]), "dead", 200),
        ("webhook", answer(400, text="bad request"), "dead", 400),
        ("webhook", answer(401), "dead", 401),
        ("webhook", answer(404), "dead", 404),
        ("wecom", answer(404), "dead", 404),
        ("webhook", answer(429), "retry", 429),
        ("webhook", answer(500, text="boom"), "retry", 500),
        ("dingtalk", answer(502), "retry", 502),
        ("webhook", answer(503), "retry", 503),
        ("webhook", answer(301, headers={"Location": "https://elsewhere.example"}), "dead", 301),
        ("webhook", raising(httpx.ConnectTimeout), "retry", None),
        ("webhook", raising(httpx.ReadTimeout), "retry", None),
        ("webhook", raising(httpx.WriteTimeout), "retry", None),
        ("webhook", raising(httpx.PoolTimeout), "retry", None),
        ("webhook", raising(httpx.ConnectError), "retry", None),
        ("wecom", raising(httpx.ReadError), "retry", None),
        ("dingtalk", raising(httpx.RemoteProtocolError), "retry", None),
    ],
)
def test_outcome_classification(
    channel: str, handler: Handler, expected: str, status: int | None
) -> None:
    result = outcome(make_alert(channel), handler)
    assert (result.outcome, result.status_code) == (expected, status)
    assert (result.error == "") == (expected == "sent")


def test_errors_say_what_went_wrong() -> None:
    alert = make_alert("webhook")
    assert outcome(alert, answer(500, text="db down")).error == "HTTP 500: db down"
    assert outcome(alert, answer(400, text="x" * 1000)).error == "HTTP 400: " + "x" * 200
    assert outcome(alert, raising(httpx.ReadTimeout)).error == "ReadTimeout: simulated"
    robot = outcome(make_alert("dingtalk"), answer(200, json={"errcode": 310000,
                                                              "errmsg": "sign not match"}))
    assert robot.error == "errcode 310000: sign not match"


def test_429_and_503_pass_retry_after_on() -> None:
    alert = make_alert("webhook")
    assert outcome(alert, answer(429, headers={"Retry-After": "7"})).retry_after == 7.0
    assert outcome(alert, answer(503, headers={"Retry-After": "30"})).retry_after == 30.0
    dated = answer(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert outcome(alert, dated).retry_after is None
    assert outcome(alert, answer(400, headers={"Retry-After": "7"})).retry_after is None


def test_unusable_url_is_dead_without_a_request() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    for url in ("ftp://hooks.example.org/x", "hooks.example.org/no-scheme"):
        with httpx.Client() as client:  # the real transport refuses the scheme
            result = send(client, make_alert("webhook", url=url), now_ms=NOW_MS, timeout=1.0)
        assert result.outcome == "dead", url
        assert result.status_code is None
        assert "UnsupportedProtocol" in result.error or "InvalidURL" in result.error
    assert calls == []


# -- retry policy -------------------------------------------------------------------------------


def test_backoff_doubles_from_base_and_is_capped() -> None:
    assert [backoff(n) for n in range(1, 11)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff(3, base=0.5) == 2.0
    assert backoff(4, base=10, cap=60) == 60
    assert backoff(10_000) == 300  # no overflow
    assert sum(backoff(n) for n in range(1, MAX_ATTEMPTS)) >= 600  # outlasts a 10-min throttle


def test_backoff_jitter_stays_between_half_and_all() -> None:
    assert backoff(3, random=lambda: 0.0) == 4.0
    assert backoff(3, random=lambda: 0.5) == 6.0
    assert backoff(3, random=lambda: 0.999) == pytest.approx(7.996)
    assert backoff(20, random=lambda: 0.0) == 150.0


def test_backoff_counts_attempts_from_one() -> None:
    with pytest.raises(ValueError):
        backoff(0)


def test_decide_makes_retry_dead_after_max_attempts() -> None:
    retry = SendResult("retry", 503, "HTTP 503: ")
    assert decide(retry, 1) == "retry"
    assert decide(retry, MAX_ATTEMPTS - 1) == "retry"
    assert decide(retry, MAX_ATTEMPTS) == "dead"
    assert decide(retry, 3, max_attempts=3) == "dead"
    assert decide(SendResult("sent", 200, ""), MAX_ATTEMPTS + 5) == "sent"
    assert decide(SendResult("dead", 400, "HTTP 400: "), 1) == "dead"


def test_an_alert_on_a_provisional_calendar_says_so() -> None:
    """A due date in a year without the State Council's notice may still move (DESIGN §3)."""
    for channel in ("wecom", "dingtalk"):
        body = render(make_alert(channel, provisional=True), now_ms=NOW_MS).body.decode()
        assert "暂定" in body
        assert "暂定" not in render(make_alert(channel), now_ms=NOW_MS).body.decode()
    document = json.loads(render(make_alert("webhook", provisional=True), now_ms=0).body)
    assert document["provisional"] is True
