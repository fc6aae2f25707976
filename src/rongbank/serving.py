"""What every API process is served with: by ``rongbank up`` and by the benchmarks."""

from __future__ import annotations

import contextlib
import resource

PER_MESSAGE_DEFLATE = False
"""Whether the server agrees to compress WebSocket frames (RFC 7692) when a client
asks, as browsers do. It does not: a chat socket's zlib streams (a compressor and a
decompressor) took ~50 KB of the server's memory, more than the rest of the socket
together (tracemalloc over 350 sockets of the ``websockets`` client: 95 KB a socket
with them, 44 KB without), and each push and frame cost a deflate; a chat event is
a few hundred bytes of JSON."""


def raise_open_files() -> int:
    """Allow this process (and those it starts) as many open files as the hard limit
    allows: a chat socket is one, and the usual soft limit (1,024) caps a process at
    fewer than a thousand connected clients. Returns the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
