"""In-process caches the engine context holds: immutable definition rows, short-lived lookups and the
restored workflows of recently stepped instances.

All are per process (each gunicorn worker has its own) and thread-safe.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from engine.core.errors import NotFound
from engine.db.models import ProcessDefinition, ProcessInstance


class DefinitionCache:
    """Process definitions by id, so a step does not read its (immutable) definition row again.

    The cache keeps a detached copy of each row without its spec (the spec is restored once
    into `EngineContext.specs`); `attach` merges a copy into a session without SQL and sets it
    as `instance.definition`.
    """

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[int, ProcessDefinition] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def attach(self, session: Session, instance: ProcessInstance) -> ProcessDefinition:
        """Set `instance.definition` from the cache (no SQL on a hit, one query on a miss); raises NotFound."""
        definition = self.get(session, instance.definition_id)
        set_committed_value(instance, "definition", definition)  # loaded, not a change to save
        return definition

    def get(self, session: Session, definition_id: int) -> ProcessDefinition:
        """The definition as a row of `session` (one query on a miss); raises NotFound.

        Keep a reference to it: the session's identity map alone holds clean rows weakly."""
        with self._lock:
            cached = self._items.get(definition_id)
            if cached is not None:
                self._items.move_to_end(definition_id)
        if cached is not None:
            return session.merge(cached, load=False)
        row = session.get(ProcessDefinition, definition_id)
        if row is None:
            raise NotFound(f"process definition {definition_id} does not exist")
        self._keep(row)
        return row

    def _keep(self, row: ProcessDefinition) -> None:
        loaded = inspect(row).dict
        columns = {
            c.key: loaded[c.key] for c in inspect(ProcessDefinition).column_attrs if c.key in loaded and c.key != "spec"
        }
        copy = ProcessDefinition(**columns)
        make_transient_to_detached(copy)  # unloaded attributes (the spec) load on demand
        with self._lock:
            self._items[row.id] = copy
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class TtlCache:
    """Values that may be reused for `seconds` (by the injected clock); 0 disables the cache."""

    def __init__(self, seconds: float, size: int = 1024) -> None:
        self._ttl = timedelta(seconds=seconds)
        self._items: OrderedDict[Hashable, tuple[datetime, Any]] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key: Hashable, now: datetime) -> Any | None:
        """The value stored under `key` unless it is older than the time to live."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if now - found[0] >= self._ttl:
                del self._items[key]
                return None
            return found[1]

    def put(self, key: Hashable, value: Any, now: datetime) -> None:
        if self._ttl <= timedelta(0):
            return
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class CacheFigures:
    """What a cache did since its process started: for `/healthz` and benchmarks."""

    capacity: int
    size: int
    hits: int
    misses: int
    evictions: int

    @property
    def hit_rate(self) -> float | None:
        asked = self.hits + self.misses
        return self.hits / asked if asked else None


class WorkflowCache:
    """Restored workflows of recently stepped instances, kept for their next step (engine.runtime.warm).

    An entry is the workflow as it was saved at one revision of one definition; `take` hands it out
    only for that revision and definition (the ones in the row the step has locked), and removes it,
    so no two steps ever share a workflow object, and a step that fails never puts it back. Bounded to
    `capacity` entries, least recently used out first; 0 turns the cache off. Thread-safe.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = max(capacity, 0)
        self._items: OrderedDict[int, tuple[int, int, Any]] = OrderedDict()
        self._lock = Lock()
        self._hits = self._misses = self._evictions = 0

    def take(self, instance_id: int, revision: int, definition_id: int) -> Any | None:
        """The workflow kept for this instance at exactly this revision and definition, removed from
        the cache; None (a miss) if there is none or it is of another revision."""
        with self._lock:
            found = self._items.pop(instance_id, None)
            if found is not None and found[:2] == (revision, definition_id):
                self._hits += 1
                return found[2]
            self._misses += 1
            return None

    def put(self, instance_id: int, revision: int, definition_id: int, workflow: Any) -> None:
        """Keep `workflow` as the instance's state at `revision` (call only after that state committed)."""
        if self.capacity == 0:
            return
        with self._lock:
            self._items[instance_id] = (revision, definition_id, workflow)
            self._items.move_to_end(instance_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
                self._evictions += 1

    def discard(self, instance_id: int) -> None:
        with self._lock:
            self._items.pop(instance_id, None)

    def figures(self) -> CacheFigures:
        with self._lock:
            return CacheFigures(self.capacity, len(self._items), self._hits, self._misses, self._evictions)
