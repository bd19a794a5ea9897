"""The hot path's statements: an instance loaded (and locked) with its open task rows in one
round trip, and rows inserted and updated in Core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import RowMapping, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.core.context import EngineContext
from engine.core.errors import NotFound
from engine.db.models import HumanTask, ProcessInstance


def load_instance(session: Session, instance_id: str, lock: bool = False) -> ProcessInstance:
    """The instance with this public id, row-locked on PostgreSQL if `lock`; raises NotFound."""
    query = select(ProcessInstance).where(ProcessInstance.uuid == instance_id)
    if lock:
        query = query.with_for_update(of=ProcessInstance).execution_options(populate_existing=True)
    row = session.scalars(query.options(joinedload(ProcessInstance.definition))).first()
    if row is None:
        raise NotFound(f"process instance {instance_id} does not exist")
    return row


def open_rows(session: Session, instance: ProcessInstance) -> list[HumanTask]:
    return list(
        session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
            .order_by(HumanTask.id)
        )
    )


@dataclass
class OpenRows:
    """An instance's open task rows, read once while the instance is locked (or known to be none,
    for a new instance). Handed to `run_step`, it spares `sync_tasks` its query, and afterwards
    `rows` holds the open rows after the step (oldest first) without another query."""

    rows: list[HumanTask]


# The two reads of a completion, built once (building a statement costs more than binding values),
# as Core statements whose rows become session objects by `as_loaded` (cheaper than ORM loading).
_INSTANCES = ProcessInstance.__table__


_TASKS = HumanTask.__table__


_OWNER = select(_TASKS.c.instance_id).where(_TASKS.c.uuid == bindparam("task")).scalar_subquery()


_LOCK_OWNER = select(_INSTANCES).where(_INSTANCES.c.id == _OWNER).with_for_update()


_OPEN_AND_TASK = (
    select(_TASKS)
    .where(
        _TASKS.c.instance_id == bindparam("instance"),
        or_(_TASKS.c.status == "open", _TASKS.c.uuid == bindparam("task")),
    )
    .order_by(_TASKS.c.id)
)


Loaded = TypeVar("Loaded", ProcessInstance, HumanTask)


def as_loaded(session: Session, model: type[Loaded], values: RowMapping) -> Loaded:
    """The session's object for a row read by a Core statement (every column of `model`), as if the
    ORM had loaded it: a new persistent object, or the one the session holds with its columns
    refreshed (what `populate_existing` does)."""
    key = session.identity_key(model, (values["id"],))
    held: Loaded | None = session.identity_map.get(key)
    if held is not None:
        for name, value in values.items():
            set_committed_value(held, name, value)
        return held
    obj = model(**values)
    make_transient_to_detached(obj)  # every column set: nothing is read back
    session.add(obj)
    return obj


def lock_task_instance(
    ctx: EngineContext, session: Session, task_id: str
) -> tuple[ProcessInstance, HumanTask, OpenRows]:
    """The instance of a task, row-locked, with the task and the instance's open task rows, in two
    queries (the definition comes from `ctx.definitions`); raises NotFound."""
    connection = session.connection()
    found = connection.execute(_LOCK_OWNER, {"task": task_id}).mappings().first()
    if found is None:
        raise NotFound(f"task {task_id} does not exist")
    instance = as_loaded(session, ProcessInstance, found)
    ctx.definitions.attach(session, instance)
    rows = [
        as_loaded(session, HumanTask, r)
        for r in connection.execute(_OPEN_AND_TASK, {"instance": instance.id, "task": task_id}).mappings()
    ]
    task = next((r for r in rows if r.uuid == task_id), None)
    if task is None:  # removed since the first query
        raise NotFound(f"task {task_id} does not exist")
    return instance, task, OpenRows([r for r in rows if r.status == "open"])


_COMPLETED_DATA = (
    select(_TASKS.c.data)
    .where(_TASKS.c.instance_id == bindparam("instance"), _TASKS.c.status == "completed")
    .order_by(_TASKS.c.completed_at.desc(), _TASKS.c.id.desc())
    .limit(bindparam("limit"))
)


def completed_task_data(session: Session, instance_id: int, limit: int) -> list[Any]:
    """The submitted data of the instance's newest `limit` completed task rows, newest first (pending
    changes flushed first). Prebuilt Core: a quarter of the CPU of building and running it in the ORM."""
    session.flush()
    return list(session.connection().execute(_COMPLETED_DATA, {"instance": instance_id, "limit": limit}).scalars())


_INSERTS = {t: insert(t).returning(t.c.id) for t in (_INSTANCES, _TASKS)}


_UPDATES = {
    # An instance's row is saved over the revision it was loaded at, and the save takes the next one:
    # a step that lost a race (its row changed since it was read) changes nothing and is a 409.
    _INSTANCES: update(_INSTANCES)
    .where(_INSTANCES.c.id == bindparam("row_id"), _INSTANCES.c.revision == bindparam("loaded_revision"))
    .values(revision=_INSTANCES.c.revision + 1),
    _TASKS: update(_TASKS).where(_TASKS.c.id == bindparam("row_id")),
}


def insert_loaded(session: Session, obj: ProcessInstance | HumanTask) -> None:
    """Insert a new object's row by one Core statement (a fraction of an ORM flush's cost) and put
    the object in the session as if it had been loaded: every column is written from the object
    (so set the ones with Python-side defaults first) and nothing is read back; later changes to
    it are flushed as usual."""
    table = type(obj).__table__
    values = {c.key: getattr(obj, c.key) for c in table.columns if c.key != "id"}
    obj.id = session.connection().execute(_INSERTS[table], values).scalar_one()
    for key, value in values.items():
        setattr(obj, key, value)
    make_transient_to_detached(obj)  # every column set: nothing is read back
    session.add(obj)


def update_loaded(session: Session, obj: ProcessInstance | HumanTask, **values: Any) -> None:
    """Change a stored row now by one Core UPDATE; the object takes the values as its loaded state
    (no flush writes them again), and later changes to it are flushed as usual. (A task row's
    `task_groups.offered` follows by trigger.)

    An instance is written only over the revision it was loaded at, and takes the next one (as the
    ORM's `version_id_col` does on a flush); raises StaleDataError, which the unit of work turns into
    a Conflict, when the row changed meanwhile."""
    params = {"row_id": obj.id, **values}
    if isinstance(obj, ProcessInstance):
        params["loaded_revision"] = obj.revision
    changed = session.connection().execute(_UPDATES[type(obj).__table__], params).rowcount
    if changed != 1:
        raise StaleDataError(f"{type(obj).__name__} {obj.id}: the row changed since it was loaded ({changed} rows)")
    if isinstance(obj, ProcessInstance):
        values = {**values, "revision": obj.revision + 1}
    for key, value in values.items():
        set_committed_value(obj, key, value)
