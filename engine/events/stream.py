"""The event stream: every change of state is an event written in the same transaction.

Notifications (the in-app bell, email, chat) and webhooks are derived from events by
subscribers, registered by the composition root (`engine.bootstrap`) with `subscribe`;
`record` calls each with the new event, and they add rows or enqueue jobs
(`engine.runtime.jobs.enqueue`) in the same transaction, so nothing is sent for a step that
rolled back and nothing committed is lost (the outbox). `record` refuses to run before any
subscriber is registered: a process that forgot the bootstrap would silently notify no one.

The events are the audit trail, so they are tamper-evident: each row carries `seq`,
`prev_hash` and `hash` = SHA-256 over a canonical JSON of its content and `prev_hash`.
`record` only keeps the event in the session's pending list; when the transaction commits
(or first reads events), `_write_pending` takes the chain lock (an advisory transaction lock
on PostgreSQL; SQLite writers are already serialized), links the events and inserts them in
one batch, so the lock is held only for that insert and the commit. On PostgreSQL a trigger
(migration 0008) refuses UPDATE and DELETE of events; `verify` finds any changed, missing or
reordered row.

Cost per transaction (PostgreSQL): the lock, one head read, one batched insert. The lock and
the head read stay two statements on purpose: under READ COMMITTED a statement's snapshot is
taken when it starts, so a head read in the same statement as `pg_advisory_xact_lock` would not
see events committed by the writer it waited for, and the chain would fork. The head read is
`seq = max(seq)` on the unique `seq` index (one index probe). Small tables that outgoing
subscribers must see fresh can ride on that statement: `read_with_head` registers a companion
(e.g. the active webhook subscriptions) whose rows come back in the same round trip, read after
the chain lock (so anything committed before this transaction's events are linked is seen),
and a hook that gets the rows with the batch of events being written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnExpressionArgument,
    Executable,
    String,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import ORMExecuteState, QueryableAttribute, Session

from engine.db.models import SEARCH_TEXT_LIMIT, Event, ProcessInstance, new_uuid

Subscriber = Callable[[Session, Event, "ProcessInstance | None"], None]
Batch = list[tuple[Event, "ProcessInstance | None"]]

_subscribers: list[Subscriber] = []  # registered by engine.bootstrap

PENDING = "pmoflow_audit_pending"
GENESIS = "0" * 64
CHAIN_LOCK = 0x706D6F61  # PostgreSQL advisory lock key of the chain ("pmoa")
SYSTEM_ACTORS = frozenset({"system", "cli", "worker", "timer", "connector", "scheduler"})
HASHED = (
    "uuid",
    "type",
    "occurred_at",
    "instance_uuid",
    "business_key",
    "definition_key",
    "definition_version",
    "task_uuid",
    "element_id",
    "actor",
    "actor_kind",
    "token_id",
    "on_behalf_of",
    "data",
)


@dataclass(frozen=True)
class Credential:
    """The API token a request authenticated with: writes in it are attributed to the token."""

    username: str
    token_id: int


_credential: ContextVar[Credential | None] = ContextVar("pmoflow_audit_credential", default=None)


def bind_token(username: str, token_id: int) -> Token[Credential | None]:
    """Attribute events of `username` to this API token until `unbind(returned)`."""
    return _credential.set(Credential(username, token_id))


def unbind(handle: Token[Credential | None]) -> None:
    _credential.reset(handle)


def clear_token() -> None:
    """Attribute no further events to an API token in this context."""
    _credential.set(None)


@contextmanager
def token_scope(username: str, token_id: int) -> Iterator[None]:
    """Within the block, events of `username` are attributed to the API token `token_id`."""
    handle = bind_token(username, token_id)
    try:
        yield
    finally:
        unbind(handle)


def subscribe(fn: Subscriber) -> Subscriber:
    """Register `fn(session, event, instance)`, called for every event recorded from now on (once, however
    often it is registered)."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def subscribers() -> tuple[Subscriber, ...]:
    """The registered subscribers, in the order `record` calls them."""
    return tuple(_subscribers)


@dataclass(frozen=True)
class Companion:
    """Rows read in the chain-head statement, and what to do with them for the events being written.

    `columns()` gives (an integer column, a JSON column, a WHERE clause) of one table;
    `on_write(session, rows, batch)` gets [(integer, json value), ...] and the batch of
    (event, instance) pairs, before they are inserted (it may add rows to the session).
    """

    name: str
    columns: Callable[[], tuple[QueryableAttribute[int], QueryableAttribute[Any], ColumnExpressionArgument[bool]]]
    on_write: Callable[[Session, list[tuple[int, Any]], Batch], None]


_companions: dict[str, Companion] = {}


def read_with_head(companion: Companion) -> Companion:
    """Register `companion`: its rows come back with the chain head of every batch written from now on."""
    _companions[companion.name] = companion
    return companion


def companions() -> tuple[Companion, ...]:
    """The registered companions of the chain-head read."""
    return tuple(_companions.values())


def record(
    session: Session,
    type_: str,
    at: datetime,
    *,
    instance: ProcessInstance | None = None,
    actor: str | None = None,
    task_uuid: str | None = None,
    element_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Add an event to the current transaction (written at commit) and hand it to the subscribers;
    raises RuntimeError when none is registered (`engine.bootstrap.bootstrap` was not called)."""
    if not _subscribers:
        raise RuntimeError("no event subscribers are registered: call engine.bootstrap.bootstrap() first")
    payload = _plain(data or {})
    credential = _credential.get()
    if actor is None or actor in SYSTEM_ACTORS:
        kind, token_id = "system", None
    elif credential is not None and credential.username == actor:
        kind, token_id = "token", credential.token_id
    else:
        kind, token_id = "user", None
    behalf = payload.get("on_behalf_of") if isinstance(payload.get("on_behalf_of"), str) else None
    event = Event(
        uuid=new_uuid(),
        type=type_,
        occurred_at=at,
        instance_id=instance.id if instance is not None else None,
        actor=actor,
        task_uuid=task_uuid,
        element_id=element_id,
        data=payload,
        actor_kind=kind,
        token_id=token_id,
        on_behalf_of=behalf,
        search_text=searchable(payload, element_id),
    )
    if instance is None and type_.endswith("_deployed") and isinstance(payload.get("version"), int):
        event.definition_key, event.definition_version = str(payload.get("key")), payload["version"]
    session.info.setdefault(PENDING, []).append((event, instance))
    for subscriber in _subscribers:
        subscriber(session, event, instance)
    return event


def searchable(data: dict[str, Any], element_id: str | None = None) -> str:
    """The words of an event that the auditor's text search looks in: the values in its data."""
    words: list[str] = [element_id] if element_id else []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif value is not None and not isinstance(value, bool):
            words.append(str(value))

    walk(data)
    return " ".join(words)[:SEARCH_TEXT_LIMIT]


def pending(session: Session) -> list[Event]:
    """Events recorded in this transaction and not yet written."""
    return [ev for ev, _ in session.info.get(PENDING, [])]


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """The data as it will read back from the JSON column (so the hash can be checked later)."""
    plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return plain


def canonical(row: Event) -> dict[str, Any]:
    """The hashed content of an event (everything but id, seq and the hashes)."""
    values = {name: getattr(row, name) for name in HASHED}
    values["occurred_at"] = row.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    return values


def chain_hash(content: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of `content` plus `prev_hash`."""
    body = json.dumps(
        {**content, "prev_hash": prev_hash}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(body.encode()).hexdigest()


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def lock(session: Session) -> None:
    """Take the chain lock now (PostgreSQL; held to the end of the transaction). A change that
    companions read (deleting a webhook subscription) takes it first, so its row lock is never
    waited for by a writer that holds the chain lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_LOCK, {"key": CHAIN_LOCK})


_head_query: tuple[tuple[str, ...], Executable] | None = None


def _head_statement() -> Executable:
    """The chain-head read with the companions' rows, built once (and again if a companion is added)."""
    global _head_query
    names = tuple(_companions)
    if _head_query is None or _head_query[0] != names:
        head = select(
            literal("").label("k"), Event.seq.label("n"), Event.hash.label("h"), cast(null(), JSON).label("v")
        ).where(Event.seq == select(func.max(Event.seq)).scalar_subquery())
        parts = [head]
        for name, companion in _companions.items():
            number, value, where = companion.columns()
            parts.append(select(literal(name), number, cast(null(), String), value).where(where))
        _head_query = names, (union_all(*parts) if len(parts) > 1 else head)
    return _head_query[1]


def _head(session: Session) -> tuple[int, str, dict[str, list[tuple[int, Any]]]]:
    """Lock the chain; return its last (seq, hash) and the companions' rows (one statement after the lock)."""
    lock(session)
    seq, prev = 0, GENESIS
    rows: dict[str, list[tuple[int, Any]]] = {name: [] for name in _companions}
    for key, number, hash_, value in session.execute(_head_statement(), execution_options={"pmoflow_chain": True}):
        if key == "":
            seq, prev = int(number), str(hash_)
        else:
            rows[key].append((int(number), json.loads(value) if isinstance(value, str) else value))
    return seq, prev, rows


COLUMNS = tuple(c.key for c in Event.__table__.columns if c.key != "id")
_INSERT = insert(Event.__table__)
# PostgreSQL: every row of the batch in one JSON parameter of one statement whose text never changes,
# so it stays prepared (psycopg's executemany runs a pipeline that polls while it waits, and a
# multi-row VALUES statement has new text for each batch size, parsed every time).
_NAMES = ", ".join(COLUMNS)  # the model's own column names
_INSERT_JSON = text(
    f"INSERT INTO events ({_NAMES}) SELECT {_NAMES} FROM json_populate_recordset(NULL::events, CAST(:rows AS json))"  # noqa: S608
)


def _insert_events(session: Session, events: list[Event]) -> None:
    connection = session.connection()
    rows = [{name: getattr(ev, name) for name in COLUMNS} for ev in events]
    if connection.dialect.name != "postgresql":
        connection.execute(_INSERT, rows)
        return
    for row in rows:
        row["occurred_at"] = row["occurred_at"].isoformat()
    connection.execute(_INSERT_JSON, {"rows": json.dumps(rows, separators=(",", ":"), default=str)})


def _write_pending(session: Session) -> None:
    """Link this transaction's pending events to the chain and insert them in one batch.

    The rows go in through one Core INSERT (the event objects stay transient: nothing reads
    an event's id in the transaction that wrote it), which costs a fraction of an ORM flush."""
    batch = session.info.pop(PENDING, None)
    if not batch:
        return
    session.flush()  # instances created in this transaction get their ids and uuids
    definitions: dict[int, tuple[str, int]] = {}
    for ev, instance in batch:
        if instance is not None:
            ev.instance_id = instance.id
            ev.instance_uuid = instance.uuid
            ev.business_key = instance.business_key
            if instance.definition_id not in definitions:
                definitions[instance.definition_id] = (instance.definition.key, instance.definition.version)
            ev.definition_key, ev.definition_version = definitions[instance.definition_id]
    seq, prev, companions = _head(session)
    for ev, _ in batch:
        seq += 1
        ev.seq, ev.prev_hash = seq, prev
        ev.hash = prev = chain_hash(canonical(ev), ev.prev_hash)
    _insert_events(session, [ev for ev, _ in batch])
    for name, rows_ in companions.items():
        if rows_:
            _companions[name].on_write(session, rows_, batch)
    session.flush()


@sa_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    _write_pending(session)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


@sa_event.listens_for(Session, "do_orm_execute")
def _before_event_read(state: ORMExecuteState) -> None:
    """A read of events inside the transaction sees the ones recorded so far."""
    if state.is_select and state.session.info.get(PENDING) and not state.execution_options.get("pmoflow_chain"):
        if any(m.class_ is Event for m in state.all_mappers):
            _write_pending(state.session)


# ---------------------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class BrokenLink:
    """The first place where the chain does not hold: `problem` is changed, missing or reordered."""

    seq: int
    event_id: str
    problem: str
    detail: str

    def __str__(self) -> str:
        return f"seq {self.seq} (event {self.event_id}): {self.problem}: {self.detail}"


@dataclass(frozen=True)
class Verification:
    checked: int
    head_seq: int
    head_hash: str
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(session: Session, batch: int = 5000) -> Verification:
    """Walk the chain in seq order and report the first changed, missing or reordered event."""
    last_seq, last_hash, last_uuid, checked = 0, GENESIS, "", 0
    query = select(Event).order_by(Event.seq).execution_options(yield_per=batch, pmoflow_chain=True)
    result = session.scalars(query)
    try:
        for row in result:
            broken = _check(session, row, last_seq, last_hash, last_uuid)
            if broken is not None:
                return Verification(checked, last_seq, last_hash, broken)
            last_seq, last_hash, last_uuid, checked = row.seq, row.hash, row.uuid, checked + 1
            session.expunge(row)
    finally:
        result.close()
    return Verification(checked, last_seq, last_hash, None)


def _check(session: Session, row: Event, last_seq: int, last_hash: str, last_uuid: str) -> BrokenLink | None:
    own = chain_hash(canonical(row), row.prev_hash) == row.hash
    if row.prev_hash == last_hash and row.seq == last_seq + 1:
        if own:
            return None
        return BrokenLink(row.seq, row.uuid, "changed", "its content no longer matches its hash")
    if row.prev_hash == last_hash:
        return BrokenLink(row.seq, row.uuid, "changed", f"its seq was altered (expected {last_seq + 1})")
    if not own:
        return BrokenLink(row.seq, row.uuid, "changed", "its content no longer matches its hash")
    before = session.execute(
        select(Event.seq, Event.uuid).where(Event.hash == row.prev_hash).execution_options(pmoflow_chain=True)
    ).first()
    if before is not None:
        return BrokenLink(
            row.seq,
            row.uuid,
            "reordered",
            f"it belongs after seq {before[0]} (event {before[1]}), not after seq {last_seq}",
        )
    if row.seq > last_seq + 1:
        missing = f"seq {last_seq + 1}" if row.seq == last_seq + 2 else f"seq {last_seq + 1}..{row.seq - 1}"
        return BrokenLink(row.seq, row.uuid, "missing", f"{missing} before it was removed")
    if last_seq == 0:
        return BrokenLink(row.seq, row.uuid, "changed", "the first event does not start the chain")
    return BrokenLink(
        last_seq, last_uuid, "changed", f"it was rewritten: seq {row.seq} was chained to a different event before it"
    )


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)
