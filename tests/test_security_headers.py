"""Pages cannot be framed or load foreign scripts; the CSRF check refuses a forged form."""

from __future__ import annotations

from fastapi.testclient import TestClient

from rongbank.api.app import create_app
from rongbank.platform import Platform


def test_pages_carry_security_headers(platform: Platform) -> None:
    with TestClient(create_app(platform, background=False)) as client:
        response = client.get("/login")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_form_posted_without_the_csrf_token_is_refused(platform: Platform) -> None:
    with TestClient(create_app(platform, background=False)) as client:
        client.get("/login")  # sets the CSRF cookie
        response = client.post("/login", data={"login_name": "13900000001", "password": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
