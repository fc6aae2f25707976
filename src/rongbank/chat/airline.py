"""The airline behind flight cards (the 工银e商友 business-traveller scenario).

An airline is outside the bank: it is reached through :class:`Airline` only, and the
bank never trusts it with money. A booking is: hold a seat, take the customer's
payment (authorised and held in e-Pay, to the airline's merchant account), confirm
the hold with the airline, then capture; if the airline fails to confirm, the
payment is voided and the seat released, so the customer's money is never taken for
a seat they did not get.

:class:`FakeAirline` is the in-memory stand-in for development and tests: a few
flights a day on any route, seats that run out, holds that lapse, and a switch to
make confirmation fail.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from rongbank.clock import Clock

CHINA = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class FlightOffer:
    """A fare for one seat on one flight, valid until ``expires_at``; ``fare`` in fen."""

    offer_id: str
    airline: str
    flight_no: str
    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    cabin: str
    fare: int
    currency: str
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "offer_id": self.offer_id,
            "airline": self.airline,
            "flight_no": self.flight_no,
            "origin": self.origin,
            "destination": self.destination,
            "departs_at": self.departs_at.isoformat(),
            "arrives_at": self.arrives_at.isoformat(),
            "cabin": self.cabin,
            "fare": self.fare,
            "currency": self.currency,
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlightOffer:
        values = dict(data)
        for name in ("departs_at", "arrives_at", "expires_at"):
            values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class SeatHold:
    hold_ref: str
    expires_at: datetime


class AirlineError(Exception):
    """The airline refused or failed (sold out, hold lapsed, its system down); the
    bank's side of the booking is undone."""


class Airline(Protocol):
    def search(self, *, origin: str, destination: str, day: date) -> list[FlightOffer]: ...

    def hold(self, offer: FlightOffer, *, passenger: str) -> SeatHold:
        """Reserve one seat for the offer; raises :class:`AirlineError` if none is left."""
        ...

    def confirm(self, hold_ref: str, *, payment_ref: str) -> str:
        """Ticket a held seat (paid by ``payment_ref``); returns the booking reference.
        Confirming the same hold again answers the same reference."""
        ...

    def release(self, hold_ref: str) -> None:
        """Give a held seat back; releasing twice, or a lapsed hold, is harmless."""
        ...


@dataclass
class _Hold:
    flight: tuple[str, date]
    expires_at: datetime
    booking_ref: str | None = None


@dataclass
class FakeAirline:
    """An in-memory airline for development and tests (not a real inventory)."""

    clock: Clock
    seats_per_flight: int = 9
    hold_minutes: int = 20
    fail_confirm: bool = False
    """Tests set it to make the next confirmations fail as a real airline's can."""
    code: str = "FA"
    _holds: dict[str, _Hold] = field(default_factory=dict)
    _taken: dict[tuple[str, date], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def search(self, *, origin: str, destination: str, day: date) -> list[FlightOffer]:
        origin, destination = origin.strip().upper(), destination.strip().upper()
        if origin == destination:
            return []
        now = self.clock.now()
        offers = []
        for number, departs in enumerate((time(8, 0), time(13, 30), time(19, 15)), start=1):
            flight_no = f"{self.code}{_route_number(origin, destination)}{number}"
            if self.seats_left(flight_no, day) <= 0:
                continue
            start = datetime.combine(day, departs, tzinfo=CHINA)
            if start <= now:
                continue
            offers.append(
                FlightOffer(
                    offer_id=f"{flight_no}-{day.isoformat()}-Y",
                    airline="Fake Air",
                    flight_no=flight_no,
                    origin=origin,
                    destination=destination,
                    departs_at=start,
                    arrives_at=start + timedelta(hours=2, minutes=10),
                    cabin="economy",
                    fare=80_000 + 10_000 * number,
                    currency="CNY",
                    expires_at=min(start, now + timedelta(hours=2)),
                )
            )
        return offers

    def seats_left(self, flight_no: str, day: date) -> int:
        with self._lock:
            self._drop_lapsed()
            return self.seats_per_flight - self._taken.get((flight_no, day), 0)

    def hold(self, offer: FlightOffer, *, passenger: str) -> SeatHold:
        flight = (offer.flight_no, offer.departs_at.astimezone(CHINA).date())
        with self._lock:
            self._drop_lapsed()
            if self._taken.get(flight, 0) >= self.seats_per_flight:
                raise AirlineError("sold out")
            self._taken[flight] = self._taken.get(flight, 0) + 1
            ref = "H" + secrets.token_hex(6).upper()
            expires = self.clock.now() + timedelta(minutes=self.hold_minutes)
            self._holds[ref] = _Hold(flight, expires)
        return SeatHold(ref, expires)

    def confirm(self, hold_ref: str, *, payment_ref: str) -> str:
        with self._lock:
            hold = self._holds.get(hold_ref)
            if hold is not None and hold.booking_ref is not None:
                return hold.booking_ref
            if self.fail_confirm:
                raise AirlineError("the airline's ticketing system did not answer")
            if hold is None or hold.expires_at <= self.clock.now():
                raise AirlineError("the seat hold has lapsed")
            hold.booking_ref = hashlib.sha256(payment_ref.encode()).hexdigest()[:6].upper()
            return hold.booking_ref

    def release(self, hold_ref: str) -> None:
        with self._lock:
            hold = self._holds.get(hold_ref)
            if hold is not None and hold.booking_ref is None:
                del self._holds[hold_ref]
                self._taken[hold.flight] -= 1

    def _drop_lapsed(self) -> None:
        now = self.clock.now()
        for ref, hold in list(self._holds.items()):
            if hold.booking_ref is None and hold.expires_at <= now:
                del self._holds[ref]
                self._taken[hold.flight] -= 1


def _route_number(origin: str, destination: str) -> str:
    return str(int(hashlib.sha256(f"{origin}-{destination}".encode()).hexdigest(), 16) % 900 + 100)
