"""Tokens managed through the API and the audit log (issue 13), on the memory and SQLite stores;
the token and audit tables on PostgreSQL too."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from test_api_support import ADMIN, TOKEN_A, Api, api, mapi  # noqa: F401

from callhook.api.tokens import tokens_of
from callhook.store import open_store
from callhook.store.tokens import AuditEntry, TokenRecord, token_store


def _make(api: Api, **body: object) -> dict[str, object]:
    r = api.post("/api/v1/tokens", json={"name": "crm of globex", "tenant": "globex", **body})
    assert r.status_code == 201, r.text
    out: dict[str, object] = r.json()
    return out


def test_the_admin_makes_lists_and_revokes_tokens(api: Api) -> None:
    made = _make(api)
    token = str(made["token"])
    assert token.startswith("chk_")
    assert len(token) >= 40
    assert made["prefix"] == token[:8]
    assert made["active"] is True
    assert made["created_by"] == "admin"
    # shown once: the list and the store hold no value
    listed = api.get("/api/v1/tokens").json()
    assert [t["id"] for t in listed] == [made["id"]]
    assert "token" not in listed[0]
    assert token not in api.get("/api/v1/tokens").text
    stored = api.run(tokens_of(api.app).list_tokens())
    assert token not in repr(stored)
    # it works, as globex
    assert api.get("/api/v1/directory/extensions", token).status_code == 200
    assert [e["number"] for e in api.get("/api/v1/directory/extensions", token).json()] == ["30"]
    assert (
        api.post("/api/v1/webhooks", token, json={"url": "http://g.example/", "dialect": "callhook"}).json()["tenant"]
        == "globex"
    )
    # a tenant token (configured or made here) manages no tokens
    for t in (TOKEN_A, token):
        assert api.get("/api/v1/tokens", t).status_code == 403
        assert api.post("/api/v1/tokens", t, json={"name": "x", "tenant": "acme"}).status_code == 403
    # revoked: 401 at once; a second revoke is a no-op, an unknown id a 404
    assert api.delete(f"/api/v1/tokens/{made['id']}").status_code == 204
    assert api.get("/api/v1/webhooks", token).status_code == 401
    assert api.delete(f"/api/v1/tokens/{made['id']}").status_code == 204
    assert api.delete("/api/v1/tokens/tok_nope").status_code == 404
    assert api.get("/api/v1/tokens").json()[0]["active"] is False
    # the configured tokens kept working all along
    assert api.get("/api/v1/webhooks", TOKEN_A).status_code == 200


def test_a_read_only_token_reads_and_changes_nothing(mapi: Api) -> None:
    token = str(_make(mapi, tenant="acme", read_only=True)["token"])
    assert mapi.get("/api/v1/webhooks", token).status_code == 200
    assert mapi.get("/api/v1/directory", token).status_code == 200
    r = mapi.post("/api/v1/webhooks", token, json={"url": "http://a.example/", "dialect": "callhook"})
    assert r.status_code == 403
    assert "read-only" in r.text
    assert mapi.put("/api/v1/directory/extensions/20", token, json={"number": "20", "name": "x"}).status_code == 403
    assert mapi.get("/dial?exten=20&number=123", token).status_code == 403  # the vendor's GET acts too
    assert mapi.get("/hangup?exten=20", token).status_code == 403
    assert mapi.hub.pbxes[0].ami.actions == []
    assert mapi.get("/api/v1/webhooks").json() == []


def test_an_expired_token_stops_working(mapi: Api) -> None:
    soon = datetime.fromtimestamp(mapi.hub.now(), UTC) + timedelta(seconds=60)
    made = _make(mapi, expires_at=soon.isoformat())
    token = str(made["token"])
    assert mapi.get("/api/v1/webhooks", token).status_code == 200
    mapi.hub.clock.t += 61
    assert mapi.get("/api/v1/webhooks", token).status_code == 401
    assert mapi.get("/api/v1/tokens").json()[0]["active"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "tenant": "a"}, "name"),
        ({"name": "x", "tenant": ""}, "tenant"),
        ({"name": "x", "tenant": "a b"}, "tenant"),
        ({"name": "x", "tenant": "a", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "tenant": "a", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),  # no time zone
        ({"name": "x", "tenant": "a", "scope": "all"}, "scope"),
    ],
)
def test_bad_token_requests(mapi: Api, body: dict[str, str], field: str) -> None:
    r = mapi.post("/api/v1/tokens", json=body)
    assert r.status_code == 422, r.text
    assert any(field in [str(x) for x in d["loc"]] for d in r.json()["detail"])
    assert mapi.get("/api/v1/tokens").json() == []


def test_the_audit_log_says_who_changed_what_when(api: Api) -> None:
    made = _make(api, tenant="acme", name="acme CRM")
    token = str(made["token"])
    api.post(
        "/api/v1/webhooks",
        token,
        json={"url": "http://a.example/", "dialect": "callhook", "auth": {"username": "u", "password": "audit-pw-77"}},
    )
    api.put(
        "/api/v1/directory/extensions/20",
        TOKEN_A,
        json={"number": "20", "name": "Jana N.", "login": "jana", "channel": "PJSIP/20"},
    )
    api.post("/api/v1/directory/extensions", TOKEN_A, json={"number": "29"})  # refused: recorded as refused
    api.get("/api/v1/webhooks", TOKEN_A)  # a read: not a change
    api.get("/dial?exten=20&number=123", TOKEN_A)  # the actions' GET spelling acts: recorded
    log = api.get("/api/v1/audit").json()
    rows = [(e["actor"], e["tenant"], e["action"], e["target"], e["status"]) for e in reversed(log)]
    assert rows == [
        ("admin", "", "POST /api/v1/tokens", "", 201),
        (f"token {made['id']} (acme CRM)", "acme", "POST /api/v1/webhooks", "", 201),
        ("tenant acme (configured token)", "acme", "PUT /api/v1/directory/extensions/{number}", "number=20", 200),
        ("tenant acme (configured token)", "acme", "POST /api/v1/directory/extensions", "", 403),
        ("tenant acme (configured token)", "acme", "GET /dial", "", 200),
    ]
    assert all(abs(datetime.fromisoformat(e["at"]).timestamp() - api.hub.now()) < 1 for e in log)
    assert "audit-pw-77" not in api.get("/api/v1/audit").text
    assert token not in api.get("/api/v1/audit").text
    # a tenant reads its own tenant's entries only, whatever it asks for
    assert {e["tenant"] for e in api.get("/api/v1/audit", TOKEN_A, params={"tenant": ""}).json()} == {"acme"}
    assert api.get("/api/v1/audit", params={"tenant": "globex"}).json() == []
    newest = log[0]["id"]
    assert [e["id"] for e in api.get("/api/v1/audit", params={"before": newest, "limit": 1}).json()] == [newest - 1]


@pytest.mark.postgres
def test_token_and_audit_tables_on_postgresql(pg_db_url: str) -> None:
    async def body() -> None:
        store = open_store(pg_db_url)
        await store.open()
        try:
            t = token_store(store)
            rec = TokenRecord("tok_1", "n", "acme", True, "h" * 64, "chk_abcd", 10.0, "admin", 99.0)
            await t.add_token(rec)
            assert await t.list_tokens() == [rec]
            assert await t.revoke_token("tok_1", 20.0) is True
            assert await t.revoke_token("tok_1", 21.0) is False
            assert (await t.list_tokens())[0].revoked_at == 20.0
            for i in range(3):
                await t.add_audit(AuditEntry(float(i), "admin", "acme" if i else "", f"POST /x{i}", "", 201))
            got = await t.list_audit(tenant=None, before=None, limit=10)
            assert [e.action for e in got] == ["POST /x2", "POST /x1", "POST /x0"]
            assert [e.action for e in await t.list_audit(tenant="acme", before=got[0].id, limit=10)] == ["POST /x1"]
        finally:
            await store.close()

    asyncio.run(body())


def test_a_dashboard_session_lives_only_as_long_as_its_token(mapi: Api) -> None:
    token = str(_make(mapi, tenant="acme", name="desk")["token"])
    c = mapi.client
    r = c.post("/dashboard/api/signin", json={"token": token, "name": "Jana"})
    assert r.status_code == 200, r.text
    assert r.json()["admin"] is False
    csrf = {"X-Callhook-CSRF": r.json()["csrf"]}
    assert c.get("/api/v1/calls/live", headers=csrf).status_code == 200
    tid = mapi.get("/api/v1/tokens").json()[0]["id"]
    assert mapi.delete(f"/api/v1/tokens/{tid}").status_code == 204
    assert c.get("/api/v1/calls/live", headers=csrf).status_code == 401
    assert c.post("/dashboard/api/signin", json={"token": token}).status_code == 401
