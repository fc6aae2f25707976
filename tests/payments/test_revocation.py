"""A merchant's logins and API keys can be revoked, by its owner or by the bank's
staff: audited, and refused from the very next request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from rongbank.platform import Platform
from tests.accounts.test_endpoints import PASSWORD
from tests.payments.helpers import V1, Shop, client, shop

__all__ = ["client", "shop"]


def user_id(shop: Shop, role: str) -> int:
    users = shop.client.get(f"{V1}/merchant/users", headers=shop.owner)
    assert users.status_code == 200, users.text
    return int(next(u["user_id"] for u in users.json() if u["role"] == role))


def audited(platform: Platform, action: str) -> list[tuple[Any, ...]]:
    with platform.transaction() as session:
        rows = session.execute(
            text("SELECT actor_kind, target, details FROM audit_log WHERE action = :a"),
            {"a": action},
        ).all()
    return [tuple(r) for r in rows]


def staff(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.people.login('operations-1')}"}


def assert_login_refused_as_a_wrong_password(shop: Shop, login_name: str) -> None:
    """A revoked login cannot log in, with its password or any other, and is told no
    more than a wrong password is: nothing says the password was right."""
    answers = [
        shop.client.post(f"{V1}/sessions", json={"login_name": login_name, "password": password})
        for password in (PASSWORD, "Wrong-password-1")
    ]
    assert [a.status_code for a in answers] == [401, 401]
    right, wrong = (a.json()["error"] for a in answers)
    assert (right["code"], right["message"]) == (wrong["code"], wrong["message"])
    assert right["details"]["remaining_attempts"] == wrong["details"]["remaining_attempts"] + 1


class TestLogins:
    def test_the_owner_revokes_a_cashier_who_is_refused_at_once(
        self, shop: Shop, platform: Platform
    ) -> None:
        assert shop.client.get(f"{V1}/merchant/payments", headers=shop.cashier).status_code == 200
        cashier = user_id(shop, "cashier")
        revoked = shop.client.post(f"{V1}/merchant/users/{cashier}/revoke", headers=shop.owner)
        assert revoked.status_code == 200, revoked.text
        assert (revoked.json()["active"], revoked.json()["revoked_at"] is not None) == (False, True)
        refused = shop.client.get(f"{V1}/merchant/payments", headers=shop.cashier)
        assert refused.status_code == 401  # the session ended with the login
        assert refused.json()["error"]["code"] == "session_invalid"
        assert_login_refused_as_a_wrong_password(shop, "xiaoli")
        repeat = shop.client.post(f"{V1}/merchant/users/{cashier}/revoke", headers=shop.owner)
        assert repeat.json()["revoked_at"] == revoked.json()["revoked_at"]
        [(kind, target, details)] = audited(platform, "merchant.user.revoke")[:1]
        assert (kind, target, details["by"]) == ("merchant", str(cashier), "owner")

    def test_the_owner_cannot_revoke_their_own_login(self, shop: Shop) -> None:
        owner = user_id(shop, "owner")
        refused = shop.client.post(f"{V1}/merchant/users/{owner}/revoke", headers=shop.owner)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "own_login_not_revocable"
        assert shop.client.get(f"{V1}/merchant/payments", headers=shop.owner).status_code == 200

    def test_a_cashier_or_the_api_key_cannot_revoke(self, shop: Shop) -> None:
        owner = user_id(shop, "owner")
        for headers in (shop.cashier, shop.api):
            refused = shop.client.post(f"{V1}/merchant/users/{owner}/revoke", headers=headers)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "merchant_role_forbidden"

    def test_staff_revoke_a_merchants_login_with_a_reason(
        self, shop: Shop, platform: Platform
    ) -> None:
        cashier = user_id(shop, "cashier")
        listed = shop.client.get(f"{V1}/staff/merchants/{shop.id}/users", headers=staff(shop))
        assert {u["role"] for u in listed.json()} == {"owner", "cashier"}
        revoked = shop.client.post(
            f"{V1}/staff/merchants/{shop.id}/users/{cashier}/revoke",
            headers=staff(shop),
            json={"reason": "password shared"},
        )
        assert revoked.status_code == 200, revoked.text
        assert shop.client.get(f"{V1}/merchant/payments", headers=shop.cashier).status_code == 401
        assert_login_refused_as_a_wrong_password(shop, "xiaoli")
        [(kind, _, details)] = audited(platform, "merchant.user.revoke")
        assert (kind, details["reason"]) == ("staff", "password shared")
        elsewhere = shop.client.post(
            f"{V1}/staff/merchants/{shop.id + 1}/users/{cashier}/revoke",
            headers=staff(shop),
            json={},
        )
        assert elsewhere.status_code == 404
        assert elsewhere.json()["error"]["code"] == "merchant_user_not_found"


class TestApiKeys:
    def test_the_owner_revokes_a_key_which_is_refused_at_once(
        self, shop: Shop, platform: Platform
    ) -> None:
        made = shop.client.post(
            f"{V1}/merchant/api-keys", headers=shop.owner, json={"label": "old server"}
        )
        assert made.status_code == 201, made.text
        key = {"Authorization": f"Bearer {made.json()['secret']}"}
        assert shop.client.get(f"{V1}/merchant/payments", headers=key).status_code == 200
        revoked = shop.client.post(
            f"{V1}/merchant/api-keys/{made.json()['key_id']}/revoke", headers=shop.owner
        )
        assert revoked.status_code == 200, revoked.text
        refused = shop.client.get(f"{V1}/merchant/payments", headers=key)
        assert refused.status_code == 401
        assert shop.client.get(f"{V1}/merchant/payments", headers=shop.api).status_code == 200
        listed = shop.client.get(f"{V1}/merchant/api-keys", headers=shop.owner).json()
        assert [(k["label"], k["revoked_at"] is None) for k in listed] == [
            ("web", True),
            ("old server", False),
        ]
        assert "secret" not in listed[0]
        assert [t for _, t, _ in audited(platform, "merchant.api_key.revoke")] == [
            str(made.json()["key_id"])
        ]

    def test_staff_revoke_a_leaked_key(self, shop: Shop) -> None:
        [key] = shop.client.get(
            f"{V1}/staff/merchants/{shop.id}/api-keys", headers=staff(shop)
        ).json()
        revoked = shop.client.post(
            f"{V1}/staff/merchants/{shop.id}/api-keys/{key['key_id']}/revoke",
            headers=staff(shop),
            json={"reason": "posted on a forum"},
        )
        assert revoked.status_code == 200, revoked.text
        assert shop.client.get(f"{V1}/merchant/payments", headers=shop.api).status_code == 401
        by_owner = shop.client.post(
            f"{V1}/merchant/api-keys/{key['key_id'] + 100}/revoke", headers=shop.owner
        )
        assert by_owner.json()["error"]["code"] == "api_key_not_found"
