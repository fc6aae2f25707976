"""What the operating system allows a serving process."""

from __future__ import annotations

import contextlib
import resource


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
