"""Settings, read from environment variables with the prefix ``RONGBANK_``."""

from __future__ import annotations

import socket
from datetime import time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("rongbank", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RONGBANK_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of an external server; unset means the embedded server.",
    )
    read_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL for reads that may lag the primary by a moment (account "
        "statements): a standby, e.g. a multi-host URL with "
        "target_session_attrs=prefer-standby. Unset: the primary.",
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    operator_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the staff ledger API until staff logins exist.",
    )
    db_pool_size: int = 10
    group_commit_max_batch: int = 512
    hold_expiry_interval_seconds: float = 5.0
    audit_seal_interval_seconds: float = Field(
        default=5.0, description="How often new audit rows are sealed into the hash chain."
    )
    funding_resolve_interval_seconds: float = Field(
        default=15.0,
        description="How often top-ups and withdrawals without a network answer are settled.",
    )
    card_hash_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC that recognises a bound card without storing its number; "
        "generated into the data dir on first start if unset. Never change it: cards bound "
        "before would no longer be recognised as duplicates.",
    )
    pii_key: SecretStr | None = Field(
        default=None,
        description="Key that seals identity and mobile numbers at rest; generated into the "
        "data dir on first start if unset. To rotate it, set the new one here and the old one "
        "in RONGBANK_PII_OLD_KEYS, then run `rongbank pii encrypt-existing`.",
    )
    pii_old_keys: SecretStr | None = Field(
        default=None,
        description="Earlier personal-data keys, separated by commas, still read until "
        "`rongbank pii encrypt-existing` has re-sealed what they sealed.",
    )
    pii_hash_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMACs that find identity and mobile numbers (logins, "
        "uniqueness, staff search) without storing them; generated into the data dir on "
        "first start if unset. Never change it: every number would have to be hashed again.",
    )
    # A new payout card receives at most this much a day for its first days: as little
    # as a payment the PBoC lets go on fewer than two elements (1,000 yuan a day), for
    # three days, so that a weekend cannot hide the notice of a card a thief bound.
    # Zero days lifts it; see ``rongbank.accounts.rules.NewCardLimit`` for why a bank
    # caps a new card rather than blocking it outright.
    new_card_days: int = Field(
        default=3,
        ge=0,
        le=90,
        description="For how many days after binding a card its lower daily limit applies.",
    )
    new_card_daily_limit: Decimal = Field(
        default=Decimal("1000.00"),
        ge=0,
        max_digits=14,
        decimal_places=2,
        description="Most that may be withdrawn a day, in yuan, to all cards in their first "
        "days together.",
    )
    tool_key: SecretStr | None = Field(
        default=None,
        description="Key that seals token secrets and the bank CA's key and keys the hashes of "
        "grid-card and SMS codes; generated into the data dir on first start if unset. Losing "
        "it makes every issued token, grid card and U盾 certificate useless.",
    )
    tool_limits_file: Path | None = Field(
        default=None,
        description="TOML file with the per-tool payment limits; unset: the figures shipped.",
    )
    challenge_ttl_seconds: int = Field(
        default=300, ge=30, le=1800, description="How long a payment challenge can be answered."
    )
    account_classes_file: Path | None = Field(
        default=None,
        description="TOML file with the e-account class limits; unset: the PBoC figures shipped.",
    )
    lending_products_file: Path | None = Field(
        default=None,
        description="TOML file with the lending products and price grid; unset: those shipped.",
    )
    invest_products_file: Path | None = Field(
        default=None,
        description="TOML file with the e-Invest products (hours, spreads, bounds, price "
        "sources); unset: those shipped.",
    )
    lending_decision_file: Path | None = Field(
        default=None,
        description="TOML file with the credit decision's rules and scorecard features; "
        "unset: those shipped.",
    )
    payments_key: SecretStr | None = Field(
        default=None,
        description="Key from which e-Pay derives merchants' notification-signing keys and "
        "hashes payment codes; generated into the data dir on first start if unset.",
    )
    barcode_limits_file: Path | None = Field(
        default=None,
        description="TOML file with the QR / payment-code limits; unset: the figures shipped.",
    )
    order_ttl_minutes: int = Field(
        default=30, ge=1, le=1440, description="How long a web-shop order can be paid."
    )
    payment_notify_interval_seconds: float = Field(
        default=2.0, description="How often due merchant notifications are sent."
    )
    airline_merchant_id: int | None = Field(
        default=None,
        description="The e-Pay merchant (the airline) paid for flights booked from chat "
        "cards; unset: no flight booking.",
    )
    mall_merchant_id: int | None = Field(
        default=None,
        description="Override of the e-Pay merchant (fee 0) that takes 融e购 checkouts' "
        "payments: its payable is the mall's clearing, paid out to sellers by the mall, "
        "never by e-Pay settlement; unset: the bank's own, opened by 'rongbank up' and "
        "'rongbank seed-demo' (table mall_clearing).",
    )
    mall_reservation_minutes: int = Field(
        default=30, ge=1, le=1440, description="How long a checkout's stock stays reserved."
    )
    mall_receipt_days: int = Field(
        default=10, ge=1, le=60, description="Days after shipping that receipt confirms itself."
    )
    mall_return_days: int = Field(
        default=7, ge=0, le=30, description="Days after receipt before the seller is paid."
    )
    mall_aftersale_days: int = Field(
        default=15,
        ge=0,
        le=90,
        description="Days after receipt a return may be asked for (at least the return "
        "days; after those the seller was paid, and a refund takes its part back).",
    )
    mall_job_interval_seconds: float = Field(
        default=60.0, description="How often reservations, receipts and releases are run."
    )
    payments_allow_private_notify: bool = Field(
        default=False,
        description="Let merchants' notify and return URLs point at private, loopback or "
        "link-local addresses (tests and development only: in production it would let a "
        "merchant aim the bank's servers at its own network).",
    )
    developer_hints: bool = Field(
        default=False,
        description="Show beside challenges the rongbank device commands that stand in for "
        "customers' tools (the SMS one only while the fake SMS gateway is in use): "
        "development and demonstrations only, never for a bank's customers.",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="The bank's address as customers reach it (https://bank.example.cn, "
        "behind a proxy); payment links and QR codes point there. Unset: where this "
        "server listens (see :attr:`public_address`).",
    )
    account_number_prefix: str = Field(
        default="628888", pattern=r"^[0-9]{6,8}$", description="First digits of account numbers."
    )

    chat_recall_seconds: int = Field(
        default=120, ge=0, le=86_400, description="How long a chat message can be recalled."
    )
    chat_send_per_minute: float = Field(
        default=30.0, gt=0, description="Chat messages a user may send per minute, sustained."
    )
    chat_send_burst: int = Field(
        default=10, ge=1, description="Chat messages a user may send at once before the rate."
    )
    chat_lookups_per_hour: float = Field(
        default=10.0,
        gt=0,
        description="Chats a customer may open by mobile number per hour, sustained.",
    )
    chat_lookup_burst: int = Field(
        default=10, ge=1, description="Chats a customer may open by mobile number at once."
    )
    chat_business_hours: str = Field(
        default="09:00-18:00",
        pattern=r"^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$",
        description="When account managers serve chats, Monday to Friday, Beijing time.",
    )
    chat_away_message: str | None = Field(
        default=None, description="What a customer is told when no manager can answer now."
    )
    chat_image_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="Largest image that can be sent in chat."
    )
    chat_file_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Largest file that can be sent in chat."
    )
    chat_image_max_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="Most pixels (width x height x frames) of an image sent in chat.",
    )
    chat_file_types: str = Field(
        default="pdf,txt,csv,docx,xlsx,pptx,odt,ods,odp",
        pattern=r"^[a-z]+(,[a-z]+)*$",
        description="File types that can be sent in chat (decided by content), comma-separated, "
        "from pdf, txt, csv, docx, xlsx, pptx, odt, ods, odp.",
    )
    chat_push_interval_seconds: float = Field(
        default=2.0, description="How often pending push notices are delivered."
    )
    risk_screening_threshold: float = Field(
        default=90.0,
        ge=50,
        le=100,
        description="Watch-list screening: the name score (0-100, pinyin keys compared by "
        "rapidfuzz's ratio) from which a customer or payee is a hit for an analyst. At 90 a "
        "slip in a three-syllable name is a hit (zhangweimin/zhangweiming: 96), another "
        "surname is not (wangweiming: 87), nor a slip in a two-syllable one (zhangwie: 88).",
    )
    risk_screening_interval_seconds: float = Field(
        default=5.0,
        description="How often new customers and saved payees are screened against the "
        "watch lists.",
    )
    risk_engine_enabled: bool = Field(
        default=True,
        description="Whether payments ask the inline fraud engine; off, the old new-payee "
        "check alone (only for `rongbank bench risk`, which measures the engine's cost).",
    )
    risk_model_dir: Path | None = Field(
        default=None,
        description="A fraud model the engine blends with its rules: a folder written by "
        "`rongbank risk model train` on the engine's own feature columns (as recorded with "
        "each decision). None: rules alone.",
    )
    risk_hold_timeout_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long a payment the fraud engine sent to review stays held "
        "before the timeout policy decides it.",
    )
    risk_hold_timeout_outcome: Literal["void", "release"] = Field(
        default="void",
        description="What happens to a held payment nobody decided in time: void (the "
        "money goes back to the payer) or release (it is paid).",
    )
    lending_eod_interval_seconds: float = Field(
        default=300.0,
        description="How often the server checks for a business day (Beijing) whose lending "
        "end of day has not run, and runs it.",
    )
    scheduled_transfer_interval_seconds: float = Field(
        default=60.0,
        description="How often scheduled transfers due today (Beijing time) are paid.",
    )
    wealth_maturity_interval_seconds: float = Field(
        default=60.0,
        description="How often matured fixed-term wealth holdings, and redemptions whose "
        "value date has come, are paid out.",
    )
    wealth_cutoff: time = Field(
        default=time(15, 0),
        description="Beijing time (HH:MM) before which an open-ended wealth product's "
        "purchase or redemption on a business day counts for that day; later ones, and "
        "any on a day off, for the next business day. A product may set its own.",
    )
    holidays_file: Path | None = Field(
        default=None,
        description="TOML file with the days off besides weekends (public holidays); unset: "
        "the mainland China holidays shipped (holidays.toml), for the years it covers.",
    )
    wealth_assessments_per_day: int = Field(
        default=2,
        ge=1,
        le=10,
        description="How many risk-tolerance assessments a customer may take in one "
        "Beijing day (retakes beyond it are refused until the next day).",
    )
    chat_due_notice_days: int = Field(
        default=3, ge=0, le=60, description="How long before a due date its notice is sent."
    )
    chat_booking_grace_seconds: int = Field(
        default=120,
        ge=10,
        le=3600,
        description="How long a paid flight card is left to the request that paid it "
        "before the recovery job may finish it (a card being confirmed is claimed, so "
        "this only has to cover the moment between the payment and the claim).",
    )
    nats_url: str | None = Field(
        default=None,
        description="NATS server (nats://host:4222) for chat fan-out across API processes; "
        "unset: one process serves chat.",
    )
    chat_fanout: Literal["process", "postgres"] = Field(
        default="process",
        description="Without NATS, how chat events reach the sockets of every API process: "
        "'process' (one process serves chat) or 'postgres' (LISTEN/NOTIFY on the bank's "
        "database, which `rongbank up --workers N` sets for N > 1).",
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        description="API processes `rongbank up` runs behind its port; unset: one per CPU.",
    )
    worker_healthcheck_seconds: int = Field(
        default=60,
        ge=1,
        description="With several API processes, how long uvicorn's supervisor waits for a "
        "process to answer its health check (starting up included) before it kills and "
        "replaces it: a process starting on a loaded machine answers late.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token Prometheus sends to scrape /metrics; unset: /metrics answers "
        "404 (the public never reads the bank's metrics).",
    )
    log_json: bool = Field(
        default=True,
        description="Server logs as one JSON object a line (with the request id); false: text.",
    )
    otel_traces: Literal["off", "console", "otlp"] = Field(
        default="off",
        description="OpenTelemetry traces of each request (rongbank.api.tracing): 'console' "
        "prints the spans, 'otlp' sends them to otel_endpoint; needs the otel extra.",
    )
    otel_endpoint: str = Field(
        default="http://localhost:4318/v1/traces",
        description="Where 'otlp' traces go (OTLP over HTTP: a collector, Jaeger, Tempo).",
    )
    otel_sql: bool = Field(
        default=True,
        description="With traces on, a child span for each SQL statement (its text, never "
        "its parameters).",
    )
    otel_service: str = Field(default="rongbank", description="The service.name the traces carry.")
    wal_archive: bool = Field(
        default=True,
        description="The embedded server archives its WAL into <data dir>/wal-archive, for "
        "point-in-time recovery from a `rongbank backup` (`rongbank restore`).",
    )

    @property
    def public_address(self) -> str:
        """The bank's public address without a trailing slash: ``public_url``, else
        this server's own host and port, so that a server on another port or host
        never hands out links to ``127.0.0.1:8000``."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return listening_address(self.host, self.port)


def listening_address(host: str, port: int) -> str:
    """The http address of a server listening on ``host``: a wildcard (every
    interface) is named by this machine's host name, an IPv6 literal in brackets."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (naming the wildcard, not binding it)
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


THROWAWAY_SECRETS = (
    "operator_token",
    "payments_key",
    "tool_key",
    "card_hash_key",
    "pii_key",
    "pii_hash_key",
)
"""The secrets a bank and every process serving it must share."""


def throwaway_secrets() -> dict[str, SecretStr]:
    """Fresh values of :data:`THROWAWAY_SECRETS`, for a bank made for one run (a
    benchmark's): passed to its own platform and to the processes it serves with."""
    import secrets  # here: a serving process never needs it

    return {name: SecretStr(secrets.token_urlsafe(32)) for name in THROWAWAY_SECRETS}
