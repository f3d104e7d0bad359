"""The one interface every store of driftctl's memory implements: load what it holds, commit a run.

`commit` hands the store's current state to an `Update` (the pure merge, usually) inside whatever the
store uses to keep two runs from interleaving (a transaction and a lock, or a re-read before a PUT),
and writes what the update returns. So the previous state a run merges into is read as late as
possible, and a concurrent run's first-seen times are merged, never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from driftctl.history.merge import MergedState
from driftctl.model import RunReport, StackSeries

MASK = "***"
Update = Callable[[Mapping[str, StackSeries]], MergedState]


class StoreError(Exception):
    """The store failed (unreachable, corrupt, refused): an operational failure, exit 1. One line."""


class StoreConfigError(StoreError):
    """The store is misconfigured (a bad URL): a usage error, exit 3."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while a store was written; the message says what may have landed."""


class Store(Protocol):
    @property
    def name(self) -> str:
        """What to call the store in a message: a path or a URL without credentials."""
        ...

    def load(self) -> dict[str, StackSeries]:
        """What the store holds for the repository now, keyed by stack id."""
        ...

    def commit(self, run: RunReport, update: Update) -> MergedState:
        """Apply `update` to the current state and store the result with `run`, atomically."""
        ...


def without_password(url: str) -> str:
    """`url` with its password, if any, replaced by `***`: what a message may show of a store URL."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return url.split("@")[-1]
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{parts.username}:{MASK}@{host}", parts.path, parts.query, ""))
