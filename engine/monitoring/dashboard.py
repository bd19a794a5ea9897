"""The PMO dashboard: figures per process, per step and per group, each with the filter that
lists the instances behind it (`engine.monitoring.filters.InstanceFilter` as URL parameters).

Process and step figures are about the instances *started* in the period (a cohort), so
every number can be listed with the same filter. Group figures are the open work now.
Aggregates run in SQL (GROUP BY); percentiles use `percentile_cont` on PostgreSQL and are
computed in Python over one bounded, ordered query on SQLite.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, text
from sqlalchemy.orm import Session

from engine.core import bounds
from engine.core.context import EngineContext
from engine.core.errors import InvalidInput
from engine.core.permissions import Actor, require
from engine.db.models import DeploymentFile, HumanTask, ProcessDefinition, ProcessInstance, TaskGroup
from engine.monitoring.filters import day_start, late_task, rejected_task
from engine.sla import state as sla

MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30
SQLITE_PERCENTILE_ROWS = 200_000  # SQLite computes percentiles in Python over at most this many rows
STATUS_ORDER = ("completed", "running", "error", "cancelled")
WORK_MEM = "64MB"
HEAT_LEVELS = 5
HEAT_FLOOR_SECONDS = 60.0  # steps whose median wait is under a minute are all "quick": not coloured apart
HEAT_SAME_SHARE = 0.1  # medians within 10% of the longest are "about the same": not coloured apart


@dataclass(frozen=True)
class Figure:
    """A number and the monitor filter listing the instances behind it."""

    value: int
    filters: dict[str, str]


@dataclass(frozen=True)
class ProcessFigures:
    key: str
    name: str
    started: Figure
    completed: Figure
    in_progress: Figure
    in_error: Figure
    cancelled: Figure
    median_cycle_seconds: float | None
    p90_cycle_seconds: float | None
    sla_rate: float | None  # percent of tasks with a due time done on time (or still in time)
    sla_breached: Figure
    rejections: Figure


@dataclass(frozen=True)
class DayCount:
    day: date
    started: int
    completed: int


@dataclass(frozen=True)
class StepFigures:
    element_id: str
    name: str
    completed: int
    median_wait_seconds: float | None
    open: Figure
    overdue: Figure
    heat: int | None  # 0 (shortest) .. HEAT_LEVELS - 1 (longest) on the scale of `Dashboard.heat`; None: no task done


@dataclass(frozen=True)
class HeatScale:
    """How the heat map colours steps: by median wait, from `low` (lightest) to `high` (darkest), in seconds.

    `graded` is False when the medians are too close to tell apart (the longest is under HEAT_FLOOR_SECONDS,
    or within HEAT_SAME_SHARE of the shortest): every step then gets the lightest colour, none is "longest".
    """

    low: float
    high: float
    graded: bool


@dataclass(frozen=True)
class GroupFigures:
    group: str
    open: Figure
    overdue: Figure


@dataclass(frozen=True)
class Dashboard:
    since: date
    until: date
    process: str | None  # the filter given (None: all processes)
    processes: list[ProcessFigures]
    days: list[DayCount]
    step_process: str | None  # whose steps are shown (the filter, or the busiest process)
    steps: list[StepFigures]
    groups: list[GroupFigures]
    bpmn_xml: str | None  # the diagram of step_process's latest version
    all_processes: list[str] = field(default_factory=list)
    heat: HeatScale | None = None  # None: no step has a finished task


def period(since: str | None, until: str | None, today: date) -> tuple[date, date]:
    """Parse the period (inclusive dates); default the last 30 days; raises InvalidInput."""
    errors = {}
    parsed: dict[str, date | None] = {}
    for name, raw in (("since", since), ("until", until)):
        try:
            parsed[name] = bounds.day(raw) if raw and raw.strip() else None
        except ValueError as err:
            errors[name] = str(err)
    if errors:
        raise InvalidInput("invalid period: " + ", ".join(f"{k} {v}" for k, v in errors.items()), {"fields": errors})
    end = parsed["until"] or today
    start = parsed["since"] or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise InvalidInput("since must not be after until", {"fields": {"since": "after until"}})
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise InvalidInput(f"the period may span at most {MAX_PERIOD_DAYS} days", {"fields": {"since": "too early"}})
    return start, end


def overview(ctx: EngineContext, actor: Actor, since: date, until: date, process: str | None = None) -> Dashboard:
    """All dashboard figures for instances started from `since` to `until` (inclusive); raises Forbidden."""
    require(actor, "instance.monitor")
    now = ctx.clock.now()
    with ctx.uow(write=False) as uow:
        s = uow.session
        if uow.dialect == "postgresql":  # analytic queries: sort and hash in memory, not on disk
            s.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        q = _Queries(s, uow.dialect, since, until, process, now)
        processes = q.processes()
        step_process = process or (max(processes, key=lambda p: p.started.value).key if processes else None)
        steps, heat = q.steps(step_process) if step_process else ([], None)
        xml = _latest_xml(s, step_process) if step_process else None
        keys = list(s.scalars(select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)))
        return Dashboard(
            since=since,
            until=until,
            process=process,
            processes=processes,
            days=q.days(),
            step_process=step_process,
            steps=steps,
            groups=q.groups(),
            bpmn_xml=xml,
            all_processes=keys,
            heat=heat,
        )


class _Queries:
    """The dashboard's SQL, for one period and (optionally) one process."""

    def __init__(
        self, session: Session, dialect: str, since: date, until: date, process: str | None, now: datetime
    ) -> None:
        self.s, self.pg, self.now, self.process = session, dialect == "postgresql", now, process
        self.start, self.end = day_start(since), day_start(until + timedelta(days=1))
        self.base = {"started_from": since.isoformat(), "started_to": until.isoformat()}
        # Process keys come from a CASE over definition ids, so the big scans need no join (a join made
        # PostgreSQL pick a nested loop over every task row); versions of one key add up.
        defs = session.execute(select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.name)).all()
        self.ids: dict[str, list[int]] = defaultdict(list)
        self.names: dict[str, str] = {}
        for pk, key, name in defs:
            self.ids[key].append(pk)
            self.names[key] = name or self.names.get(key) or key
        self.key = case({pk: key for pk, key, _ in defs} or {0: ""}, value=ProcessInstance.definition_id)

    def of_process(self, key: str) -> ColumnElement[bool]:
        return ProcessInstance.definition_id.in_(self.ids.get(key) or [0])

    def cohort(self) -> list[ColumnElement[bool]]:
        where = [ProcessInstance.created_at >= self.start, ProcessInstance.created_at < self.end]
        if self.process:
            where.append(self.of_process(self.process))
        return where

    def cohort_tasks(self) -> list[ColumnElement[bool]]:
        """The cohort, for queries joining its tasks: a task is never older than its instance, so the
        task table can be narrowed by its own index before the join."""
        return [*self.cohort(), HumanTask.created_at >= self.start]

    def link(self, **extra: str) -> dict[str, str]:
        return {**self.base, **extra}

    def seconds(self, later: Any, earlier: Any) -> Any:
        if self.pg:
            return func.extract("epoch", later - earlier)
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0

    def percentile_columns(self, secs: Any, only: ColumnElement[bool]) -> list[Any]:
        """PostgreSQL: median and p90 of `secs` over the rows matching `only` (percentile_cont skips NULLs)."""
        ordered = case((only, secs), else_=None)
        return [func.percentile_cont(0.5).within_group(ordered), func.percentile_cont(0.9).within_group(ordered)]

    def sqlite_percentiles(
        self, group: Any, secs: Any, where: Sequence[ColumnElement[bool]], tasks: bool
    ) -> dict[str, tuple[float | None, float | None]]:
        """SQLite: group -> (median, p90) in seconds, computed here over one ordered, bounded query."""
        query = select(group, secs).select_from(ProcessInstance)
        if tasks:
            query = query.join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
        values: dict[str, list[float]] = defaultdict(list)
        for k, v in self.s.execute(query.where(*where).order_by(group, secs).limit(SQLITE_PERCENTILE_ROWS)):
            values[k].append(float(v))
        return {k: (_seconds(percentile(v, 0.5)), _seconds(percentile(v, 0.9))) for k, v in values.items()}

    def processes(self) -> list[ProcessFigures]:
        status = ProcessInstance.status
        done = status == "completed"
        cycle = self.seconds(ProcessInstance.ended_at, ProcessInstance.created_at)
        key_column = self.key.label("key")
        columns = [key_column, func.count(), *(func.sum(case((status == st, 1), else_=0)) for st in STATUS_ORDER)]
        if self.pg:
            columns += self.percentile_columns(cycle, done)
        rows = self.s.execute(
            select(*columns).select_from(ProcessInstance).where(*self.cohort()).group_by(key_column)
        ).all()
        cycles = (
            {r[0]: (_seconds(r[-2]), _seconds(r[-1])) for r in rows}
            if self.pg
            else self.sqlite_percentiles(self.key, cycle, [*self.cohort(), done], tasks=False)
        )
        tasks = self.task_figures()
        result = []
        for row in sorted(rows, key=lambda r: r[0]):
            key: str = row[0]
            name, started = self.names.get(key, key), int(row[1])
            by_status = dict(zip(STATUS_ORDER, (int(v or 0) for v in row[2 : 2 + len(STATUS_ORDER)]), strict=True))
            decided_n, late_n, breached_n, rejected_n = tasks.get(key, (0, 0, 0, 0))
            median, p90 = cycles.get(key, (None, None))
            result.append(
                ProcessFigures(
                    key=key,
                    name=name,
                    started=Figure(started, self.link(process=key)),
                    completed=Figure(by_status["completed"], self.link(process=key, status="completed")),
                    in_progress=Figure(by_status["running"], self.link(process=key, status="running")),
                    in_error=Figure(by_status["error"], self.link(process=key, status="error")),
                    cancelled=Figure(by_status["cancelled"], self.link(process=key, status="cancelled")),
                    median_cycle_seconds=median,
                    p90_cycle_seconds=p90,
                    sla_rate=round(100.0 * (decided_n - late_n) / decided_n, 1) if decided_n else None,
                    sla_breached=Figure(breached_n, self.link(process=key, sla="breached")),
                    rejections=Figure(rejected_n, self.link(process=key, rejected="1")),
                )
            )
        return result

    def task_figures(self) -> dict[str, tuple[int, int, int, int]]:
        """key -> (tasks with an SLA decided, of them late, instances with a late task, instances with a rejection).

        One pass over the cohort's tasks, hash-aggregated per instance, then summed per definition (versions
        of one process add up here).
        """
        has_due, overdue = HumanTask.due_at.is_not(None), sla.overdue_condition(HumanTask.due_at, self.now)
        late = case((late_task(self.now), 1), else_=0)
        decided = case(
            (and_(has_due, or_(HumanTask.status == "completed", and_(HumanTask.status == "open", overdue))), 1), else_=0
        )
        per = (
            select(
                ProcessInstance.definition_id.label("definition_id"),
                func.sum(decided).label("decided"),
                func.sum(late).label("late"),
                func.max(case((rejected_task(), 1), else_=0)).label("rejected"),
            )
            .select_from(ProcessInstance)
            .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
            .where(*self.cohort_tasks())
            .group_by(ProcessInstance.id, ProcessInstance.definition_id)
            .subquery()
        )
        rows = self.s.execute(
            select(
                per.c.definition_id,
                func.sum(per.c.decided),
                func.sum(per.c.late),
                func.sum(case((per.c.late > 0, 1), else_=0)),
                func.sum(per.c.rejected),
            ).group_by(per.c.definition_id)
        ).all()
        key_of = {pk: key for key, pks in self.ids.items() for pk in pks}
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for pk, *values in rows:
            total = totals[key_of.get(pk, "")]
            for i, v in enumerate(values):
                total[i] += int(v or 0)
        return {k: (v[0], v[1], v[2], v[3]) for k, v in totals.items()}

    def day_of(self, column: Any) -> Any:
        return func.date(func.timezone("UTC", column)) if self.pg else func.date(column)

    def days(self) -> list[DayCount]:
        started = self._per_day(ProcessInstance.created_at, [])
        completed = self._per_day(ProcessInstance.ended_at, [ProcessInstance.status == "completed"])
        first, last = self.start.date(), self.end.date() - timedelta(days=1)
        return [
            DayCount(d, started.get(d, 0), completed.get(d, 0))
            for d in (first + timedelta(days=i) for i in range((last - first).days + 1))
        ]

    def _per_day(self, column: Any, extra: list[ColumnElement[bool]]) -> dict[date, int]:
        day = self.day_of(column)
        rows = self.s.execute(
            select(day, func.count())
            .select_from(ProcessInstance)
            .where(*self.cohort(), column.is_not(None), *extra)
            .group_by(day)
        ).all()
        return {d if isinstance(d, date) else date.fromisoformat(str(d)): int(n) for d, n in rows if d is not None}

    def steps(self, key: str) -> tuple[list[StepFigures], HeatScale | None]:
        where = [
            ProcessInstance.created_at >= self.start,
            ProcessInstance.created_at < self.end,
            self.of_process(key),
            HumanTask.created_at >= self.start,
        ]
        done, is_open = HumanTask.status == "completed", HumanTask.status == "open"
        wait = self.seconds(HumanTask.completed_at, HumanTask.created_at)
        columns = [
            HumanTask.element_id,
            func.max(HumanTask.name),
            func.sum(case((done, 1), else_=0)),
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((and_(is_open, sla.overdue_condition(HumanTask.due_at, self.now)), 1), else_=0)),
        ]
        if self.pg:
            columns += self.percentile_columns(wait, done)
        rows = self.s.execute(
            select(*columns)
            .select_from(ProcessInstance)
            .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
            .where(*where)
            .group_by(HumanTask.element_id)
        ).all()
        waits = (
            {r[0]: (_seconds(r[-2]), _seconds(r[-1])) for r in rows}
            if self.pg
            else self.sqlite_percentiles(HumanTask.element_id, wait, [*where, done], tasks=True)
        )
        scale = heat_scale([m for m, _ in waits.values() if m is not None])
        steps = []
        for row in rows:
            el, name, n_done, n_open, n_late = row[:5]
            median = waits.get(el, (None, None))[0]
            steps.append(
                StepFigures(
                    element_id=el,
                    name=name or el,
                    completed=int(n_done or 0),
                    median_wait_seconds=median,
                    open=Figure(int(n_open or 0), self.link(process=key, step=el)),
                    overdue=Figure(int(n_late or 0), self.link(process=key, step=el, overdue="1")),
                    heat=heat_level(scale, median),
                )
            )
        return sorted(steps, key=lambda st: -(st.median_wait_seconds or 0.0)), scale

    def groups(self) -> list[GroupFigures]:
        overdue = func.sum(case((sla.overdue_condition(HumanTask.due_at, self.now), 1), else_=0))
        query = (
            select(TaskGroup.group_name, func.count(), overdue)
            .select_from(TaskGroup)
            .join(HumanTask, HumanTask.id == TaskGroup.task_id)
            .where(HumanTask.status == "open")
        )
        extra: dict[str, str] = {}
        if self.process:
            query = query.join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id).where(
                self.of_process(self.process)
            )
            extra = {"process": self.process}
        rows = self.s.execute(query.group_by(TaskGroup.group_name).order_by(TaskGroup.group_name)).all()
        return [
            GroupFigures(
                g, Figure(int(n), {**extra, "group": g}), Figure(int(late or 0), {**extra, "group": g, "overdue": "1"})
            )
            for g, n, late in rows
        ]


def _latest_xml(session: Session, key: str) -> str | None:
    definition = session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()
    if definition is None:
        return None
    return session.scalar(
        select(DeploymentFile.content).where(
            DeploymentFile.deployment_id == definition.deployment_id, DeploymentFile.filename == definition.bpmn_file
        )
    )


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def heat_scale(medians: Sequence[float]) -> HeatScale | None:
    """The colour scale over the steps' median waits (seconds); None when no step has one."""
    if not medians:
        return None
    low, high = min(medians), max(medians)
    graded = high >= HEAT_FLOOR_SECONDS and high - low > HEAT_SAME_SHARE * high
    return HeatScale(low, high, graded)


def heat_level(scale: HeatScale | None, median: float | None) -> int | None:
    """0 (lightest) .. HEAT_LEVELS - 1 (darkest) for a step's median wait; None without one."""
    if scale is None or median is None:
        return None
    if not scale.graded:
        return 0
    return min(HEAT_LEVELS - 1, int((median - scale.low) / (scale.high - scale.low) * HEAT_LEVELS))


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if not ordered:
        return None
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


__all__ = ["overview", "period", "percentile", "heat_scale", "heat_level", "Dashboard", "HeatScale"]
