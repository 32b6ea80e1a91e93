"""Authentication: who may read the dashboard, login sessions, CSRF, throttling — on the app and on a real
uvicorn bound to 127.0.0.1."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from honeyscope.config import ConfigError
from honeyscope.web import WebSettings, access_policy, create_app, hash_token
from honeyscope.web.auth import MAX_FAILURES, safe_next
from honeyscope.web.settings import TOKEN_ENV, verify_token

TOKEN = "correct-horse-battery-staple-42"


@pytest.fixture(scope="module")
def token_hash() -> str:
    return hash_token(TOKEN)


@pytest.fixture
def exposed(campaign, token_hash) -> TestClient:
    """The app as bound to every address, with a token configured (a fresh app: sessions, throttling)."""
    policy = access_policy(WebSettings(bind="0.0.0.0:8443", token_hash=token_hash), environ={})
    return TestClient(create_app(campaign.store, WebSettings(), policy=policy), base_url="https://dashboard.example")


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "form without a CSRF field"
    return match.group(1)


def login(client: TestClient, token: str = TOKEN):
    form = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf_of(form.text), "token": token, "next": "/live"},
                       follow_redirects=False)


def test_a_non_loopback_bind_without_a_token_refuses_to_start():
    for bind in ("0.0.0.0:8000", "192.0.2.10:8000", "[::]:8000", "dashboard.example:443"):
        with pytest.raises(ConfigError, match="is not a loopback address, so the dashboard needs an access token"):
            access_policy(WebSettings(bind=bind), environ={})


def test_loopback_is_open_by_default_and_closes_when_asked_or_when_a_token_exists(token_hash):
    assert access_policy(WebSettings(), environ={}).open
    assert access_policy(WebSettings(bind="[::1]:8000"), environ={}).open
    with pytest.raises(ConfigError, match="allow_open_loopback is false"):
        access_policy(WebSettings(allow_open_loopback=False), environ={})
    assert not access_policy(WebSettings(token_hash=token_hash), environ={}).open
    from_env = access_policy(WebSettings(bind="0.0.0.0:1"), environ={TOKEN_ENV: TOKEN})
    assert from_env.token_hash is not None and TOKEN not in from_env.token_hash
    assert verify_token(TOKEN, from_env.token_hash) and not verify_token(TOKEN + "x", from_env.token_hash)


def test_token_configuration_mistakes_are_one_clear_line(tmp_path: Path):
    with pytest.raises(ConfigError, match="shorter than 16 characters"):
        access_policy(WebSettings(), environ={TOKEN_ENV: "short"})
    with pytest.raises(ConfigError, match="not a token hash made by 'honeyscope web --hash-token'"):
        access_policy(WebSettings(token_hash="hunter2"), environ={})
    with pytest.raises(ConfigError, match="cannot read the token hash"):
        access_policy(WebSettings(token_hash_file=str(tmp_path / "missing")), environ={})
    hash_file = tmp_path / "token.hash"
    hash_file.write_text(hash_token(TOKEN) + "\n")
    assert not access_policy(WebSettings(bind="0.0.0.0:1", token_hash_file=str(hash_file)), environ={}).open
    with pytest.raises(ConfigError, match=r"tls_certificate and web\.tls_key go together"):
        access_policy(WebSettings(tls_key="key.pem"), environ={})


def test_requests_without_credentials_to_an_exposed_dashboard_are_refused(exposed: TestClient):
    for path in ("/api/overview", "/api/events", "/api/openapi.json", "/export/events.csv", "/taxii2/"):
        response = exposed.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
    page = exposed.get("/sessions?source=1.2.3.4", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fsessions%3Fsource%3D1.2.3.4"
    assert exposed.get("/static/app.css").status_code == 200  # the login page's own assets


def test_bearer_and_basic_tokens_open_the_api(exposed: TestClient):
    assert exposed.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    basic = base64.b64encode(f"taxii:{TOKEN}".encode()).decode()
    assert exposed.get("/api/live", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    wrong = exposed.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized"


def test_login_sets_a_strict_http_only_secure_session_cookie_and_logout_ends_it(exposed: TestClient):
    response = login(exposed)
    assert response.status_code == 303 and response.headers["location"] == "/live"
    cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("hs_session="))
    assert {"HttpOnly", "SameSite=Strict", "Secure", "Path=/"} <= {part.strip() for part in cookie.split(";")}
    exposed.cookies.set("hs_session", cookie.split(";")[0].split("=", 1)[1])
    page = exposed.get("/")
    assert page.status_code == 200 and "Log out" in page.text
    assert exposed.get("/api/overview").status_code == 200
    out = exposed.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert exposed.get("/api/overview").status_code == 401  # the server forgot the session, not just the browser


def test_wrong_tokens_are_refused_and_then_throttled(exposed: TestClient):
    for _ in range(MAX_FAILURES):
        assert login(exposed, "wrong-token-wrong-token").status_code == 401
    assert login(exposed).status_code == 429
    assert exposed.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429


def test_forms_and_unsafe_requests_without_the_csrf_token_are_refused(exposed: TestClient):
    exposed.get("/login")  # the CSRF cookie
    forged = exposed.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
    assert forged.status_code == 403 and "hs_session" not in str(forged.headers.get_list("set-cookie"))
    wrong = exposed.post("/login", data={"token": TOKEN, "csrf_token": "x" * 32}, follow_redirects=False)
    assert wrong.status_code == 403
    assert login(exposed).status_code == 303
    session = [c for c in exposed.cookies.jar if c.name == "hs_session"]
    assert session
    no_header = exposed.post("/api/overview")
    assert no_header.status_code == 403 and no_header.json()["error"] == "csrf"
    assert exposed.post("/logout", data={}, follow_redirects=False).status_code == 403
    with_header = exposed.post("/api/overview", headers={"X-CSRF-Token": exposed.cookies["hs_csrf"]})
    assert with_header.status_code == 405  # past the CSRF check: the API simply has no POST
    bearer = TestClient(exposed.app, base_url="https://dashboard.example")
    assert bearer.post("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405


def test_the_open_loopback_dashboard_answers_only_loopback_host_names(open_app):
    assert TestClient(open_app, base_url="http://localhost:8000").get("/api/overview").status_code == 200
    rebinding = TestClient(open_app, base_url="http://attacker.example").get("/api/overview")
    assert rebinding.status_code == 421


def test_login_redirects_only_to_paths_on_this_site():
    assert safe_next("/sessions?source=1.2.3.4") == "/sessions?source=1.2.3.4"
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "", None,
                   "/\r\nSet-Cookie: x"):
        assert safe_next(target) == "/"


def test_real_uvicorn_on_loopback_enforces_a_configured_token_and_serves_open_mode(campaign, serve, token_hash):
    guarded = create_app(campaign.store, WebSettings(token_hash=token_hash),
                         policy=access_policy(WebSettings(token_hash=token_hash), environ={}))
    with serve(guarded) as url, httpx.Client(base_url=url, timeout=10) as http:
        refused = http.get("/api/overview")
        assert refused.status_code == 401 and "server" not in refused.headers
        cookie = http.get("/login").headers["set-cookie"]
        assert cookie.startswith("hs_csrf=") and "Secure" not in cookie  # loopback without TLS: Secure would be lost
        ok = http.get("/api/overview", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["total"] == campaign.store.count()
    with serve(create_app(campaign.store, WebSettings(), policy=access_policy(WebSettings(), environ={}))) as url:
        assert httpx.get(url + "/api/overview", timeout=10).status_code == 200
