"""One-time sign-in links asked of a running hub (``POST /api/v1/dashboard-links``), the
short ``/s/CODE`` form, and the page of a used or expired link."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

from test_api_support import ADMIN, TOKEN_A, Api, mapi  # noqa: F401


def test_a_fresh_link_for_the_tokens_principal(mapi: Api) -> None:
    r = mapi.post("/api/v1/dashboard-links", json={"name": "Petra"})
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["expires_in"] == 300
    assert link["tenant"] is None
    assert link["path"].startswith("/s/")
    assert len(link["path"]) == len("/s/") + 16
    assert ADMIN not in link["path"]
    assert mapi.client.get(link["path"], follow_redirects=False).status_code == 303
    s = mapi.client.get("/dashboard/api/session").json()
    assert (s["admin"], s["name"]) == (True, "Petra")
    mapi.client.cookies.clear()
    mine = mapi.post("/api/v1/dashboard-links", TOKEN_A, json={}).json()
    assert mine["tenant"] == "acme"
    assert mapi.post("/api/v1/dashboard-links", TOKEN_A, json={"tenant": "globex"}).status_code == 403
    assert mapi.post("/api/v1/dashboard-links", ADMIN, json={"tenant": "globex"}).json()["tenant"] == "globex"
    assert mapi.client.post("/api/v1/dashboard-links", json={}).status_code == 401
    assert mapi.post("/api/v1/dashboard-links", json={"name": "x" * 129}).status_code == 422


def test_a_used_link_says_what_to_do(mapi: Api) -> None:
    path = mapi.post("/api/v1/dashboard-links", json={}).json()["path"]
    assert mapi.client.get(path, follow_redirects=False).status_code == 303
    mapi.client.cookies.clear()
    gone = mapi.client.get(path, follow_redirects=False)
    assert gone.status_code == 400
    assert "set-cookie" not in gone.headers
    page = gone.text
    assert "This sign-in link no longer works" in page
    assert "callhook dashboard-link" in page
    assert 'href="/dashboard/static/dashboard.css?v=' in page  # styled like the dashboard
    assert 'href="/">Sign in with a token' in page
    assert gone.headers["content-security-policy"].startswith("default-src 'self'")
    assert mapi.client.get("/s/" + "x" * 129).status_code == 422
