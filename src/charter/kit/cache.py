"""Caches of governance state validated by the ledger head — every one of them registered here.

Every change of governance state appends to the ledger in its own transaction, so the head changes with
each one, and a value computed from that state stays correct while the head is unchanged (docs/decisions.md,
D8). A `HeadCache` answers only for the head a value was computed under. Heads are scoped by database
(`scope_of`): the head text a reader gets (charter.ledger.head) starts with its engine's scope, so two
databases with identical chains never share entries.

Every HeadCache registers itself; `clear_all()` empties them all (the test fixtures call it between tests,
and registering a gate facts provider calls it because facts computed without it are no longer the facts).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_caches: weakref.WeakSet[HeadCache[Any, Any]] = weakref.WeakSet()
_clear_hooks: list[Callable[[], None]] = []
_registry_lock = threading.Lock()
_scopes: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_next_scope = itertools.count(1)


class HeadCache(Generic[K, V]):
    """Values valid while the ledger head is unchanged: `get` answers only for the head they were computed
    under. Bounded (least recently used first out), thread-safe, registered for `clear_all`."""

    def __init__(self, name: str, maxsize: int = 1_024) -> None:
        self.name = name
        self._items: OrderedDict[K, tuple[str, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize
        with _registry_lock:
            _caches.add(self)

    def get(self, key: K, head: str) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != head:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: K, head: str, value: V) -> None:
        with self._lock:
            self._items[key] = (head, value)
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def on_clear(hook: Callable[[], None]) -> None:
    """Also run `hook` on clear_all(): for head-validated state that is not a HeadCache (e.g. a memo)."""
    with _registry_lock:
        _clear_hooks.append(hook)


def clear_all() -> None:
    """Empty every registered cache."""
    with _registry_lock:
        caches = list(_caches)
        hooks = list(_clear_hooks)
    for cache in caches:
        cache.clear()
    for hook in hooks:
        hook()


def registered() -> list[str]:
    """The names of the registered caches (for docs and tests)."""
    with _registry_lock:
        return sorted(c.name for c in _caches)


def scope_of(engine: Any) -> str:
    """A token naming one database engine for the life of the process (head texts start with it)."""
    with _registry_lock:
        scope = _scopes.get(engine)
        if scope is None:
            scope = _scopes[engine] = f"db{next(_next_scope)}"
        return scope
