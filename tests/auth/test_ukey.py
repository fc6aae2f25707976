"""The U盾: CA issuance, the signed payment text, and every way a signature is refused."""

from __future__ import annotations

import base64
import functools
import textwrap
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from rongbank.auth.ukey import (
    CA_COMMON_NAME,
    BankCA,
    CertificateExpired,
    CertificateInfo,
    CertificateNotTrusted,
    CertificateRevoked,
    KeyKind,
    PrivateKey,
    SignatureInvalid,
    UKeyError,
    canonical_payment,
    certificate_info,
    generate_key,
    load_private_key,
    make_csr,
    private_key_pem,
    sign,
    verify_payment_signature,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T_ISSUE = datetime(2026, 2, 1, 10, 30, tzinfo=UTC)
T_PAY = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
CUSTOMER = 1
KINDS: list[KeyKind] = ["p256", "ed25519"]

PAYMENT = {
    "payer": "6222020200001234",
    "payee": "6222020200005678",
    "amount_minor": 123_456,
    "currency": "CNY",
    "at": T_PAY,
    "nonce": "n0nce_-AbC",
}


def payment(**changes: object) -> bytes:
    fields = {**PAYMENT, **changes}
    return canonical_payment(**fields)  # type: ignore[arg-type]


@functools.cache
def bank_ca() -> BankCA:
    return BankCA.create(T0)


@functools.cache
def enrolled(
    kind: KeyKind, customer_id: int = CUSTOMER, serial: int = 1
) -> tuple[PrivateKey, bytes]:
    key = generate_key(kind)
    cert = bank_ca().issue(
        make_csr(key, "anything"), customer_id=customer_id, serial=serial, now=T_ISSUE
    )
    return key, cert


def verify(
    cert: bytes,
    message: bytes,
    signature: bytes,
    *,
    customer_id: int = CUSTOMER,
    now: datetime = T_PAY,
    revoked: frozenset[int] = frozenset(),
    ca_cert: bytes | None = None,
) -> int:
    return verify_payment_signature(
        ca_cert_pem=bank_ca().cert_pem if ca_cert is None else ca_cert,
        cert_pem=cert,
        customer_id=customer_id,
        message=message,
        signature=signature,
        now=now,
        revoked_serials=revoked,
    )


def pem_of(der: bytes, label: str) -> bytes:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


# --- Keys -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_private_key_pem_round_trip(kind: KeyKind) -> None:
    key = generate_key(kind)
    loaded = load_private_key(private_key_pem(key))
    assert private_key_pem(loaded) == private_key_pem(key)
    assert b"BEGIN PRIVATE KEY" in private_key_pem(key)  # PKCS#8, not encrypted


def test_generate_key_refuses_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unsupported key kind"):
        generate_key("rsa")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "other",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP384R1()),
    ],
    ids=["rsa", "p384"],
)
def test_load_private_key_refuses_other_key_types(other: rsa.RSAPrivateKey) -> None:
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UKeyError) as caught:
        load_private_key(pem)
    assert caught.value.reason == "key_type"


@pytest.mark.parametrize("pem", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAAAA\n"])
def test_load_private_key_refuses_garbage(pem: bytes) -> None:
    with pytest.raises(UKeyError) as caught:
        load_private_key(pem)
    assert caught.value.reason == "key_invalid"


def test_load_private_key_refuses_an_encrypted_key() -> None:
    pem = generate_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(UKeyError):
        load_private_key(pem)


# --- The CA ---------------------------------------------------------------------------


def test_ca_certificate() -> None:
    cert = x509.load_pem_x509_certificate(bank_ca().cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CA_COMMON_NAME
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)  # self-signed
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert not usage.digital_signature
    assert cert.not_valid_before_utc == T0
    assert 3650 <= (cert.not_valid_after_utc - T0).days <= 3653
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)


def test_ca_round_trips_through_pem() -> None:
    key_pem, cert_pem = bank_ca().to_pem()
    assert cert_pem == bank_ca().cert_pem
    again = BankCA.from_pem(key_pem, cert_pem)
    assert again.to_pem() == (key_pem, cert_pem)
    # The reloaded CA issues certificates the original's certificate vouches for.
    key = generate_key()
    cert = again.issue(make_csr(key, "x"), customer_id=7, serial=70, now=T_ISSUE)
    message = payment()
    assert verify(cert, message, sign(key, message), customer_id=7) == 70


def test_ca_from_pem_refuses_a_key_that_is_not_the_certificates() -> None:
    _, cert_pem = bank_ca().to_pem()
    other_key_pem, _ = BankCA.create(T0).to_pem()
    with pytest.raises(UKeyError) as caught:
        BankCA.from_pem(other_key_pem, cert_pem)
    assert caught.value.reason == "ca_invalid"


@pytest.mark.parametrize(
    ("key_pem", "cert_pem"),
    [(b"garbage", None), (None, b"garbage"), (private_key_pem(generate_key("ed25519")), None)],
    ids=["bad-key", "bad-cert", "ed25519-key"],
)
def test_ca_from_pem_refuses_garbage(key_pem: bytes | None, cert_pem: bytes | None) -> None:
    real_key, real_cert = bank_ca().to_pem()
    with pytest.raises(UKeyError) as caught:
        BankCA.from_pem(key_pem or real_key, cert_pem or real_cert)
    assert caught.value.reason == "ca_invalid"


def test_ca_create_refuses_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        BankCA.create(datetime(2026, 1, 1))


# --- Issuing --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_issued_certificate(kind: KeyKind) -> None:
    key, pem = enrolled(kind)
    cert = x509.load_pem_x509_certificate(pem)
    ca_cert = x509.load_pem_x509_certificate(bank_ca().cert_pem)
    cert.verify_directly_issued_by(ca_cert)
    # The bank's subject, not the CSR's "anything".
    assert cert.subject.rfc4514_string() == "CN=customer:1"
    assert cert.serial_number == 1
    assert cert.not_valid_before_utc == T_ISSUE
    assert cert.not_valid_after_utc == T_ISSUE + timedelta(days=730)
    assert cert.public_key() == key.public_key()
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.content_commitment
    assert not usage.key_cert_sign
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


@pytest.mark.parametrize("kind", KINDS)
def test_certificate_info(kind: KeyKind) -> None:
    _, pem = enrolled(kind)
    info = certificate_info(pem)
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    assert info == CertificateInfo(
        serial=1,
        customer_id=CUSTOMER,
        key_kind=kind,
        not_before=T_ISSUE,
        not_after=T_ISSUE + timedelta(days=730),
        fingerprint_sha256=digest.finalize().hex(),
    )


def test_certificate_info_refuses_garbage_and_the_ca_certificate() -> None:
    with pytest.raises(CertificateNotTrusted):
        certificate_info(b"garbage")
    with pytest.raises(CertificateNotTrusted):
        certificate_info(bank_ca().cert_pem)  # CN is not customer:<id>


def test_issue_days_and_ca_lifetime() -> None:
    key = generate_key()
    short = bank_ca().issue(make_csr(key, "x"), customer_id=2, serial=5, now=T_ISSUE, days=30)
    assert certificate_info(short).not_after == T_ISSUE + timedelta(days=30)
    # Near the CA's end, a certificate ends with the CA, not after it.
    ca_end = x509.load_pem_x509_certificate(bank_ca().cert_pem).not_valid_after_utc
    late = ca_end - timedelta(days=10)
    cert = bank_ca().issue(make_csr(key, "x"), customer_id=2, serial=6, now=late)
    assert certificate_info(cert).not_after == ca_end
    with pytest.raises(UKeyError) as caught:
        bank_ca().issue(make_csr(key, "x"), customer_id=2, serial=7, now=ca_end + timedelta(1))
    assert caught.value.reason == "ca_expired"


@pytest.mark.parametrize("serial", [0, -1, 2**159, True])
def test_issue_refuses_bad_serials(serial: int) -> None:
    with pytest.raises(ValueError, match="serial"):
        bank_ca().issue(make_csr(generate_key(), "x"), customer_id=1, serial=serial, now=T_ISSUE)


@pytest.mark.parametrize("customer_id", [0, -3, True])
def test_issue_refuses_bad_customer_ids(customer_id: int) -> None:
    with pytest.raises(ValueError, match="customer_id"):
        bank_ca().issue(make_csr(generate_key(), "x"), customer_id=customer_id, serial=9, now=T0)


def test_issue_refuses_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        bank_ca().issue(
            make_csr(generate_key(), "x"),
            customer_id=1,
            serial=9,
            now=datetime(2026, 2, 1),
        )


def csr_reason(csr_pem: bytes) -> str:
    with pytest.raises(UKeyError) as caught:
        bank_ca().issue(csr_pem, customer_id=1, serial=99, now=T_ISSUE)
    return caught.value.reason


def test_issue_refuses_a_csr_carrying_someone_elses_key() -> None:
    """Possession: a CSR signed by key A but naming key B (the victim's) is refused."""
    mine, victims = generate_key(), generate_key()
    der = x509.load_pem_x509_csr(make_csr(mine, "x")).public_bytes(serialization.Encoding.DER)
    spki = {
        k: k.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for k in (mine, victims)
    }
    assert len(spki[mine]) == len(spki[victims])  # P-256 SPKIs: same length, swap in place
    forged = der.replace(spki[mine], spki[victims])
    assert forged != der
    assert csr_reason(pem_of(forged, "CERTIFICATE REQUEST")) == "csr_invalid"


@pytest.mark.parametrize("kind", KINDS)
def test_issue_refuses_a_tampered_csr(kind: KeyKind) -> None:
    der = x509.load_pem_x509_csr(make_csr(generate_key(kind), "alice")).public_bytes(
        serialization.Encoding.DER
    )
    tampered = der.replace(b"alice", b"mallo")
    assert tampered != der
    assert csr_reason(pem_of(tampered, "CERTIFICATE REQUEST")) == "csr_invalid"


@pytest.mark.parametrize("csr_pem", [b"", b"garbage", pem_of(b"\x30\x03\x02\x01\x00", "CSR")])
def test_issue_refuses_garbage_csr(csr_pem: bytes) -> None:
    assert csr_reason(csr_pem) == "csr_invalid"


def test_issue_refuses_an_rsa_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")]))
        .sign(key, hashes.SHA256())
    )
    assert csr_reason(csr.public_bytes(serialization.Encoding.PEM)) == "key_type"


def test_issue_refuses_a_p384_key() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p384")]))
        .sign(key, hashes.SHA256())
    )
    assert csr_reason(csr.public_bytes(serialization.Encoding.PEM)) == "key_type"


# --- The signed text ------------------------------------------------------------------


def test_canonical_payment_exact_bytes() -> None:
    assert payment() == (
        b"RONGBANK-PAYMENT-V1\n"
        b"payer=6222020200001234\n"
        b"payee=6222020200005678\n"
        b"amount=123456\n"
        b"currency=CNY\n"
        b"time=2026-03-01T12:00:05Z\n"
        b"nonce=n0nce_-AbC\n"
    )


def test_canonical_payment_is_deterministic_and_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    assert payment() == payment()
    assert payment(at=T_PAY.astimezone(beijing)) == payment()
    # Shown to the second: sub-second parts do not change the text.
    assert payment(at=T_PAY + timedelta(microseconds=999_999)) == payment()
    assert payment(payee="张三 6222 0000").decode().splitlines()[2] == "payee=张三 6222 0000"


def test_canonical_payment_refuses_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        payment(at=datetime(2026, 3, 1, 12, 0, 5))


@pytest.mark.parametrize("field", ["payer", "payee"])
@pytest.mark.parametrize(
    "value",
    [
        "A\namount=1",  # would forge a line
        "A\r\npayee=B",
        "A\u2028B",  # Unicode line separator
        "A\u0085B",  # NEL
        "A=B",
        "A\x00B",
        "A\u202eB",  # right-to-left override: shows other text than is signed
        "A\u200bB",  # zero-width space
        "",
        " A",
        "A\t",
        "e\u0301",  # not NFC (é decomposed)
        "9" * 257,
    ],
)
def test_canonical_payment_refuses_injection(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        payment(**{field: value})


@pytest.mark.parametrize("nonce", ["", "a\nb", "a=b", "a b", "n" * 129, "ü", "a/b"])
def test_canonical_payment_refuses_bad_nonces(nonce: str) -> None:
    with pytest.raises(ValueError, match="nonce"):
        payment(nonce=nonce)


@pytest.mark.parametrize("currency", ["cny", "CN", "CNYY", "CN\n", "人民币"])
def test_canonical_payment_refuses_bad_currencies(currency: str) -> None:
    with pytest.raises(ValueError, match="currency"):
        payment(currency=currency)


@pytest.mark.parametrize("amount", [0, -1])
def test_canonical_payment_refuses_non_positive_amounts(amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        payment(amount_minor=amount)


@pytest.mark.parametrize("amount", [True, 1.5, "100"])
def test_canonical_payment_refuses_non_int_amounts(amount: object) -> None:
    with pytest.raises(TypeError):
        payment(amount_minor=amount)


# --- Signing and verifying ------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_sign_and_verify(kind: KeyKind) -> None:
    key, cert = enrolled(kind)
    message = payment()
    assert verify(cert, message, sign(key, message)) == 1
    # Still valid at both ends of the certificate's validity.
    assert verify(cert, message, sign(key, message), now=T_ISSUE) == 1
    end = T_ISSUE + timedelta(days=730)
    assert verify(cert, message, sign(key, message), now=end) == 1


def test_signature_formats() -> None:
    message = payment()
    ed_sig = sign(enrolled("ed25519")[0], message)
    assert len(ed_sig) == 64  # raw Ed25519
    p_sig = sign(enrolled("p256")[0], message)
    assert p_sig[0] == 0x30  # DER SEQUENCE (r, s)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 123_457},
        {"amount_minor": 1_234_560},
        {"payee": "6222020200009999"},
        {"payer": "6222020200000000"},
        {"nonce": "another-nonce"},
        {"currency": "USD"},
        {"at": T_PAY + timedelta(seconds=1)},
    ],
    ids=["amount+1", "amount*10", "payee", "payer", "nonce", "currency", "time"],
)
def test_altered_payment_is_refused(kind: KeyKind, change: dict[str, object]) -> None:
    key, cert = enrolled(kind)
    signature = sign(key, payment())
    with pytest.raises(SignatureInvalid) as caught:
        verify(cert, payment(**change), signature)
    assert caught.value.reason == "signature_invalid"


@pytest.mark.parametrize("kind", KINDS)
def test_revoked_certificate_is_refused(kind: KeyKind) -> None:
    key, cert = enrolled(kind)
    message = payment()
    with pytest.raises(CertificateRevoked) as caught:
        verify(cert, message, sign(key, message), revoked=frozenset({5, 1}))
    assert caught.value.reason == "certificate_revoked"
    assert verify(cert, message, sign(key, message), revoked=frozenset({2, 3})) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_certificate_from_another_ca_is_refused(kind: KeyKind) -> None:
    """Same CA name, same serial, same customer: only the CA's signature differs."""
    key = generate_key(kind)
    impostor = BankCA.create(T0)
    cert = impostor.issue(make_csr(key, "x"), customer_id=CUSTOMER, serial=1, now=T_ISSUE)
    message = payment()
    with pytest.raises(CertificateNotTrusted) as caught:
        verify(cert, message, sign(key, message))
    assert caught.value.reason == "certificate_not_trusted"
    # ...and it is fine for the CA that did issue it.
    assert verify(cert, message, sign(key, message), ca_cert=impostor.cert_pem) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_certificate_of_another_customer_is_refused(kind: KeyKind) -> None:
    key, cert = enrolled(kind)  # customer 1
    message = payment()
    for other in (2, 11, 10):  # 11 and 10: no prefix tricks
        with pytest.raises(CertificateNotTrusted):
            verify(cert, message, sign(key, message), customer_id=other)


def test_ca_certificate_is_not_a_customer_certificate() -> None:
    with pytest.raises(CertificateNotTrusted):
        verify(bank_ca().cert_pem, payment(), b"sig")


def test_certificate_without_signing_usage_is_refused() -> None:
    """A cert from the bank's CA key that is not a U盾 signing certificate."""
    key = generate_key()
    ca_key_pem, ca_cert_pem = bank_ca().to_pem()
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "customer:1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(77)
        .not_valid_before(T_ISSUE)
        .not_valid_after(T_ISSUE + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    message = payment()
    with pytest.raises(CertificateNotTrusted):
        verify(cert, message, sign(key, message))


@pytest.mark.parametrize("kind", KINDS)
def test_expired_certificate_is_refused(kind: KeyKind) -> None:
    key, cert = enrolled(kind)
    message = payment()
    signature = sign(key, message)
    for now in (T_ISSUE + timedelta(days=730, seconds=1), T_ISSUE - timedelta(seconds=1)):
        with pytest.raises(CertificateExpired) as caught:
            verify(cert, message, signature, now=now)
        assert caught.value.reason == "certificate_expired"


def test_verify_refuses_naive_now() -> None:
    key, cert = enrolled("p256")
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(cert, payment(), sign(key, payment()), now=datetime(2026, 3, 1))


def test_check_order_trust_validity_revocation_signature() -> None:
    _, cert = enrolled("p256")
    expired = T_ISSUE + timedelta(days=800)
    bad = b"\x00" * 8
    with pytest.raises(CertificateNotTrusted):
        verify(cert, payment(), bad, customer_id=2, now=expired, revoked=frozenset({1}))
    with pytest.raises(CertificateExpired):
        verify(cert, payment(), bad, now=expired, revoked=frozenset({1}))
    with pytest.raises(CertificateRevoked):
        verify(cert, payment(), bad, revoked=frozenset({1}))
    with pytest.raises(SignatureInvalid):
        verify(cert, payment(), bad)


@pytest.mark.parametrize(
    "cert_pem",
    [
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        pem_of(b"\x30\x03\x02\x01\x00", "CERTIFICATE"),
        make_csr(generate_key(), "x"),
    ],
)
def test_garbage_certificate_is_not_trusted(cert_pem: bytes) -> None:
    key, _ = enrolled("p256")
    with pytest.raises(CertificateNotTrusted):
        verify(cert_pem, payment(), sign(key, payment()))


def test_garbage_ca_certificate_is_not_trusted() -> None:
    key, cert = enrolled("p256")
    with pytest.raises(CertificateNotTrusted):
        verify(cert, payment(), sign(key, payment()), ca_cert=b"garbage")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00", b"\x30\x00", b"\x30\x06\x02\x01\x01\x02\x01\x01", b"\xff" * 64, b"x" * 1000],
)
def test_garbage_signature_is_invalid(kind: KeyKind, signature: bytes) -> None:
    _, cert = enrolled(kind)
    with pytest.raises(SignatureInvalid):
        verify(cert, payment(), signature)


def test_signature_by_another_key_is_invalid() -> None:
    _, cert = enrolled("p256")
    _, ed_cert = enrolled("ed25519")
    message = payment()
    with pytest.raises(SignatureInvalid):
        verify(cert, message, sign(generate_key("p256"), message))
    with pytest.raises(SignatureInvalid):
        verify(cert, message, sign(generate_key("ed25519"), message))  # wrong algorithm
    with pytest.raises(SignatureInvalid):
        verify(ed_cert, message, sign(generate_key("p256"), message))


def test_errors_have_stable_reasons() -> None:
    assert UKeyError().reason == "ukey_error"
    assert UKeyError("key_type").reason == "key_type"
    assert str(UKeyError("key_type")) == "key_type"
    for cls in (CertificateNotTrusted, CertificateExpired, CertificateRevoked, SignatureInvalid):
        assert issubclass(cls, UKeyError)
        assert cls().reason == cls.reason


# --- Property: a signature authorises exactly the payment signed ----------------------

_party = st.text(
    alphabet=st.sampled_from("0123456789 ABCxyz-张三李四"), min_size=1, max_size=24
).filter(lambda s: s == s.strip())
_payments = st.fixed_dictionaries(
    {
        "payer": _party,
        "payee": _party,
        "amount_minor": st.integers(min_value=1, max_value=10**15),
        "currency": st.sampled_from(["CNY", "USD"]),
        "at": st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2099, 1, 1),
            timezones=st.just(UTC),
        ).map(lambda d: d.replace(microsecond=0)),
        "nonce": st.text(alphabet="abcXYZ019_-", min_size=1, max_size=12),
    }
)


@settings(max_examples=150, deadline=None)
@given(signed=_payments, presented=_payments, kind=st.sampled_from(KINDS))
def test_signature_verifies_only_for_the_signed_payment(
    signed: dict[str, object], presented: dict[str, object], kind: KeyKind
) -> None:
    key, cert = enrolled(kind)
    signed_bytes = canonical_payment(**signed)  # type: ignore[arg-type]
    presented_bytes = canonical_payment(**presented)  # type: ignore[arg-type]
    # One-to-one rendering: different payments, different bytes.
    assert (signed_bytes == presented_bytes) == (signed == presented)
    signature = sign(key, signed_bytes)
    if signed == presented:
        assert verify(cert, presented_bytes, signature) == 1
    else:
        with pytest.raises(SignatureInvalid):
            verify(cert, presented_bytes, signature)


@settings(max_examples=100, deadline=None)
@given(signed=_payments, field=st.sampled_from(sorted(PAYMENT)), data=st.data())
def test_changing_any_one_field_breaks_the_signature(
    signed: dict[str, object], field: str, data: st.DataObject
) -> None:
    key, cert = enrolled("ed25519")
    other = data.draw(_payments)[field]
    presented = {**signed, field: other}
    signature = sign(key, canonical_payment(**signed))  # type: ignore[arg-type]
    presented_bytes = canonical_payment(**presented)  # type: ignore[arg-type]
    if other == signed[field]:
        assert verify(cert, presented_bytes, signature) == 1
    else:
        with pytest.raises(SignatureInvalid):
            verify(cert, presented_bytes, signature)
