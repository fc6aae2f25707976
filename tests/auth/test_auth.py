"""Passwords, logins with lockout, and sessions, against real PostgreSQL.

Each test runs in the rolled-back ``session``; the tests of the boundary pattern
use ``unit_of_work`` over the same rolled-back connection instead.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from rongbank.auth.errors import (
    AccountLocked,
    LoginFailed,
    LoginNameInvalid,
    SessionExpired,
    SessionInvalid,
    UsernameTaken,
    WeakPassword,
)
from rongbank.auth.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from rongbank.auth.repository import LoginHistory
from rongbank.auth.service import AuthService, NewSession, Principal, PrincipalKind
from rongbank.clock import FrozenClock
from rongbank.db import unit_of_work
from rongbank.pii import for_this_process
from tests.conftest import session_factory_on

MOBILE = "13812345678"
RESIDENT_ID = "11010519491231002X"
PASSWORD = "Correct-horse-9"
WRONG = "Wrong-horse-9"
ALICE = 1001
BOB = 1002


@pytest.fixture
def auth(clock: FrozenClock) -> AuthService:
    return AuthService(clock)


@pytest.fixture
def alice(session: Session, auth: AuthService) -> str:
    """A customer whose login name is her mobile number; returns the login name."""
    auth.set_password(
        session,
        kind=PrincipalKind.CUSTOMER,
        principal_id=ALICE,
        username=MOBILE,
        password=PASSWORD,
        personal=[MOBILE, RESIDENT_ID],
    )
    return MOBILE


def log_in(session: Session, auth: AuthService, username: str, password: str) -> NewSession:
    return auth.login(session, username=username, password=password).unwrap()


def refusal(
    session: Session, auth: AuthService, username: str, password: str
) -> LoginFailed | AccountLocked:
    result = auth.login(session, username=username, password=password)
    assert result.new_session is None
    assert result.error is not None
    return result.error


def wide_failures(session: Session, username: str) -> int:
    """Wrong passwords for a login name since it last logged in, from anywhere."""
    failures = session.execute(
        text("SELECT failures FROM auth_login_name WHERE name_hash = :h"),
        # The name as stored: keyed (``AuthService.stored_name``, this process's key).
        {"h": hashlib.sha256(for_this_process().login_name(username).encode()).digest()},
    ).scalar_one_or_none()
    return failures or 0


def attempt(
    session: Session, auth: AuthService, password: str, ip: str, username: str = MOBILE
) -> NewSession | LoginFailed | AccountLocked:
    result = auth.login(session, username=username, password=password, ip=ip)
    outcome = result.new_session or result.error
    assert outcome is not None
    return outcome


@pytest.mark.rfc_9106_hashing
class TestPasswordHashing:
    def test_a_hash_verifies_its_password_only(self) -> None:
        hashed = hash_password(PASSWORD)
        assert verify_password(PASSWORD, password_hash=hashed)
        assert not verify_password(WRONG, password_hash=hashed)

    def test_hashes_are_argon2id_with_the_rfc_9106_parameters(self) -> None:
        assert hash_password(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")

    def test_each_hash_has_its_own_salt(self) -> None:
        assert hash_password(PASSWORD) != hash_password(PASSWORD)

    def test_a_malformed_hash_verifies_nothing_and_does_not_raise(self) -> None:
        assert not verify_password(PASSWORD, password_hash="not a hash")

    def test_hashes_with_weaker_parameters_need_a_rehash(self) -> None:
        weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        assert needs_rehash(weak)
        assert not needs_rehash(hash_password(PASSWORD))


class TestPasswordPolicy:
    @pytest.mark.parametrize("password", ["Ab1!", "a1" * 64 + "x"])
    def test_refuses_a_password_shorter_than_8_or_longer_than_128(self, password: str) -> None:
        with pytest.raises(WeakPassword, match="8 to 128 characters") as refused:
            check_password_policy(password, personal=[])
        assert refused.value.details == {"rule": "length"}
        assert refused.value.status == 422
        assert refused.value.code == "weak_password"

    @pytest.mark.parametrize(
        "password", ["abcdefghij", "1234567890", "!@#$%^&*()", "密码密码密码密码"]
    )
    def test_refuses_a_single_kind_of_character(self, password: str) -> None:
        with pytest.raises(WeakPassword, match="two of: letters, digits, symbols"):
            check_password_policy(password, personal=[])

    @pytest.mark.parametrize(
        "password", ["abcdefg1", "abcdefg!", "9876543!", "correct horse battery 7", "工行密码2026"]
    )
    def test_accepts_two_kinds_of_character(self, password: str) -> None:
        check_password_policy(password, personal=[MOBILE, RESIDENT_ID])

    @pytest.mark.parametrize(
        "password",
        [
            f"pw{MOBILE}",
            "Hello345678",  # the mobile number's last six digits
            "ｐｗ１２３４５６",  # full-width, as a Chinese input method types it
            "pw-138-1234",  # separators do not hide a run of the number
            "born19491231!",  # the birth date inside the ID number
            "pw31002x",  # the ID number's last six, whatever the case of X
        ],
    )
    def test_refuses_a_part_of_the_mobile_or_id_number(self, password: str) -> None:
        with pytest.raises(WeakPassword, match="mobile number, ID number") as refused:
            check_password_policy(password, personal=[MOBILE, RESIDENT_ID])
        assert refused.value.details == {"rule": "personal"}

    def test_personal_values_are_a_list_not_one_string(self) -> None:
        with pytest.raises(TypeError):
            check_password_policy(PASSWORD, personal=MOBILE)

    def test_the_error_never_carries_the_password(self) -> None:
        with pytest.raises(WeakPassword) as refused:
            check_password_policy(f"pw{MOBILE}", personal=[MOBILE])
        assert MOBILE not in str(refused.value.to_dict())


class TestSetPassword:
    def test_the_login_name_is_part_of_the_personal_values(
        self, session: Session, auth: AuthService
    ) -> None:
        with pytest.raises(WeakPassword):
            auth.set_password(
                session,
                kind=PrincipalKind.STAFF,
                principal_id=7,
                username="zhangwei",
                password="Zhangwei-1",
            )

    def test_login_names_are_normalised(self, session: Session, auth: AuthService) -> None:
        auth.set_password(
            session,
            kind=PrincipalKind.STAFF,
            principal_id=7,
            username="  Wang.Fang ",
            password=PASSWORD,
        )
        assert log_in(session, auth, "WANG.FANG", PASSWORD).principal.id == 7

    def test_a_mobile_number_typed_full_width_finds_the_login(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        assert log_in(session, auth, "１３８１２３４５６７８", PASSWORD).principal.id == ALICE

    def test_refuses_an_empty_login_name(self, session: Session, auth: AuthService) -> None:
        with pytest.raises(LoginNameInvalid):
            auth.set_password(
                session, kind=PrincipalKind.STAFF, principal_id=7, username="  ", password=PASSWORD
            )

    def test_refuses_a_login_name_of_another_principal(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        with pytest.raises(UsernameTaken) as refused:
            auth.set_password(
                session,
                kind=PrincipalKind.CUSTOMER,
                principal_id=BOB,
                username=alice,
                password="Another-pass-1",
            )
        assert refused.value.status == 409
        assert refused.value.code == "username_taken"

    def test_a_new_password_replaces_the_old_one(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        auth.set_password(
            session,
            kind=PrincipalKind.CUSTOMER,
            principal_id=ALICE,
            username=alice,
            password="Brand-new-pass-2",
        )
        assert isinstance(refusal(session, auth, alice, PASSWORD), LoginFailed)
        assert log_in(session, auth, alice, "Brand-new-pass-2").principal.id == ALICE

    def test_a_principal_can_change_its_login_name(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        auth.set_password(
            session,
            kind=PrincipalKind.CUSTOMER,
            principal_id=ALICE,
            username="alice.li",
            password=PASSWORD,
        )
        assert log_in(session, auth, "alice.li", PASSWORD).principal.id == ALICE
        assert isinstance(refusal(session, auth, alice, PASSWORD), LoginFailed)

    def test_a_new_password_ends_a_lockout(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        for _ in range(5):
            refusal(session, auth, alice, WRONG)
        auth.set_password(
            session,
            kind=PrincipalKind.CUSTOMER,
            principal_id=ALICE,
            username=alice,
            password="Brand-new-pass-2",
        )
        assert log_in(session, auth, alice, "Brand-new-pass-2").principal.id == ALICE


class TestLogin:
    def test_opens_a_session_for_the_right_password(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        new = log_in(session, auth, alice, PASSWORD)
        assert new.principal.kind is PrincipalKind.CUSTOMER
        assert new.principal.id == ALICE
        assert new.expires_at == clock.now() + timedelta(hours=12)
        assert len(new.token) >= 43  # 32 random bytes, base64url
        assert auth.authenticate(session, new.token) == new.principal

    def test_the_token_does_not_appear_in_the_repr(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        new = log_in(session, auth, alice, PASSWORD)
        assert new.token not in repr(new)

    def test_unknown_name_and_wrong_password_get_the_same_answer(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        wrong_password = refusal(session, auth, alice, WRONG)
        unknown_name = refusal(session, auth, "13900000000", PASSWORD)
        assert isinstance(wrong_password, LoginFailed)
        assert wrong_password.to_dict() == unknown_name.to_dict()
        assert wrong_password.to_dict() == {
            "code": "login_failed",
            "message": "The login name or password is wrong.",
            "details": {"remaining_attempts": 4, "lockout_seconds": 900},
        }
        assert wrong_password.status == unknown_name.status == 401

    def test_tells_how_many_attempts_remain_before_the_lock(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        remaining = [
            refusal(session, auth, alice, WRONG).details["remaining_attempts"] for _ in range(4)
        ]
        assert remaining == [4, 3, 2, 1]

    def test_the_fifth_failure_locks_the_login(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        for _ in range(4):
            refusal(session, auth, alice, WRONG)
        locked = refusal(session, auth, alice, WRONG)
        assert isinstance(locked, AccountLocked)
        assert (locked.code, locked.status) == ("login_locked", 403)
        assert locked.details == {"retry_after_seconds": 900}

    def test_while_locked_the_right_password_gets_the_same_refusal(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        for _ in range(5):
            refusal(session, auth, alice, WRONG)
        clock.advance(timedelta(minutes=5))
        right = refusal(session, auth, alice, PASSWORD)
        wrong = refusal(session, auth, alice, WRONG)
        assert isinstance(right, AccountLocked)
        assert right.to_dict() == wrong.to_dict()
        assert right.details == {"retry_after_seconds": 600}

    def test_the_lock_ends_after_the_lockout(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        for _ in range(5):
            refusal(session, auth, alice, WRONG)
        clock.advance(timedelta(minutes=15))
        assert log_in(session, auth, alice, PASSWORD).principal.id == ALICE

    def test_after_the_lock_ends_the_count_starts_again(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        for _ in range(5):
            refusal(session, auth, alice, WRONG)
        clock.advance(timedelta(minutes=15))
        # The next lockout of this source would last twice as long.
        assert refusal(session, auth, alice, WRONG).details == {
            "remaining_attempts": 4,
            "lockout_seconds": 1800,
        }

    def test_an_unknown_name_counts_down_and_locks_alike(
        self, session: Session, auth: AuthService
    ) -> None:
        answers = [refusal(session, auth, "nobody", PASSWORD).to_dict() for _ in range(5)]
        assert [a["details"] for a in answers] == [
            {"remaining_attempts": 4, "lockout_seconds": 900},
            {"remaining_attempts": 3, "lockout_seconds": 900},
            {"remaining_attempts": 2, "lockout_seconds": 900},
            {"remaining_attempts": 1, "lockout_seconds": 900},
            {"retry_after_seconds": 900},
        ]
        assert answers[-1]["code"] == "login_locked"

    def test_an_unknown_name_is_not_stored_in_clear(
        self, session: Session, auth: AuthService
    ) -> None:
        refusal(session, auth, "typed-my-Password-here", PASSWORD)
        stored = session.execute(text("SELECT name_hash FROM auth_login_name")).scalars().all()
        # Keyed: a plain hash of a name typed (a mobile number) is undone by trying all.
        assert hashlib.sha256(b"typed-my-password-here").digest() not in stored
        keyed = auth.stored_name("typed-my-password-here")
        assert keyed != "typed-my-password-here"
        assert hashlib.sha256(keyed.encode()).digest() in stored

    def test_a_successful_login_resets_the_count(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        refusal(session, auth, alice, WRONG)
        refusal(session, auth, alice, WRONG)
        log_in(session, auth, alice, PASSWORD)
        assert wide_failures(session, alice) == 0
        assert refusal(session, auth, alice, WRONG).details == {
            "remaining_attempts": 4,
            "lockout_seconds": 900,
        }

    @pytest.mark.rfc_9106_hashing
    def test_a_hash_with_old_parameters_is_replaced_at_login(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        session.execute(
            text("UPDATE auth_credential SET password_hash = :h WHERE username = :u"),
            {"h": weak, "u": auth.stored_name(alice)},  # stored as a keyed hash
        )
        log_in(session, auth, alice, PASSWORD)
        stored = session.execute(
            text("SELECT password_hash FROM auth_credential WHERE username = :u"),
            {"u": auth.stored_name(alice)},
        ).scalar_one()
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert verify_password(PASSWORD, password_hash=stored)

    def test_records_the_client_truncated_and_the_address(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        new = auth.login(
            session, username=alice, password=PASSWORD, client="x" * 500, ip="203.0.113.9"
        ).unwrap()
        [info] = auth.sessions_of(session, new.principal)
        assert info.client == "x" * 200
        assert info.ip == "203.0.113.9"

    def test_an_address_that_is_not_one_is_recorded_as_unknown(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        new = auth.login(session, username=alice, password=PASSWORD, ip="testclient").unwrap()
        assert auth.sessions_of(session, new.principal)[0].ip is None


class TestLockoutBySource:
    """Wrong passwords lock out where they come from, never the customer elsewhere."""

    def test_a_stranger_locks_out_only_the_network_they_guess_from(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        for _ in range(5):
            stranger = attempt(session, auth, WRONG, "198.51.100.7")
        assert isinstance(stranger, AccountLocked)
        assert isinstance(attempt(session, auth, PASSWORD, "198.51.100.7"), AccountLocked)
        mine = attempt(session, auth, PASSWORD, "203.0.113.9")
        assert isinstance(mine, NewSession)
        assert mine.principal.id == ALICE

    def test_another_source_keeps_all_its_tries(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        for _ in range(3):
            attempt(session, auth, WRONG, "198.51.100.7")
        elsewhere = attempt(session, auth, WRONG, "203.0.113.9")
        assert isinstance(elsewhere, LoginFailed)
        assert elsewhere.details == {"remaining_attempts": 4, "lockout_seconds": 900}

    def test_each_further_lockout_of_a_source_lasts_twice_as_long(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        waits = []
        for _ in range(4):
            for _ in range(5):
                locked = attempt(session, auth, WRONG, "198.51.100.7")
            assert isinstance(locked, AccountLocked)
            waits.append(locked.details["retry_after_seconds"])
            clock.advance(timedelta(seconds=locked.details["retry_after_seconds"]))
        assert waits == [900, 1800, 3600, 7200]

    def test_each_refusal_warns_how_long_the_coming_lockout_lasts(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        for _ in range(5):
            attempt(session, auth, WRONG, "198.51.100.7")
        clock.advance(timedelta(minutes=15))
        warned = attempt(session, auth, WRONG, "198.51.100.7")
        assert isinstance(warned, LoginFailed)
        assert warned.details == {"remaining_attempts": 4, "lockout_seconds": 1800}

    def test_a_lockout_never_lasts_more_than_a_day(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        for _ in range(12):
            for _ in range(5):
                locked = attempt(session, auth, WRONG, "198.51.100.7")
            assert isinstance(locked, AccountLocked)
            clock.advance(timedelta(seconds=locked.details["retry_after_seconds"]))
        assert locked.details == {"retry_after_seconds": 24 * 3600}

    def test_a_source_quiet_for_a_day_starts_afresh(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        for _ in range(5):
            attempt(session, auth, WRONG, "198.51.100.7")
        clock.advance(timedelta(minutes=15) + timedelta(days=1))  # a day after the lockout
        for _ in range(5):
            locked = attempt(session, auth, WRONG, "198.51.100.7")
        assert isinstance(locked, AccountLocked)
        assert locked.details == {"retry_after_seconds": 900}

    def test_guessing_from_many_sources_leaves_each_new_one_a_single_try(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        for n in range(4):
            for _ in range(5):
                attempt(session, auth, WRONG, f"198.51.100.{n}")
        assert wide_failures(session, alice) == 20
        one_try = attempt(session, auth, WRONG, "198.51.100.99")
        assert isinstance(one_try, AccountLocked)
        # The customer, with the right password, still gets in; then the count is over.
        assert isinstance(attempt(session, auth, PASSWORD, "203.0.113.9"), NewSession)
        again = attempt(session, auth, WRONG, "198.51.100.100")
        assert isinstance(again, LoginFailed)
        assert again.details == {"remaining_attempts": 4, "lockout_seconds": 900}

    def test_an_ipv6_client_counts_by_its_64(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        for host in range(1, 6):
            locked = attempt(session, auth, WRONG, f"2001:db8:1:2::{host}")
        assert isinstance(locked, AccountLocked)
        assert isinstance(attempt(session, auth, PASSWORD, "2001:db8:1:2::99"), AccountLocked)
        assert isinstance(attempt(session, auth, PASSWORD, "2001:db8:1:3::1"), NewSession)

    def test_an_unknown_name_locks_per_source_alike(
        self, session: Session, auth: AuthService
    ) -> None:
        answers = [
            attempt(session, auth, WRONG, "198.51.100.7", username="nobody").to_dict()
            for _ in range(5)
        ]
        elsewhere = attempt(session, auth, WRONG, "203.0.113.9", username="nobody")
        assert answers[-1]["code"] == "login_locked"
        assert elsewhere.to_dict()["details"] == {"remaining_attempts": 4, "lockout_seconds": 900}

    def test_the_customer_is_told_of_wrong_passwords_at_the_next_login(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        first = attempt(session, auth, PASSWORD, "203.0.113.9")
        assert isinstance(first, NewSession)
        assert first.history == LoginHistory(None, 0)
        at = clock.now()
        clock.advance(timedelta(hours=5))
        for n in range(3):
            attempt(session, auth, WRONG, f"198.51.100.{n}")
        clock.advance(timedelta(hours=1))
        second = attempt(session, auth, PASSWORD, "203.0.113.9")
        assert isinstance(second, NewSession)
        assert second.history == LoginHistory(previous_login_at=at, failures_before_login=3)
        assert auth.login_history(session, second.principal) == second.history
        third = attempt(session, auth, PASSWORD, "203.0.113.9")
        assert isinstance(third, NewSession)
        assert third.history.failures_before_login == 0


class TestLoginAtTheBoundary:
    """What an endpoint does: login inside the unit of work, raise after commit."""

    def test_failures_are_counted_although_the_request_fails(
        self, connection: Connection, auth: AuthService, alice: str, session: Session
    ) -> None:
        session.commit()  # alice's credential, visible to the boundary's sessions
        factory = session_factory_on(connection)
        for _ in range(2):
            with unit_of_work(factory) as request:
                result = auth.login(request, username=alice, password=WRONG)
            with pytest.raises(LoginFailed):
                result.unwrap()
        with unit_of_work(factory) as later:
            assert wide_failures(later, alice) == 2

    def test_raising_inside_the_unit_of_work_would_lose_the_count(
        self, connection: Connection, auth: AuthService, alice: str, session: Session
    ) -> None:
        """Why login returns its refusal instead of raising it."""
        session.commit()
        factory = session_factory_on(connection)
        with pytest.raises(LoginFailed), unit_of_work(factory) as request:
            auth.login(request, username=alice, password=WRONG).unwrap()
        with unit_of_work(factory) as later:
            assert wide_failures(later, alice) == 0


class TestAuthenticate:
    def test_refuses_an_unknown_token(self, session: Session, auth: AuthService) -> None:
        with pytest.raises(SessionInvalid) as refused:
            auth.authenticate(session, "not-a-token")
        assert (refused.value.code, refused.value.status) == ("session_invalid", 401)

    def test_expires_after_15_minutes_without_a_request(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        new = log_in(session, auth, alice, PASSWORD)
        clock.advance(timedelta(minutes=15))
        assert auth.authenticate(session, new.token) == new.principal
        clock.advance(timedelta(minutes=15, seconds=1))
        with pytest.raises(SessionExpired) as refused:
            auth.authenticate(session, new.token)
        assert (refused.value.code, refused.value.status) == ("session_expired", 401)

    def test_expires_12_hours_after_login_however_active(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        new = log_in(session, auth, alice, PASSWORD)
        for _ in range(12 * 6 - 1):
            clock.advance(timedelta(minutes=10))
            auth.authenticate(session, new.token)
        clock.advance(timedelta(minutes=10))
        with pytest.raises(SessionExpired):
            auth.authenticate(session, new.token)

    def test_records_activity_at_most_once_a_minute(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        new = log_in(session, auth, alice, PASSWORD)
        opened = clock.now()

        def last_seen() -> object:
            return session.execute(
                text("SELECT last_seen_at FROM auth_session WHERE id = :id"),
                {"id": new.principal.session_id},
            ).scalar_one()

        for _ in range(5):
            clock.advance(timedelta(seconds=11))
            auth.authenticate(session, new.token)
            assert last_seen() == opened
        clock.advance(timedelta(seconds=6))
        auth.authenticate(session, new.token)
        assert last_seen() == clock.now()
        touched = clock.now()
        clock.advance(timedelta(seconds=59))
        auth.authenticate(session, new.token)
        assert last_seen() == touched


class TestLogout:
    def test_a_logged_out_token_is_refused(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        new = log_in(session, auth, alice, PASSWORD)
        auth.logout(session, new.token)
        with pytest.raises(SessionInvalid):
            auth.authenticate(session, new.token)

    def test_logging_out_twice_or_an_unknown_token_changes_nothing(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        new = log_in(session, auth, alice, PASSWORD)
        auth.logout(session, new.token)
        auth.logout(session, new.token)
        auth.logout(session, "not-a-token")

    def test_logout_others_keeps_this_session_and_ends_the_rest(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        phone = log_in(session, auth, alice, PASSWORD)
        laptop = log_in(session, auth, alice, PASSWORD)
        tablet = log_in(session, auth, alice, PASSWORD)
        assert auth.logout_others(session, phone.token) == 2
        assert auth.authenticate(session, phone.token) == phone.principal
        for other in (laptop, tablet):
            with pytest.raises(SessionInvalid):
                auth.authenticate(session, other.token)
        assert [s.id for s in auth.sessions_of(session, phone.principal)] == [
            phone.principal.session_id
        ]

    def test_logout_others_leaves_other_principals_alone(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        auth.set_password(
            session,
            kind=PrincipalKind.CUSTOMER,
            principal_id=BOB,
            username="bob",
            password=PASSWORD,
        )
        bob = log_in(session, auth, "bob", PASSWORD)
        mine = log_in(session, auth, alice, PASSWORD)
        assert auth.logout_others(session, mine.token) == 0
        assert auth.authenticate(session, bob.token) == bob.principal


class TestSessionsOf:
    def test_lists_live_sessions_newest_first_marking_the_current_one(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        first = log_in(session, auth, alice, PASSWORD)
        clock.advance(timedelta(minutes=1))
        second = log_in(session, auth, alice, PASSWORD)
        ended = log_in(session, auth, alice, PASSWORD)
        auth.logout(session, ended.token)
        infos = auth.sessions_of(session, first.principal)
        assert [(i.id, i.current) for i in infos] == [
            (second.principal.session_id, False),
            (first.principal.session_id, True),
        ]

    def test_an_idle_session_is_no_longer_listed(
        self, session: Session, auth: AuthService, clock: FrozenClock, alice: str
    ) -> None:
        old = log_in(session, auth, alice, PASSWORD)
        clock.advance(timedelta(minutes=16))
        new = log_in(session, auth, alice, PASSWORD)
        principal = Principal(PrincipalKind.CUSTOMER, ALICE, new.principal.session_id)
        assert [i.id for i in auth.sessions_of(session, principal)] == [new.principal.session_id]
        assert old.principal.session_id != new.principal.session_id


class TestTokenStorage:
    def test_only_the_sha256_of_the_token_is_stored(
        self, session: Session, auth: AuthService, alice: str
    ) -> None:
        new = log_in(session, auth, alice, PASSWORD)
        row = session.execute(
            text("SELECT token_hash, auth_session::text FROM auth_session WHERE id = :id"),
            {"id": new.principal.session_id},
        ).one()
        assert bytes(row.token_hash) == hashlib.sha256(new.token.encode()).digest()
        assert new.token not in row.auth_session
        assert new.token.encode().hex() not in row.auth_session
