"""The PMO dashboard: figures per process, step and group, and the instances behind each one."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.core.errors import Forbidden, InvalidInput
from engine.monitoring import dashboard
from engine.monitoring import instances as monitoring
from engine.monitoring.instances import InstanceFilter
from engine.runtime import instances
from engine.tasks import completion
from tests.factories import ADMIN, ALICE, AUDREY, BOB, BOT, deploy_shipped

SINCE, UNTIL = date(2026, 1, 1), date(2026, 1, 7)


def intake(ctx, key: str, budget: int = 10_000):
    return instances.start(
        ctx, BOT, "project-intake", business_key=key, variables={"title": key, "budget": budget, "department": "Sales"}
    )


@pytest.fixture
def seeded(ctx, clock):
    """A and B finish after 4 h and 10 h (B rejected), C waits past its SLA, D waits at finance."""
    deploy_shipped(ctx)
    a, b, _, d = (intake(ctx, "A"), intake(ctx, "B"), intake(ctx, "C"), intake(ctx, "D", budget=150_000))
    clock.advance(timedelta(hours=2))
    completion.complete(ctx, ALICE, d.open_tasks[0].id, {"decision": "approve"})
    clock.advance(timedelta(hours=2))
    completion.complete(ctx, ALICE, a.open_tasks[0].id, {"decision": "approve"})
    clock.advance(timedelta(hours=6))
    completion.complete(ctx, ALICE, b.open_tasks[0].id, {"decision": "reject", "comment": "no"})
    clock.advance(timedelta(days=2, hours=1) - timedelta(hours=10))  # C's 2-day SLA has passed, D's not yet
    clock.advance(timedelta(days=3))
    intake(ctx, "E-later")  # started after the period
    clock.advance(timedelta(days=-3))
    return ctx


def test_process_figures_with_percentiles_sla_and_rejections(seeded):
    board = dashboard.overview(seeded, ADMIN, SINCE, UNTIL)
    [p] = board.processes
    assert (p.key, p.started.value, p.completed.value, p.in_progress.value, p.in_error.value) == (
        "project-intake",
        4,
        2,
        2,
        0,
    )
    assert (p.median_cycle_seconds, p.p90_cycle_seconds) == (7.0 * 3600, 9.4 * 3600)
    assert p.sla_rate == 75.0 and p.sla_breached.value == 1  # 3 of 4 decided tasks on time
    assert p.rejections.value == 1
    assert board.days[4] == dashboard.DayCount(date(2026, 1, 5), 4, 2) and len(board.days) == 7
    assert sum(d.started for d in board.days) == 4


def test_step_figures_drive_the_heat_map(seeded):
    board = dashboard.overview(seeded, ADMIN, SINCE, UNTIL, process="project-intake")
    assert board.step_process == "project-intake" and "it_manager_approval" in (board.bpmn_xml or "")
    steps = {s.element_id: s for s in board.steps}
    it, fin = steps["it_manager_approval"], steps["finance_approval"]
    assert (it.completed, it.median_wait_seconds, it.open.value, it.overdue.value) == (3, 4.0 * 3600, 1, 1)
    assert (fin.completed, fin.median_wait_seconds, fin.open.value, fin.overdue.value) == (0, None, 1, 0)
    # one step with finished tasks: nothing to compare it with, so it is not painted as the longest
    assert board.heat == dashboard.HeatScale(4.0 * 3600, 4.0 * 3600, graded=False)
    assert (it.heat, fin.heat) == (0, None)


def test_the_heat_scale_grades_only_waits_that_differ():
    scale = dashboard.heat_scale
    assert scale([]) is None
    assert not scale([12.0, 30.0]).graded  # all under a minute: all quick, none "longest"
    assert not scale([3600.0, 3600.0]).graded and not scale([3600.0, 3900.0]).graded  # about the same
    graded = scale([60.0, 3600.0, 7200.0, 36_000.0])
    assert graded == dashboard.HeatScale(60.0, 36_000.0, graded=True)
    levels = [dashboard.heat_level(graded, m) for m in (60.0, 3600.0, 7200.0, 36_000.0, None)]
    assert levels == [0, 0, 0, 4, None]
    assert [dashboard.heat_level(graded, m) for m in (9_000.0, 16_000.0, 23_000.0, 30_000.0)] == [1, 2, 3, 4]
    assert dashboard.heat_level(scale([3600.0, 3700.0]), 3700.0) == 0


def test_group_figures_are_the_open_work_now(seeded):
    groups = {g.group: g for g in dashboard.overview(seeded, ADMIN, SINCE, UNTIL).groups}
    assert (groups["IT Manager"].open.value, groups["IT Manager"].overdue.value) == (2, 1)
    assert (groups["Finance"].open.value, groups["Finance"].overdue.value) == (1, 0)


def test_every_figure_links_to_exactly_the_instances_behind_it(seeded):
    board = dashboard.overview(seeded, ADMIN, SINCE, UNTIL)
    [p] = board.processes
    figures = [p.started, p.completed, p.in_progress, p.in_error, p.cancelled, p.sla_breached, p.rejections]
    figures += [
        f for s in dashboard.overview(seeded, ADMIN, SINCE, UNTIL, "project-intake").steps for f in (s.open, s.overdue)
    ]
    figures += [f for g in board.groups for f in (g.open, g.overdue)]
    for figure in figures:
        listed = monitoring.search(seeded, ADMIN, InstanceFilter.from_args(figure.filters)).total
        assert listed == figure.value, figure


def test_percentile_matches_postgresql_percentile_cont():
    assert dashboard.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert dashboard.percentile([4.0, 10.0], 0.9) == pytest.approx(9.4)
    assert dashboard.percentile([], 0.5) is None


def test_period_and_permissions(ctx):
    assert dashboard.period(None, None, date(2026, 3, 31)) == (date(2026, 3, 2), date(2026, 3, 31))
    assert dashboard.period("2026-01-01", "2026-01-31", date(2026, 3, 31)) == (date(2026, 1, 1), date(2026, 1, 31))
    for since, until in (("2026-02-01", "2026-01-01"), ("soon", None), ("2020-01-01", "2026-01-01")):
        with pytest.raises(InvalidInput):
            dashboard.period(since, until, date(2026, 3, 31))
    with pytest.raises(Forbidden):
        dashboard.overview(ctx, BOB, SINCE, UNTIL)
    empty = dashboard.overview(ctx, AUDREY, SINCE, UNTIL)
    assert empty.processes == [] and empty.steps == [] and len(empty.days) == 7
