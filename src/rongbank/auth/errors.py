"""Authentication refusals, one per business fact.

Messages never say whether a login name exists or whether a password was right
(except, for a refused policy, which rule the new password breaks).
"""

from __future__ import annotations

from rongbank.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated


class WeakPassword(InvalidRequest):
    code = "weak_password"
    message = (
        "A password needs 8 to 128 characters, mixes at least two of letters, digits and "
        "symbols, and does not contain your mobile number, ID number or login name."
    )


class LoginNameInvalid(InvalidRequest):
    code = "login_name_invalid"
    message = "A login name has 1 to 128 characters."


class UsernameTaken(Conflict):
    code = "username_taken"
    message = "This login name is already used by someone else."


class LoginFailed(Unauthenticated):
    """The same refusal, word for word, for an unknown login name and for a wrong
    password: telling them apart would let anyone find out who banks here. Its
    details say how many tries this source has left (``remaining_attempts``) and how
    long the lockout after the last of them lasts (``lockout_seconds``)."""

    code = "login_failed"
    message = "The login name or password is wrong."


class AccountLocked(Forbidden):
    """Too many wrong passwords in a row from this source: the login name is refused
    to it, whatever the password, until ``details["retry_after_seconds"]`` have
    passed. Other sources, the customer's own among them, are not locked out
    (:mod:`rongbank.auth.throttle`).

    403 rather than the alternatives: 401 would invite the client to send the
    credentials again, which cannot help until the lock ends; 429 describes a client
    sending too fast, while this lock is on the login name whoever tries it; 423 is
    WebDAV's "resource locked", which generic clients and proxies do not expect. 403
    says "understood and refused"; the details say for how long.
    """

    code = "login_locked"
    message = (
        "Too many wrong passwords for this login from your network. Try again later "
        "(details.retry_after_seconds), or reset your password."
    )


class CurrentPasswordWrong(InvalidRequest):
    """The current password typed to change it is wrong. It counts towards the
    lockout as a wrong password at login does; the details say as
    :class:`LoginFailed`'s do how many tries are left and how long the lockout lasts.
    Not a 401: the session is fine, and a client must not log in again for it."""

    code = "current_password_wrong"
    message = "The current password is wrong."


class PasswordUnchanged(InvalidRequest):
    code = "password_unchanged"
    message = "The new password must differ from the current one."


class SessionNotFound(NotFound):
    code = "session_not_found"
    message = "You have no such session (it may have ended already)."


class SessionInvalid(Unauthenticated):
    code = "session_invalid"
    message = "The session is not valid; please log in."


class SessionExpired(Unauthenticated):
    code = "session_expired"
    message = "The session has expired; please log in again."
