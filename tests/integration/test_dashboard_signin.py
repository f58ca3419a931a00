"""The dashboard's pages and browser sessions: sign-in with a token, the cookie, CSRF,
sign-out, the one-time sign-in link, and the strict Content-Security-Policy."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from test_api_support import ADMIN, T0, TOKEN_A, Api, ended_call, mapi  # noqa: F401

from callhook.api.sessions import SessionBook
from callhook.dashboard import issue_link
from callhook.dashboard.routes import ASSETS
from callhook.store import open_store
from callhook.store.sessions import session_store


def _signin(api: Api, token: str, name: str = "") -> dict[str, Any]:
    r = api.client.post("/dashboard/api/signin", json={"token": token, "name": name})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_pages_and_assets_are_served_with_a_strict_policy(mapi: Api) -> None:
    for path in ("/", "/dashboard/", "/dashboard"):
        r = mapi.client.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert 'id="signin-form"' in r.text
        assert "<script>" not in r.text  # no inline script
        assert " on" + "click=" not in r.text
        assert "style=" not in r.text
    assert {"js/main.js", "js/live.js", "js/trace.js", "dashboard.css"} <= set(ASSETS)
    js = mapi.client.get("/dashboard/static/js/main.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert (
        mapi.client.get("/dashboard/static/js/main.js", headers={"If-None-Match": js.headers["etag"]}).status_code
        == 304
    )
    assert mapi.client.get("/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert mapi.client.get("/dashboard/static/../routes.py").status_code == 404
    assert mapi.client.get("/dashboard/static/nothing.js").status_code == 404
    for name, (data, _, _) in ASSETS.items():  # nothing is fetched from elsewhere at run time
        text = data.replace(b"http://www.w3.org/2000/svg", b"")  # the SVG name space, not a fetch
        assert b"://" not in text, name


def test_token_for_a_session_cookie_with_csrf(mapi: Api) -> None:
    c = mapi.client
    assert c.post("/dashboard/api/signin", json={"token": "wrong-token-wrong"}).status_code == 401
    assert c.get("/dashboard/api/session").json() == {"signed_in": False}
    r = c.post("/dashboard/api/signin", json={"token": ADMIN, "name": "Jana"})
    cookie = r.headers["set-cookie"]
    assert "callhook_session=" in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert "max-age" not in cookie.lower()
    assert "expires" not in cookie.lower()
    assert ADMIN not in cookie
    assert ADMIN not in r.text
    csrf = r.json()["csrf"]
    assert r.json()["admin"] is True
    assert c.get("/dashboard/api/session").json()["csrf"] == csrf
    assert c.get("/api/v1/calls/live").status_code == 403  # the cookie alone is not enough
    assert c.get("/api/v1/calls/live", headers={"X-Callhook-CSRF": "nope"}).status_code == 403
    assert c.get("/api/v1/calls/live", headers={"X-Callhook-CSRF": csrf}).status_code == 200
    assert c.get("/api/v1/calls/live", params={"csrf": csrf}).status_code == 200  # EventSource, download links
    made = c.post("/api/v1/missed-calls/604198497/done", params={"csrf": csrf})
    assert made.status_code == 403  # a state change needs the header
    made = c.post("/api/v1/missed-calls/604198497/done", headers={"X-Callhook-CSRF": csrf})
    assert made.status_code == 200
    assert made.json()["by"] == "Jana"
    assert c.post("/dashboard/api/signout").status_code == 403  # without CSRF
    assert c.post("/dashboard/api/signout", headers={"X-Callhook-CSRF": csrf}).status_code == 200
    assert c.get("/api/v1/calls/live", headers={"X-Callhook-CSRF": csrf}).status_code == 401
    assert c.get("/dashboard/api/session").json() == {"signed_in": False}


def test_a_tenant_session_sees_its_tenant_only(mapi: Api) -> None:
    mapi.accept(*ended_call("a1", "777000111", "222333444", answered=True, tenant="acme"))
    mapi.accept(*ended_call("g1", "777000222", "222333445", answered=True, tenant="globex"))
    s = _signin(mapi, TOKEN_A)
    assert (s["tenant"], s["admin"]) == ("acme", False)
    items = mapi.client.get(
        "/api/v1/calls", headers={"X-Callhook-CSRF": s["csrf"]}, params={"since": "2024-05-06T00:00:00Z"}
    ).json()["items"]
    assert [c["call_id"] for c in items] == ["a1"]
    assert mapi.client.get("/api/v1/calls/g1", headers={"X-Callhook-CSRF": s["csrf"]}).status_code == 404


def test_a_bearer_token_still_wins_over_a_cookie(mapi: Api) -> None:
    _signin(mapi, ADMIN)
    assert mapi.get("/api/v1/calls/live", TOKEN_A).status_code == 200
    assert mapi.client.get("/api/v1/calls/live", headers={"Authorization": "Bearer bad-token"}).status_code == 401


def test_one_time_link(mapi: Api) -> None:
    link = mapi.run(issue_link(mapi.hub, "http://testserver/"))
    assert link.startswith("http://testserver/s/")
    assert len(link) - len("http://testserver/s/") == 16
    assert ADMIN not in link
    path = link.removeprefix("http://testserver")
    r = mapi.client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    assert "callhook_session=" in r.headers["set-cookie"]
    s = mapi.client.get("/dashboard/api/session").json()
    assert s["signed_in"] is True
    assert s["admin"] is True
    mapi.client.cookies.clear()
    again = mapi.client.get(path, follow_redirects=False)
    assert again.status_code == 400  # single use
    assert "set-cookie" not in again.headers
    assert mapi.client.get("/dashboard/signin?code=made-up", follow_redirects=False).status_code == 400
    tenant_link = mapi.run(issue_link(mapi.hub, "http://testserver", tenant="acme"))
    mapi.client.get(tenant_link.removeprefix("http://testserver"), follow_redirects=False)
    assert mapi.client.get("/dashboard/api/session").json()["tenant"] == "acme"


def test_codes_and_sessions_expire(store_url: str) -> None:
    """On each backend: expiry by idle time and lifetime, single use, the size bound, revocation."""
    from callhook.api.auth import Principal

    async def main() -> None:
        store = open_store(store_url)
        await store.open()
        try:
            now = [1000.0]
            book = SessionBook(session_store(store), idle=60, lifetime=300, code_ttl=30, clock=lambda: now[0])
            code = await book.issue_code(Principal(None))
            assert await book.code_valid(code)
            now[0] += 31
            assert not await book.code_valid(code)
            assert await book.redeem(code) is None
            code = await book.issue_code(Principal("acme"), "Jana")
            sid, s = await book.open(Principal("acme", token_id="tok_1", actor="token tok_1 (desk)"), "Jana")
            now[0] += 59
            assert await book.get(sid) == s
            now[0] += 59
            assert await book.get(sid) is not None  # used: the idle clock starts again
            now[0] += 61
            assert await book.get(sid) is None
            sid, _ = await book.open(Principal(None))
            for _ in range(6):
                now[0] += 50
                assert await book.get(sid) is not None or now[0] - 1000 > 300
            now[0] += 100
            assert await book.get(sid) is None  # past the lifetime, however busy
            small = SessionBook(session_store(store), max_sessions=2, clock=lambda: now[0])
            first, _ = await small.open(Principal(None))
            now[0] += 1
            second, _ = await small.open(Principal(None))
            now[0] += 1
            third, got = await small.open(Principal("acme", token_id="tok_2"))
            assert await small.get(first) is None
            assert await small.get(second) is not None
            assert (await small.get(third)) == got
            assert got.principal.token_id == "tok_2"
            assert await small.end_token("tok_2") == 1
            assert await small.get(third) is None
            assert await small.get(second) is not None
            assert await small.close(second)
            assert not await small.close(second)
            assert await small.get("") is None
        finally:
            await store.close()

    asyncio.run(main())


def test_missed_call_marks(mapi: Api) -> None:
    s = _signin(mapi, TOKEN_A, "Petr")
    h = {"X-Callhook-CSRF": s["csrf"]}
    mapi.accept(*ended_call("m1", "604198497", "222333444", answered=False))
    mapi.accept(*ended_call("m2", "777000111", "222333444", answered=False, at=timedelta(minutes=1)))
    rng = {"since": "2024-05-06T00:00:00Z", "until": "2024-05-07T00:00:00Z"}
    listed = mapi.client.get("/api/v1/missed-calls", headers=h, params=rng).json()
    assert [m["number"] for m in listed["numbers"]] == ["777000111", "604198497"]
    done = mapi.client.post("/api/v1/missed-calls/777000111/done", headers=h, json={"tenant": "acme"})
    assert done.status_code == 200
    assert (done.json()["by"], done.json()["tenant"]) == ("Petr", "acme")
    assert (
        mapi.client.post("/api/v1/missed-calls/777000111/done", headers=h, json={"tenant": "globex"}).status_code == 403
    )
    assert mapi.client.post("/api/v1/missed-calls/bad%20number/done", headers=h).status_code == 422
    now = {"since": "2024-05-06T00:00:00Z", "until": mapi.hub.now() + 3600}
    listed = mapi.client.get("/api/v1/missed-calls", headers=h, params=now).json()
    assert [m["number"] for m in listed["numbers"]] == ["604198497"]
    assert [(d["number"], d["by"]) for d in listed["done"]] == [("777000111", "Petr")]
    # a later missed call brings the number back, counting only the calls after the mark
    mapi.hub.clock.t += 10
    later = mapi.hub.now_dt() - T0 + timedelta(seconds=1)  # marks carry the hub's clock; this call comes after
    mapi.accept(*ended_call("m3", "777000111", "222333444", answered=False, at=later, duration=1))
    listed = mapi.client.get("/api/v1/missed-calls", headers=h, params={**now, "until": mapi.hub.now() + 3600}).json()
    assert next((m["number"], m["count"], m["call_ids"]) for m in listed["numbers"]) == ("777000111", 1, ["m3"])
    admin = mapi.get("/api/v1/missed-calls", params=now).json()
    assert {d["number"] for d in admin["done"]} == {"777000111"}
