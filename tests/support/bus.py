"""A chat bus that keeps what was published, for tests that check who is told."""

from __future__ import annotations

import threading

from rongbank.chat.bus import Event, InProcessBus


class RecordingBus(InProcessBus):
    """The in-process bus, keeping what each thread published (the unit of work
    publishes in the thread that committed)."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def publish(self, topic: str, event: Event) -> None:
        self.published_here().append((topic, event))
        super().publish(topic, event)

    def published_here(self) -> list[tuple[str, Event]]:
        if not hasattr(self._local, "published"):
            self._local.published = []
        published: list[tuple[str, Event]] = self._local.published
        return published

    def recorded(self) -> list[tuple[str, Event]]:
        """What this thread publishes from now on (what it published before is
        forgotten): the unit of work publishes after commit, in this thread."""
        published = self.published_here()
        published.clear()
        return published
