"""The customer's authentication tools: issuing them, and checking their answers.

Each tool answers a challenge about one payment (:class:`PaymentRequest`):

- SMS: a six-digit code sent with the payee and amount in the message; kept as a
  keyed hash on the challenge.
- 口令卡 grid card: the codes at positions never asked before on that card; kept as
  keyed hashes. It cannot bind its answer to the payment, hence its low limits; it
  runs out of positions after 26 challenges and the customer gets a new one.
- 电子密码器 token: OCRA in signature mode; the question is the payee's tail digits
  and the amount, so the code is good for that payee and amount only. Its key is
  kept encrypted (AES-GCM) under the bank's tool key; each code is accepted once.
- U盾: an ECDSA/Ed25519 signature of the canonical rendering of the payment, with a
  certificate from the bank's own CA, checked for chain, validity and revocation.

Keys derived from the tool key (HMAC with a label) keep each use separate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text
from sqlalchemy.orm import Session

from rongbank.auth import gridcard, otp, ukey
from rongbank.auth.limits import ToolKind, ToolLimits
from rongbank.auth.sms import SmsGateway
from rongbank.clock import Clock
from rongbank.errors import Conflict, InvalidRequest, NotFound
from rongbank.money import format_amount

CNY_SCALE = 2
TOKEN_SUITE = otp.SIGNATURE_SUITE
WITHDRAWAL = "withdrawal"
SMS_SIGNATURE = "【融银行】"
"""The sender's name every text begins with, as China's SMS rules require."""
LIMIT_NAMES = {
    "password_free": "小额免密支付",
    ToolKind.SMS: "短信验证码",
    ToolKind.GRID_CARD: "口令卡",
    ToolKind.TOKEN: "电子密码器",
    ToolKind.UKEY: "U盾",
}
"""What a text calls a tool, and the limit of a tool or of paying without one."""
"""The purpose of a withdrawal to a bound card; its payee is ``card:<id>:<masked number>``."""


class ToolNotFound(NotFound):
    code = "tool_not_found"
    message = "You hold no such authentication tool."


class ToolNotActive(Conflict):
    code = "tool_not_active"
    message = "This authentication tool is blocked, revoked or expired."


class GridCardUsedUp(ToolNotActive):
    code = "grid_card_used_up"
    message = (
        "Your grid card has no positions left that were never asked: get a new card in "
        "the security centre, or confirm with another tool."
    )


class ToolNotRevocable(Conflict):
    code = "tool_not_revocable"
    message = (
        "SMS codes go to your registered mobile and cannot be revoked. Set their limit "
        "to 0 to stop using them, or change your mobile number with the bank."
    )


class CertificateRequestInvalid(InvalidRequest):
    code = "certificate_request_invalid"
    message = (
        "The certificate request is not valid: send a PEM CSR signed by a P-256 or Ed25519 "
        "key (rongbank device ukey-new makes one)."
    )


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What a money-moving request asks for, as the customer is shown it."""

    purpose: str
    payer: str
    payee: str
    amount: int
    currency: str
    client_id: str
    change: str = ""
    """For a request that moves no money (a new tool, a higher limit): what the
    customer confirms, in the words the SMS uses."""

    @classmethod
    def security_change(cls, customer_id: int, change: str, binding: str) -> PaymentRequest:
        """A security change; ``binding`` is what exactly is changed (a CSR's hash,
        the new limits), so that a code confirms that change and no other."""
        return cls("security", f"customer:{customer_id}", "", 0, "", binding, change)

    def digest(self) -> bytes:
        """Binds a challenge to exactly this request: any change is another request."""
        body = json.dumps(
            [
                self.purpose,
                self.payer,
                self.payee,
                self.amount,
                self.currency,
                self.client_id,
                self.change,
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(body.encode()).digest()

    def describe(self) -> str:
        """What the customer confirms, completing "用于...": in Chinese, as the texts
        a bank in China sends are."""
        if self.change:
            return self.change
        figure = format_amount(self.amount, scale=CNY_SCALE)
        amount = f"{figure}元" if self.currency == "CNY" else f"{figure} {self.currency}"
        if self.purpose == WITHDRAWAL:
            return f"向尾号{self.payee[-4:]}的银行卡提现{amount}"
        if self.payee.startswith("wealth:"):
            return f"购买理财产品{self.payee.removeprefix('wealth:')}，金额{amount}"
        return f"向尾号{self.payee[-4:]}的账户付款{amount}"


@dataclass(frozen=True, slots=True)
class Tool:
    id: int
    customer_id: int
    kind: ToolKind
    serial: str
    status: str
    failures: int
    uses: int
    max_uses: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ProvisionedToken:
    """A new token's key, shown to the customer once (to load into the token)."""

    serial: str
    suite: str
    key: bytes

    def key_file(self) -> str:
        """The software stand-in's key file (``rongbank device token``)."""
        return json.dumps(
            {"serial": self.serial, "suite": self.suite, "key": self.key.hex()}, indent=2
        )


@dataclass(frozen=True, slots=True)
class Question:
    """What the customer must answer for one challenge."""

    text: str
    """For the grid card the positions, for the token the OCRA question, for the
    U盾 the exact text to sign; empty for SMS (the code comes by message)."""
    code_hash: bytes | None = None
    left: int | None = None
    """How many more challenges the tool can be asked after this one (a grid card
    runs out of positions; 0: this is its last); None for tools without an end."""


_TOOL_COLUMNS = "id, customer_id, kind, serial, status, failures, uses, max_uses, created_at"


def _tool(row: object) -> Tool:
    values = list(row)  # type: ignore[call-overload]
    values[2] = ToolKind(values[2])
    return Tool(*values)


class ToolService:
    def __init__(
        self, clock: Clock, limits: ToolLimits, *, tool_key: bytes, sms: SmsGateway
    ) -> None:
        if len(tool_key) < 16:
            raise ValueError("the tool key must have at least 16 bytes")
        self.clock = clock
        self.limits = limits
        self.sms = sms
        self._grid_key = self._derive(tool_key, b"grid-card-codes")
        self._sms_key = self._derive(tool_key, b"sms-codes")
        self._seal = AESGCM(self._derive(tool_key, b"sealed-secrets"))

    @staticmethod
    def _derive(key: bytes, label: bytes) -> bytes:
        return hmac.new(key, b"rongbank-tool-key:" + label, hashlib.sha256).digest()

    def _seal_secret(self, secret: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._seal.encrypt(nonce, secret, context)

    def _open_secret(self, sealed: bytes, context: bytes) -> bytes:
        return self._seal.decrypt(sealed[:12], sealed[12:], context)

    # -- what a customer holds ---------------------------------------------------------

    def tools_of(self, session: Session, customer_id: int) -> list[Tool]:
        rows = session.execute(
            text(
                f"SELECT {_TOOL_COLUMNS} FROM auth_tool WHERE customer_id = :c "  # noqa: S608
                "ORDER BY status IN ('active', 'blocked') DESC, id DESC"
            ),
            {"c": customer_id},
        ).all()
        return [_tool(row) for row in rows]

    def blocked(self, session: Session, *, limit: int = 100) -> list[Tool]:
        """Tools blocked by wrong answers, for staff to unblock once the customer has
        proved who they are; the tools issued first come first."""
        rows = session.execute(
            text(
                f"SELECT {_TOOL_COLUMNS} FROM auth_tool WHERE status = 'blocked' "  # noqa: S608
                "ORDER BY id LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
        return [_tool(row) for row in rows]

    def blocked_count(self, session: Session) -> int:
        blocked = session.execute(text("SELECT count(*) FROM auth_tool WHERE status = 'blocked'"))
        return int(blocked.one()[0])

    def live_tool(
        self, session: Session, customer_id: int, kind: ToolKind, *, lock: bool = False
    ) -> Tool | None:
        """The customer's active or blocked tool of this kind."""
        row = session.execute(
            text(
                f"SELECT {_TOOL_COLUMNS} FROM auth_tool WHERE customer_id = :c AND kind = :k "  # noqa: S608
                "AND status IN ('active', 'blocked')" + (" FOR UPDATE" if lock else "")
            ),
            {"c": customer_id, "k": kind.value},
        ).first()
        return None if row is None else _tool(row)

    def tool(self, session: Session, tool_id: int, *, lock: bool = False) -> Tool:
        row = session.execute(
            text(
                f"SELECT {_TOOL_COLUMNS} FROM auth_tool WHERE id = :id"  # noqa: S608
                + (" FOR UPDATE" if lock else "")
            ),
            {"id": tool_id},
        ).first()
        if row is None:
            raise ToolNotFound()
        return _tool(row)

    def held(self, session: Session, customer_id: int) -> set[ToolKind]:
        """The kinds the customer can answer with now. Every customer can receive an
        SMS at their registered mobile, so that tool exists from first use."""
        self._ensure_sms(session, customer_id)
        rows = session.execute(
            text("SELECT kind FROM auth_tool WHERE customer_id = :c AND status = 'active'"),
            {"c": customer_id},
        ).all()
        return {ToolKind(row[0]) for row in rows}

    def _ensure_sms(self, session: Session, customer_id: int) -> None:
        session.execute(
            text(
                "INSERT INTO auth_tool (customer_id, kind, serial, status, created_at) "
                "SELECT c.id, 'sms', 'sms-' || c.id, 'active', :at FROM customer c "
                "WHERE c.id = :c ON CONFLICT DO NOTHING"
            ),
            {"c": customer_id, "at": self.clock.now()},
        )

    def _insert(
        self,
        session: Session,
        customer_id: int,
        kind: ToolKind,
        serial: str,
        *,
        secret: bytes | None = None,
        certificate: str | None = None,
    ) -> Tool:
        """A new tool of a kind replaces the customer's previous one of that kind."""
        now = self.clock.now()
        session.execute(
            text(
                "UPDATE auth_tool SET status = 'revoked', ended_at = :at WHERE customer_id = :c "
                "AND kind = :k AND status IN ('active', 'blocked')"
            ),
            {"c": customer_id, "k": kind.value, "at": now},
        )
        row = session.execute(
            text(
                "INSERT INTO auth_tool (customer_id, kind, serial, status, max_uses, secret, "  # noqa: S608
                "certificate, created_at) VALUES (:c, :k, :s, 'active', :m, :secret, :cert, :at) "
                f"RETURNING {_TOOL_COLUMNS}"
            ),
            {
                "c": customer_id,
                "k": kind.value,
                "s": serial,
                "m": self.limits.tools[kind].max_uses if kind in self.limits.tools else None,
                "secret": secret,
                "cert": certificate,
                "at": now,
            },
        ).one()
        return _tool(row)

    # -- issuing -----------------------------------------------------------------------

    def issue_grid_card(self, session: Session, customer_id: int) -> tuple[Tool, gridcard.GridCard]:
        """A new card; its codes leave the bank only in this answer (to print)."""
        card = gridcard.new_card(gridcard.new_serial())
        tool = self._insert(session, customer_id, ToolKind.GRID_CARD, card.serial)
        for position, digest in gridcard.hash_card(self._grid_key, card).items():
            session.execute(
                text(
                    "INSERT INTO grid_card_code (tool_id, position, code_hash) VALUES (:t, :p, :h)"
                ),
                {"t": tool.id, "p": position, "h": digest},
            )
        return tool, card

    def provision_token(self, session: Session, customer_id: int) -> tuple[Tool, ProvisionedToken]:
        serial = f"T{secrets.randbelow(10**10):010d}"
        key = secrets.token_bytes(32)  # SHA-256 suite: a key of the hash's length
        tool = self._insert(
            session,
            customer_id,
            ToolKind.TOKEN,
            serial,
            secret=self._seal_secret(key, serial.encode()),
        )
        return tool, ProvisionedToken(serial=serial, suite=TOKEN_SUITE, key=key)

    def enroll_ukey(self, session: Session, customer_id: int, csr_pem: str) -> tuple[Tool, str]:
        """Certify the customer's key from its CSR; returns the certificate PEM."""
        serial = int(
            session.execute(text("SELECT nextval('ukey_certificate_serial')")).scalar_one()
        )
        try:
            certificate = self.bank_ca(session).issue(
                csr_pem.encode(), customer_id=customer_id, serial=serial, now=self.clock.now()
            )
        except (ukey.UKeyError, ValueError) as error:
            raise CertificateRequestInvalid() from error
        tool = self._insert(
            session, customer_id, ToolKind.UKEY, str(serial), certificate=certificate.decode()
        )
        return tool, certificate.decode()

    def bank_ca(self, session: Session) -> ukey.BankCA:
        """The bank's customer CA, created on first use (one, whoever asks first)."""
        row = session.execute(text("SELECT key_sealed, certificate FROM bank_ca")).first()
        if row is None:
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext('bank_ca'))"))
            row = session.execute(text("SELECT key_sealed, certificate FROM bank_ca")).first()
        if row is not None:
            key_pem = self._open_secret(bytes(row[0]), b"bank-ca")
            return ukey.BankCA.from_pem(key_pem, str(row[1]).encode())
        ca = ukey.BankCA.create(self.clock.now())
        key_pem, cert_pem = ca.to_pem()
        session.execute(
            text(
                "INSERT INTO bank_ca (id, key_sealed, certificate, created_at) "
                "VALUES (1, :k, :c, :at)"
            ),
            {
                "k": self._seal_secret(key_pem, b"bank-ca"),
                "c": cert_pem.decode(),
                "at": self.clock.now(),
            },
        )
        return ca

    def bank_ca_certificate(self, session: Session) -> bytes:
        """The bank CA's certificate (PEM), public: customers check their U盾
        certificate's chain against it. Its private key is not unsealed for this."""
        pem = session.execute(text("SELECT certificate FROM bank_ca")).scalar_one_or_none()
        return str(pem).encode() if pem is not None else self.bank_ca(session).cert_pem

    def end(self, session: Session, tool: Tool, *, status: str = "revoked") -> Tool:
        """Revoke (or expire) a live tool: it can never answer again."""
        if tool.kind is ToolKind.SMS:
            raise ToolNotRevocable()
        if tool.status not in ("active", "blocked"):
            raise ToolNotActive(status=tool.status)
        row = session.execute(
            text(
                "UPDATE auth_tool SET status = :s, ended_at = :at WHERE id = :id "  # noqa: S608
                f"RETURNING {_TOOL_COLUMNS}"
            ),
            {"s": status, "at": self.clock.now(), "id": tool.id},
        ).one()
        return _tool(row)

    def block_all(self, session: Session, customer_id: int) -> list[Tool]:
        """Block every active tool of the customer (fraud confirmed, or the customer
        said a payment was not theirs): none can answer a challenge until staff
        unblock it (:meth:`unblock`) once the customer has proved who they are."""
        self._ensure_sms(session, customer_id)  # made on first use: block it too
        rows = session.execute(
            text(
                "UPDATE auth_tool SET status = 'blocked' WHERE customer_id = :c "  # noqa: S608
                f"AND status = 'active' RETURNING {_TOOL_COLUMNS}"
            ),
            {"c": customer_id},
        ).all()
        return [_tool(row) for row in rows]

    def unblock(self, session: Session, tool: Tool) -> Tool:
        if tool.status != "blocked":
            raise ToolNotActive(status=tool.status)
        row = session.execute(
            text(
                "UPDATE auth_tool SET status = 'active', failures = 0 WHERE id = :id "  # noqa: S608
                f"RETURNING {_TOOL_COLUMNS}"
            ),
            {"id": tool.id},
        ).one()
        return _tool(row)

    # -- challenges --------------------------------------------------------------------

    def question(
        self, session: Session, tool: Tool, payment: PaymentRequest, *, mobile: str, nonce: str
    ) -> Question:
        """Prepare the challenge for ``payment`` on ``tool`` (sending the SMS, and
        spending three of a grid card's positions and a use of it)."""
        if tool.kind is ToolKind.SMS:
            return Question(
                "", self.send_code(session, mobile=mobile, to=payment.describe(), nonce=nonce)
            )
        if tool.kind is ToolKind.GRID_CARD:
            return self._grid_positions(session, tool)
        if payment.change:
            # A change moves no money: the token is asked a number of its own, the
            # U盾 signs the change as it is described to the customer.
            return self._change_question(tool, payment, nonce)
        if tool.kind is ToolKind.TOKEN:
            return Question(otp.payment_question(payment.payee, payment.amount))
        return Question(
            ukey.canonical_payment(
                payer=payment.payer,
                payee=payment.payee,
                amount_minor=payment.amount,
                currency=payment.currency,
                at=self.clock.now(),
                nonce=nonce,
            ).decode()
        )

    def send_code(self, session: Session, *, mobile: str, to: str, nonce: str) -> bytes:
        """Send a six-digit code "用于..." (what it confirms, in Chinese) to ``mobile``; returns its
        keyed hash, bound to ``nonce``, to check the answer with :meth:`code_matches`."""
        code = f"{secrets.randbelow(10**6):06d}"
        self.sms.send(
            session,
            mobile=mobile,
            # The code right after the signature: phones offer to fill it in.
            body=(
                f"{SMS_SIGNATURE}{code}是您的验证码，用于{to}。"
                "本行工作人员不会向您索要验证码，请勿告诉他人。"
            ),
        )
        return self._sms_hash(nonce, code)

    def code_matches(self, *, nonce: str, code: str, code_hash: bytes) -> bool:
        """Whether ``code`` is the one :meth:`send_code` sent with ``nonce``."""
        code = unicodedata.normalize("NFKC", code).strip()
        return hmac.compare_digest(code_hash, self._sms_hash(nonce, code))

    def _change_question(self, tool: Tool, change: PaymentRequest, nonce: str) -> Question:
        if tool.kind is ToolKind.TOKEN:
            digits = otp.PAYEE_DIGITS + otp.AMOUNT_DIGITS  # the whole question (QN16)
            return Question(f"{secrets.randbelow(10**digits):0{digits}d}")
        return Question(
            ukey.canonical_change(
                customer=change.payer,
                change=change.change,
                ref=change.client_id,
                at=self.clock.now(),
                nonce=nonce,
            ).decode()
        )

    def _sms_hash(self, nonce: str, code: str) -> bytes:
        return hmac.new(self._sms_key, f"{nonce}:{code}".encode(), hashlib.sha256).digest()

    def _grid_positions(self, session: Session, tool: Tool) -> Question:
        """Positions of the card never asked before, marked asked. The card's row is
        locked first: two challenges opened at once take their positions one after
        the other, so they never share one."""
        tool = self.tool(session, tool.id, lock=True)
        if tool.status == "expired":
            raise GridCardUsedUp()
        if tool.status != "active":
            raise ToolNotActive(status=tool.status)
        fresh = (
            session.execute(
                text("SELECT position FROM grid_card_code WHERE tool_id = :t AND asked_at IS NULL"),
                {"t": tool.id},
            )
            .scalars()
            .all()
        )
        try:
            positions = gridcard.choose_positions(fresh)
        except gridcard.CardExhausted:
            # Only a card from before positions were counted can get here: a card
            # ends with the challenge that leaves too few (below).
            raise GridCardUsedUp() from None
        now = self.clock.now()
        session.execute(
            text(
                "UPDATE grid_card_code SET asked_at = :now "
                "WHERE tool_id = :t AND position = ANY(:p)"
            ),
            {"now": now, "t": tool.id, "p": list(positions)},
        )
        uses = session.execute(
            text("UPDATE auth_tool SET uses = uses + 1 WHERE id = :id RETURNING uses"),
            {"id": tool.id},
        ).scalar_one()
        left = min(
            (len(fresh) - len(positions)) // gridcard.POSITIONS_PER_CHALLENGE,
            gridcard.card_uses(tool.max_uses) - uses,
        )
        if left <= 0:
            # This challenge may still be answered; the card asks nothing more, and
            # the challenge says so (``left`` 0), for the customer to get a new one.
            self.end(session, tool, status="expired")
        return Question(",".join(positions), left=max(left, 0))

    def check(
        self,
        session: Session,
        tool: Tool,
        *,
        question: str,
        code_hash: bytes | None,
        nonce: str,
        response: str,
    ) -> bool:
        """Whether ``response`` answers the challenge; a token code is spent here."""
        # Chinese keyboards type full-width digits and commas (１２３，４５６).
        response = unicodedata.normalize("NFKC", response).strip()
        if tool.kind is ToolKind.SMS:
            return code_hash is not None and self.code_matches(
                nonce=nonce, code=response, code_hash=code_hash
            )
        if tool.kind is ToolKind.GRID_CARD:
            positions = question.split(",")
            answers = response.replace(",", " ").split()
            stored = {
                str(row[0]): bytes(row[1])
                for row in session.execute(
                    text("SELECT position, code_hash FROM grid_card_code WHERE tool_id = :t"),
                    {"t": tool.id},
                )
            }
            return len(answers) == len(positions) and gridcard.check_answers(
                self._grid_key, tool.serial, stored, positions, answers
            )
        if tool.kind is ToolKind.TOKEN:
            return self._check_token(session, tool, question, response)
        return self._check_signature(session, tool, question, response)

    def _check_token(self, session: Session, tool: Tool, question: str, response: str) -> bool:
        sealed = session.execute(
            text("SELECT secret FROM auth_tool WHERE id = :id"), {"id": tool.id}
        ).scalar_one()
        key = self._open_secret(bytes(sealed), tool.serial.encode())
        step = otp.verify_ocra(
            TOKEN_SUITE, key, question, response, unix_time=int(self.clock.now().timestamp())
        )
        if step is None:
            return False
        spent = session.execute(
            text(
                "INSERT INTO token_use (tool_id, time_step, question) VALUES (:t, :s, :q) "
                "ON CONFLICT DO NOTHING"
            ),
            {"t": tool.id, "s": step, "q": question},
        ).rowcount  # type: ignore[attr-defined]
        return bool(spent)  # a code already used once is refused

    def _check_signature(self, session: Session, tool: Tool, shown: str, response: str) -> bool:
        try:
            signature = base64.b64decode(response, validate=True)
        except (binascii.Error, ValueError):
            return False
        certificate = session.execute(
            text("SELECT certificate FROM auth_tool WHERE id = :id"), {"id": tool.id}
        ).scalar_one()
        revoked = {
            int(row[0])
            for row in session.execute(
                text(
                    "SELECT serial FROM auth_tool WHERE kind = 'ukey' AND customer_id = :c "
                    "AND status = 'revoked'"
                ),
                {"c": tool.customer_id},
            )
        }
        try:
            ukey.verify_payment_signature(
                ca_cert_pem=self.bank_ca(session).cert_pem,
                cert_pem=str(certificate).encode(),
                customer_id=tool.customer_id,
                message=shown.encode(),
                signature=signature,
                now=self.clock.now(),
                revoked_serials=revoked,
            )
        except ukey.UKeyError:
            return False
        return True
