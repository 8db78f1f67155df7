"""Alert messages: render one escalation alert for its channel and deliver it in one attempt.

Three channels, each a POST of JSON bytes:

- ``wecom``: 企业微信 group robot, ``{"msgtype": "markdown", "markdown": {"content": ...}}``.
- ``dingtalk``: 钉钉 custom robot with 加签: ``timestamp`` (ms) and ``sign`` =
  url-encoded base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")) appended to the URL.
- ``webhook``: a generic JSON document signed over its exact bytes:
  ``X-Caseflow-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` plus ``Idempotency-Key``.

Nothing here reads the clock, builds a client or sleeps: the caller passes the ``httpx.Client``,
``now_ms`` and the timeout, and owns the retry loop (outbox row, attempts, last error). The retry
policy is declared once, here, and only transient failures are retryable:

    SendResult.outcome
    ├── "sent"   2xx (robots: and errcode 0)
    ├── "retry"  transport error (timeouts, refused, reset), 5xx, 429,
    │            robot errcode in RETRYABLE_ERRCODES (rate limited, system busy)
    └── "dead"   other 4xx, 1xx/3xx, unusable URL, robot errcode not retryable,
                 2xx robot answer without a readable errcode

``decide`` turns "retry" into "dead" once ``MAX_ATTEMPTS`` attempts have been made; ``backoff``
gives the delay before the next one. Nothing is raised to the caller except ``ValueError`` when
an ``Alert`` is built with an unknown channel or rung, or without the secret its channel needs.

Never sent twice: the webhook carries the idempotency key, which receivers use to drop a
redelivery (e.g. after a timeout that hid a success), and the caller stops at "sent". The robots
have no idempotency key; a timeout after they accepted a message can show it twice in the group.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, NamedTuple
from urllib.parse import quote_plus

import httpx

from states.escalation import Rung

Channel = Literal["wecom", "dingtalk", "webhook"]
Outcome = Literal["sent", "retry", "dead"]

CHANNELS: frozenset[str] = frozenset({"wecom", "dingtalk", "webhook"})
ROLE_LABELS: dict[str, str] = {"clerk": "承办人", "supervisor": "科室负责人", "leader": "局领导"}

# Ten attempts with the default backoff wait 2+4+...+256+300 s ≈ 13.5 min in all: longer than
# the 10 minutes a robot stays throttled after exceeding 20 messages a minute.
MAX_ATTEMPTS = 10

SIGNATURE_HEADER = "X-Caseflow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# Robot answers that are worth another try; every other non-zero errcode is a configuration or
# content error (bad key/token, 310000 sign/keyword/IP mismatch, message too long) and is dead.
RETRYABLE_ERRCODES: dict[str, frozenset[int]] = {
    "wecom": frozenset({-1, 45009}),  # system busy; api freq out of limit
    "dingtalk": frozenset({-1, 130101}),  # system busy; send too fast (20 a minute)
}

_WECOM_COLOURS = {Rung.DUE_SOON: "comment", Rung.OVERDUE: "warning",
                  Rung.OVERDUE_SERIOUS: "warning", Rung.ARISEN: "info"}
_DINGTALK_COLOURS = {Rung.DUE_SOON: "#FF9900", Rung.OVERDUE: "#FF3300",
                     Rung.OVERDUE_SERIOUS: "#CC0000", Rung.ARISEN: "#1E90FF"}
_BASIS_LIMIT = 300  # characters: keeps a message within WeCom's 4096 bytes of markdown
_ERROR_BODY_LIMIT = 200


@dataclass(frozen=True)
class Alert:
    """One alert as the outbox holds it; ``idempotency_key`` is stable across attempts.

    ``mentions`` are identifiers the channel understands: WeCom userids; DingTalk mobile
    numbers (all digits) or userIds; passed through as a list in the webhook document.
    """

    idempotency_key: str
    channel: Channel
    url: str
    secret: str | None
    ref: str
    case_type: str
    clock: str
    clock_label: str
    rung: Rung
    due_on: date
    basis: str
    recipient: str
    mentions: tuple[str, ...] = ()
    # the due date rests on a year without the State Council's holiday notice (DESIGN §3)
    provisional: bool = False

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown alert channel {self.channel!r}")
        try:  # the outbox row holds the rung's name
            object.__setattr__(self, "rung", Rung(self.rung))
        except ValueError:
            raise ValueError(f"unknown escalation rung {self.rung!r}") from None
        if self.channel in ("dingtalk", "webhook") and not self.secret:
            raise ValueError(f"a {self.channel} alert needs its signing secret")
        if not self.idempotency_key:
            raise ValueError("an alert needs an idempotency key")


class Rendered(NamedTuple):
    """The request to POST: headers, the exact body bytes, and the final URL."""

    headers: dict[str, str]
    body: bytes
    url: str


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to. ``retry_after`` (seconds) is a 429/503 ``Retry-After``."""

    outcome: Outcome
    status_code: int | None
    error: str
    retry_after: float | None = None


# -- signatures ---------------------------------------------------------------------------------


def sign_body(secret: str, body: bytes) -> str:
    """The ``X-Caseflow-Signature`` value for these exact bytes."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """Receiver side: does ``header`` sign exactly ``body`` with ``secret``? Constant time."""
    return hmac.compare_digest(sign_body(secret, body).encode("ascii"), header.encode("utf-8"))


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")), not yet url-encoded."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# -- rendering ----------------------------------------------------------------------------------


def _plain(text: str, limit: int | None = None) -> str:
    """Field text made inert in markdown: one line, no tags; clipped to ``limit`` characters."""
    text = " ".join(text.split()).replace("<", "＜").replace(">", "＞")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _facts(alert: Alert) -> list[tuple[str, str]]:
    return [
        ("案号", _plain(alert.ref)),
        ("案件类型", _plain(alert.case_type)),
        ("期限", _plain(alert.clock_label)),
        ("届满日期", _cn_date(alert.due_on)
         + ("（暂定：该年度放假安排尚未公布）" if alert.provisional else "")),
        ("依据", _plain(alert.basis, _BASIS_LIMIT)),
        ("提醒对象", _plain(ROLE_LABELS.get(alert.recipient, alert.recipient))),
    ]


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _render_wecom(alert: Alert) -> Rendered:
    label = alert.rung.label
    colour = _WECOM_COLOURS[alert.rung]
    lines = [f'### <font color="{colour}">【{label}】</font>案件期限提醒']
    lines += [f"> {name}:{value}" for name, value in _facts(alert)]
    if alert.mentions:
        lines.append("".join(f"<@{_plain(who)}>" for who in alert.mentions))
    body = {"msgtype": "markdown", "markdown": {"content": "\n".join(lines)}}
    return Rendered({"Content-Type": "application/json"}, _json_bytes(body), alert.url)


def _render_dingtalk(alert: Alert, now_ms: int) -> Rendered:
    assert alert.secret is not None  # Alert.__post_init__ guarantees it
    label = alert.rung.label
    colour = _DINGTALK_COLOURS[alert.rung]
    lines = [f'### <font color="{colour}">【{label}】</font>案件期限提醒', ""]
    lines += [f"- **{name}**:{value}" for name, value in _facts(alert)]
    document: dict[str, Any] = {"msgtype": "markdown"}
    if alert.mentions:
        lines += ["", " ".join(f"@{_plain(who)}" for who in alert.mentions)]
        mobiles = [who for who in alert.mentions if who.isdigit()]
        users = [who for who in alert.mentions if not who.isdigit()]
        document["at"] = {"atMobiles": mobiles, "atUserIds": users, "isAtAll": False}
    title = f"【{label}】{_plain(alert.ref)} {_plain(alert.clock_label)}"
    document["markdown"] = {"title": title, "text": "\n".join(lines)}
    sign = quote_plus(dingtalk_sign(alert.secret, now_ms))
    separator = "&" if "?" in alert.url else "?"
    url = f"{alert.url}{separator}timestamp={now_ms}&sign={sign}"
    return Rendered({"Content-Type": "application/json"}, _json_bytes(document), url)


def webhook_document(alert: Alert) -> dict[str, Any]:
    """The generic webhook's JSON document (never the URL or the secret)."""
    return {
        "type": "caseflow.alert",
        "version": 1,
        "idempotency_key": alert.idempotency_key,
        "ref": alert.ref,
        "case_type": alert.case_type,
        "clock": alert.clock,
        "clock_label": alert.clock_label,
        "rung": alert.rung,
        "rung_label": alert.rung.label,
        "due_on": alert.due_on.isoformat(),
        "basis": alert.basis,
        "recipient": alert.recipient,
        "mentions": list(alert.mentions),
        "provisional": alert.provisional,
    }


def _render_webhook(alert: Alert) -> Rendered:
    assert alert.secret is not None  # Alert.__post_init__ guarantees it
    body = _json_bytes(webhook_document(alert))  # serialized once: these bytes are signed
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_body(alert.secret, body),
        IDEMPOTENCY_HEADER: alert.idempotency_key,
    }
    return Rendered(headers, body, alert.url)


def render(alert: Alert, *, now_ms: int) -> Rendered:
    """The request for ``alert``; ``now_ms`` (ms since epoch) is DingTalk's signed timestamp.

    DingTalk refuses a timestamp more than an hour off its clock: render at each attempt.
    """
    if alert.channel == "wecom":
        return _render_wecom(alert)
    if alert.channel == "dingtalk":
        return _render_dingtalk(alert, now_ms)
    return _render_webhook(alert)


# -- one attempt --------------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None  # the HTTP-date form is ignored


def _robot_answer(alert: Alert, response: httpx.Response) -> SendResult:
    status = response.status_code
    try:
        answer = response.json()
        errcode = int(answer["errcode"])
    except (ValueError, KeyError, TypeError):
        error = f"unreadable robot answer: {response.text[:_ERROR_BODY_LIMIT]!r}"
        return SendResult("dead", status, error)
    if errcode == 0:
        return SendResult("sent", status, "")
    error = f"errcode {errcode}: {str(answer.get('errmsg', ''))[:_ERROR_BODY_LIMIT]}"
    retryable = errcode in RETRYABLE_ERRCODES.get(alert.channel, frozenset())
    return SendResult("retry" if retryable else "dead", status, error)


def classify(alert: Alert, response: httpx.Response) -> SendResult:
    """The outcome of a response that arrived (see the module docstring for the table)."""
    status = response.status_code
    if 200 <= status < 300:
        if alert.channel == "webhook":
            return SendResult("sent", status, "")
        return _robot_answer(alert, response)
    error = f"HTTP {status}: {response.text[:_ERROR_BODY_LIMIT]}"
    if status >= 500 or status == 429:
        return SendResult("retry", status, error, _retry_after(response))
    return SendResult("dead", status, error)


def send(client: httpx.Client, alert: Alert, *, now_ms: int, timeout: float) -> SendResult:
    """ONE attempt to deliver ``alert``; never raises for a delivery failure, never retries."""
    request = render(alert, now_ms=now_ms)
    try:
        response = client.post(
            request.url, content=request.body, headers=request.headers, timeout=timeout
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return SendResult("dead", None, f"{type(exc).__name__}: {exc}")
    except httpx.TransportError as exc:  # timeouts, refused, reset, protocol errors
        return SendResult("retry", None, f"{type(exc).__name__}: {exc}")
    return classify(alert, response)


# -- retry policy -------------------------------------------------------------------------------


def backoff(
    attempt: int,
    base: float = 2.0,
    cap: float = 300.0,
    *,
    random: Callable[[], float] | None = None,
) -> float:
    """Seconds to wait after ``attempt`` (1 = the first) failed: base·2^(attempt-1), capped.

    With ``random`` (a source of floats in [0, 1), e.g. ``random.Random(seed).random``) the
    delay is jittered to between half and all of it, so a burst of failures spreads out.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    delay = min(cap, base * 2.0 ** min(attempt - 1, 64))
    if random is not None:
        delay = delay / 2 + random() * delay / 2
    return delay


def decide(result: SendResult, attempts: int, max_attempts: int = MAX_ATTEMPTS) -> Outcome:
    """The outcome to record after ``attempts`` attempts: a "retry" past the limit is "dead"."""
    if result.outcome == "retry" and attempts >= max_attempts:
        return "dead"
    return result.outcome
