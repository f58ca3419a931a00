"""Key rotation, the template dialect and the preview, through the API with a real
dispatcher sending to a real receiver on 127.0.0.1 (issue 15, items 2, 4 and 5).

Signatures are checked with the ``standardwebhooks`` library (the receiver's side of
the standard), once per secret.
"""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError
from test_api_support import TOKEN_A, TOKEN_B, Api, api, ended_call, ev, make_api, mapi, store_for  # noqa: F401

from callhook.core.events import CallParty, Direction, EventType
from callhook.core.retry import RetryPolicy
from callhook.delivery.dispatcher import DispatcherOptions
from callhook.delivery.sender import HttpSender

OLD = "whsec_" + "A" * 32  # 24 bytes
NEW = "whsec_QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC"  # 33 bytes


@dataclass
class Hit:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Rx:
    """A receiver keeping the raw bytes (a signature covers them exactly)."""

    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(Hit(request.method, request.path_qs, dict(request.headers), await request.read()))
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]


@pytest.fixture(params=["memory", "sqlite"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Api, Rx]]:
    """A hub built as ``callhook serve`` builds it (its own dispatcher, running, with quick
    retries and subscription reads) and a receiver."""
    rx = Rx()
    sender = HttpSender(total_timeout=2.0, connect_timeout=1.0)
    made = make_api(
        store_for(request.param, tmp_path),
        sender=sender,
        policy=RetryPolicy(schedule=(0.1,) * 3, jitter=0.0),
        dispatch=DispatcherOptions(poll_interval=0.05, subscription_ttl=0.05),
    )
    served = next(made)
    dispatcher = served.hub.dispatcher

    async def start() -> None:
        await rx.start()
        await dispatcher.start()

    async def stop() -> None:
        await dispatcher.stop(grace=2.0)
        assert rx.runner is not None
        await rx.runner.cleanup()

    served.run(start())
    yield served, rx
    served.run(stop())
    next(made, None)  # make_api closes the hub


def _wait(api: Api, rx: Rx, n: int, within: float = 10.0) -> list[Hit]:
    deadline = time.monotonic() + within
    while len(rx.hits) < n:
        assert time.monotonic() < deadline, f"the receiver got {len(rx.hits)} of {n} requests"
        api.run(asyncio.sleep(0.02))
    return rx.hits


def _hook(api: Api, token: str | None = None, **kw: Any) -> dict[str, Any]:
    r = api.post("/api/v1/webhooks", *([token] if token else []), json=kw)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _verifies(secret: str, hit: Hit) -> bool:
    try:
        Webhook(secret).verify(hit.body, hit.headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


# ------------------------------------------------------------------ rotation
def test_rotation_signs_with_both_secrets_until_the_overlap_ends(live: tuple[Api, Rx]) -> None:
    api, rx = live
    hook = _hook(api, url=rx.url("/h"), dialect="callhook", secret=OLD)["id"]
    r = api.post(f"/api/v1/webhooks/{hook}/rotate-secret", json={"secret": NEW, "overlap": 3600})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["secret"] == NEW
    assert out["previous_secret_until"] is not None
    shown = api.get(f"/api/v1/webhooks/{hook}").json()
    assert shown["has_secret"] is True
    assert shown["previous_secret_until"] == out["previous_secret_until"]
    assert OLD not in str(shown)
    assert NEW not in str(shown)

    api.accept(ended_call("c1", "+79161234567", "+74957654321", answered=True)[0])
    [hit] = _wait(api, rx, 1)
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    assert _verifies(NEW, hit)
    assert _verifies(OLD, hit)
    assert not _verifies("whsec_" + "C" * 32, hit)  # the check can fail

    assert api.delete(f"/api/v1/webhooks/{hook}/previous-secret").status_code == 204
    assert api.get(f"/api/v1/webhooks/{hook}").json()["previous_secret_until"] is None
    api.accept(ended_call("c2", "+79161234567", "+74957654321", answered=True)[0])
    hit = _wait(api, rx, 2)[1]
    assert len(hit.headers["webhook-signature"].split(" ")) == 1
    assert _verifies(NEW, hit)
    assert not _verifies(OLD, hit)


def test_rotation_generates_a_secret_and_an_overlap_of_zero_drops_the_old(mapi: Api) -> None:
    hook = _hook(mapi, url="https://crm.example/h", dialect="callhook", secret=OLD)["id"]
    out = mapi.post(f"/api/v1/webhooks/{hook}/rotate-secret", json={"overlap": 0}).json()
    assert out["secret"].startswith("whsec_")
    assert out["secret"] != OLD
    assert out["previous_secret_until"] is None
    sub = mapi.run(mapi.hub.store.get_subscription(hook, with_secrets=True))
    assert sub.signing_secrets(time.time()) == (out["secret"],)
    # the default overlap is a day; a PATCH of the secret replaces at once, without one
    out2 = mapi.post(f"/api/v1/webhooks/{hook}/rotate-secret").json()
    sub = mapi.run(mapi.hub.store.get_subscription(hook, with_secrets=True))
    assert sub.signing_secrets(time.time()) == (out2["secret"], out["secret"])
    until = datetime.fromisoformat(out2["previous_secret_until"]).timestamp()
    assert abs(until - time.time() - 86400) < 120
    assert mapi.patch(f"/api/v1/webhooks/{hook}", json={"secret": OLD}).json()["previous_secret_until"] is None
    sub = mapi.run(mapi.hub.store.get_subscription(hook, with_secrets=True))
    assert sub.signing_secrets(time.time()) == (OLD,)


def test_rotation_refusals(mapi: Api) -> None:
    hook = _hook(mapi, TOKEN_A, url="https://crm.example/h", dialect="callhook", secret=OLD)["id"]
    assert mapi.post(f"/api/v1/webhooks/{hook}/rotate-secret", TOKEN_B, json={}).status_code == 404
    for bad in ({"secret": "whsec_!!"}, {"secret": " x"}, {"overlap": -1}, {"overlap": 31 * 86400}, {"old": 1}):
        r = mapi.post(f"/api/v1/webhooks/{hook}/rotate-secret", TOKEN_A, json=bad)
        assert r.status_code == 422, bad
    r = mapi.post(f"/api/v1/webhooks/{hook}/rotate-secret", TOKEN_A, json={"secret": OLD})
    assert r.status_code == 422
    assert "current one" in r.text
    assert mapi.delete("/api/v1/webhooks/wh_none/previous-secret").status_code == 404


# ------------------------------------------------------------------ masking in the attempt log
def test_masked_numbers_in_the_attempt_log_and_the_sent_request(live: tuple[Api, Rx]) -> None:
    api, rx = live
    hook = _hook(
        api,
        url=rx.url("/pbx"),
        dialect="pbx2is",
        method="GET",
        masking={"fields": ["caller", "called"], "mode": "hash"},
    )["id"]
    events = ended_call("c1", "+79161234567", "+74957654321", answered=True)
    api.accept(*events)
    hits = _wait(api, rx, 2)  # pbx2is: call.new (dial) and call.ended (endcall)
    assert all("9161234567" not in h.path_qs and "4957654321" not in h.path_qs for h in hits)
    sent = [parse_qs(h.path_qs.partition("?")[2]) for h in hits]
    assert {q["caller_num"][0][:2] for q in sent} == {"n_"}, sent
    assert len({q["caller_num"][0] for q in sent}) == 1  # one number, one token
    assert {q["called_num"][0] for q in sent} != {q["caller_num"][0] for q in sent}
    for d in api.get("/api/v1/deliveries", params={"subscription_id": hook}).json()["items"]:
        detail = api.get(f"/api/v1/deliveries/{d['id']}").json()
        text = str(detail)
        assert "9161234567" not in text
        assert "4957654321" not in text
        assert detail["attempt_log"], detail


# ------------------------------------------------------------------ the template dialect
BITRIX = {  # an example, shaped like Bitrix24's telephony.externalcall.register parameters (a form)
    "method": "POST",
    "url": "https://crm.example/rest/1/token/telephony.externalcall.register.json",
    "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    "body": "USER_PHONE_INNER={{ leg.number|urlencode }}&PHONE_NUMBER={{ party.caller_num|urlencode }}"
    "&TYPE={{ 2 if party.direction == 'incoming' else 1 }}&CALL_START_DATE={{ ts|urlencode }}"
    "&LINE_NUMBER={{ party.called_num|urlencode }}&CRM_CREATE=1",
}


def test_template_webhook_renders_what_the_receiver_gets(live: tuple[Api, Rx]) -> None:
    api, rx = live
    tpl = {**BITRIX, "url": rx.url("/rest/telephony.externalcall.register.json?call={{ call_id|urlencode }}")}
    hook = _hook(api, url=rx.url("/rest"), dialect="template", events=["call.new"], template=tpl)
    assert hook["template"]["body"] == BITRIX["body"]
    assert hook["method"] == "POST"
    party = CallParty(caller_num="+79161234567", called_num="+74957654321", direction=Direction.INCOMING)
    api.accept(ev(EventType.CALL_NEW, "1700.5", party=party))
    [hit] = _wait(api, rx, 1)
    assert hit.method == "POST"
    assert hit.path_qs == "/rest/telephony.externalcall.register.json?call=1700.5"
    assert hit.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(hit.body.decode(), keep_blank_values=True)
    assert form["PHONE_NUMBER"] == ["+79161234567"]
    assert form["LINE_NUMBER"] == ["+74957654321"]
    assert form["TYPE"] == ["2"]
    assert form["USER_PHONE_INNER"] == [""]  # call.new has no leg: its fields are empty
    assert form["CALL_START_DATE"][0].startswith("2024-05-06T09:00:00")


def test_template_validation_names_the_part(mapi: Api) -> None:
    def create(**tpl: Any) -> Any:
        return mapi.post(
            "/api/v1/webhooks", json={"url": "https://crm.example/h", "dialect": "template", "template": tpl}
        )

    cases = [
        ({"body": "{{ party.caller_num "}, "template.body", "syntax error"),
        ({"body": "{{ caller }}"}, "template.body", "unknown field caller"),
        ({"body": "{{ party.caller }}"}, "template.body", "no attribute 'caller'"),
        ({"url": "{{ id }} x"}, "template.url", "did not render an http(s) URL"),
        ({"method": "{{ 'BREW' }}"}, "template.method", "did not render one of"),
        ({"headers": {"X-A": "{% for %}"}}, "template.headers.X-A", "syntax error"),
        ({"body": "{{ ''.__class__.__mro__ }}"}, "template.body", "unsafe"),
        # bounded work (rendering runs on the event loop)
        (
            {
                "body": "{% for a in range(2) %}{% for b in range(2) %}{% for c in range(2) %}{% endfor %}"
                "{% endfor %}{% endfor %}"
            },
            "template.body",
            "nest more than 2",
        ),
        ({"body": "{{ range(5000)|list }}"}, "template.body", "more than 1000 items"),
        (
            {"body": "{% for a in range(1000) %}{% for b in range(1000) %}xx{% endfor %}{% endfor %}"},
            "template.body",
            "longer than",
        ),
    ]
    for tpl, where, msg in cases:
        r = create(**tpl)
        assert r.status_code == 422, tpl
        detail = r.json()["detail"][0]
        assert ".".join(str(x) for x in detail["loc"][1:]).startswith(where), (tpl, detail)
        assert msg in detail["msg"], (tpl, detail)
    r = mapi.post("/api/v1/webhooks", json={"url": "https://crm.example/h", "dialect": "template"})
    assert r.status_code == 422
    assert "needs a template" in r.text
    r = mapi.post(
        "/api/v1/webhooks", json={"url": "https://crm.example/h", "dialect": "voipex", "template": {"body": "x"}}
    )
    assert r.status_code == 422
    assert "only the template dialect" in r.text
    ok = create(body="{{ event|tojson }}")
    assert ok.status_code == 201
    hook = ok.json()["id"]
    r = mapi.patch(f"/api/v1/webhooks/{hook}", json={"template": {"body": "{{ nope }}"}})
    assert r.status_code == 422
    assert mapi.get(f"/api/v1/webhooks/{hook}").json()["template"]["body"] == "{{ event|tojson }}"


def test_preview_against_a_recorded_event_and_the_sample(api: Api) -> None:
    events = ended_call("c9", "+79161234567", "+74957654321", answered=True)
    api.accept(*events)
    record = events[-1]
    hubspot = {  # an example, shaped like a HubSpot-style JSON call engagement
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer {{ tenant }}"},
        "body": '{"properties": {"hs_call_from_number": {{ party.caller_num|tojson }}, '
        '"hs_call_to_number": {{ party.called_num|tojson }}, "hs_call_duration": {{ record.duration * 1000 }}, '
        '"hs_call_status": {{ ("COMPLETED" if outcome.answered else "NO_ANSWER")|tojson }}}}',
    }
    r = api.post(
        "/api/v1/webhooks/preview",
        json={"template": hubspot, "event_id": record.id, "masking": {"fields": ["caller"], "keep": 2}},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["event_id"], out["event_type"], out["sample"]) == (record.id, "call.record", False)
    body = json.loads(out["body"])["properties"]
    assert body == {
        "hs_call_from_number": "+*********67",
        "hs_call_to_number": "+74957654321",
        "hs_call_duration": 60000,
        "hs_call_status": "COMPLETED",
    }
    assert dict(out["headers"])["Authorization"] == "[redacted]"
    sample = api.post("/api/v1/webhooks/preview", json={"template": {"body": "{{ type }} {{ leg.number }}"}}).json()
    assert (sample["sample"], sample["body"]) == (True, "call.ended 101")
    assert api.post("/api/v1/webhooks/preview", json={"template": {}, "event_id": "01" + "Z" * 24}).status_code == 404
    assert api.post("/api/v1/webhooks/preview", json={"template": {"body": "{{ x }}"}}).status_code == 422
    # a stored webhook of any dialect: what it would get, masking applied, nothing sent
    hook = _hook(api, url="https://crm.example/v", dialect="voipex", masking={"fields": ["both"], "keep": 3})["id"]
    r = api.post(f"/api/v1/webhooks/{hook}/preview", json={"event_id": events[0].id})
    assert r.status_code == 200, r.text
    assert "9161234567" not in r.json()["body"]
    assert "567" in r.json()["body"]
    assert api.post(f"/api/v1/webhooks/{hook}/preview", TOKEN_B, json={}).status_code == 404
    assert api.get("/api/v1/deliveries", params={"subscription_id": hook}).json()["items"] == []
