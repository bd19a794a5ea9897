"""A model with an embedded sub-process and a 10-item parallel multi-instance, beside the 3-step approval.

    .venv/bin/python -m bench.constructs [--instances 50] [--databases sqlite,postgres]

The model (bench/constructs.bpmn): start -> embedded sub-process "Review round" (a script task,
then a user task run once per item of `reviewers`, in parallel, collecting `votes`; a 7-day
boundary timer on the sub-process) -> a script task counting the approvals -> end. Ten
reviewers, so an instance is 1 start and 10 completions.

Each layer runs both models one after the other in this process, sequentially, and prints the
CPU per instance and per step of each and their ratio. The approval is measured beside it, on
the same machine in the same minute, so the ratio holds when the machine is noisy:

  spiff      engine/spiff only (Run.start/load/complete/dump, state dumped and loaded between steps),
             as bench.approval's (a)
  services   engine.runtime.instances.start / engine.tasks.completion.complete on a new database (SQLite file,
             PostgreSQL scratch database): the database, task rows and events
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from .approval import DEFAULT_POSTGRES_URL
from .baseline import DECISION, PROCESS, STEPS, load_bundle, run_instance, start_variables
from .cpu import window
from .server import REPO, scratch_context
from .stats import table

HERE = Path(__file__).resolve().parent
MODEL = HERE / "constructs.bpmn"
KEY = "bench_constructs"
REVIEWERS = [f"reviewer-{i}" for i in range(10)]
STEPS_PER_INSTANCE = {"approval": 1 + len(STEPS), "constructs": 1 + len(REVIEWERS)}


def _constructs_spiff() -> Callable[[int], None]:
    from engine.spiff.expressions.sandbox import SandboxedScriptEngine
    from engine.spiff.model.parsing import SourceFile, parse_deployment
    from engine.spiff.model.specs import restore_spec
    from engine.spiff.runtime.run import Run

    [parsed] = parse_deployment([SourceFile(MODEL.name, MODEL.read_bytes())], max_bytes=1 << 20).processes
    bundle = restore_spec(parsed.spec_json)
    engine = SandboxedScriptEngine()

    def one(i: int) -> None:
        run = Run.start(bundle, {"reviewers": list(REVIEWERS)}, engine)
        run.advance()
        state = run.dump()
        for _ in REVIEWERS:
            run = Run.load(state, bundle, engine)
            task = run.open_tasks()[0]
            run.complete(task.id, {"vote": "approve"})
            state = run.dump()
        assert run.status == "completed", (run.status, run.incident)
        assert run.variables()["approved"] == len(REVIEWERS), run.variables()

    return one


def _approval_spiff() -> Callable[[int], None]:
    from engine.spiff.expressions.sandbox import SandboxedScriptEngine

    bundle = load_bundle(REPO / "workflows")
    engine = SandboxedScriptEngine()
    return lambda i: run_instance(bundle, engine, i, None) and None


def _services(ctx) -> dict[str, Callable[[int], None]]:  # type: ignore[no-untyped-def]
    from engine.core.permissions import SYSTEM, Actor
    from engine.definitions import deployments
    from engine.runtime import instances
    from engine.spiff.model.parsing import SourceFile
    from engine.tasks import completion

    files = [
        SourceFile(p.name, p.read_bytes())
        for p in sorted((REPO / "workflows").iterdir())
        if p.suffix in (".bpmn", ".dmn", ".form")
    ]
    deployments.deploy(ctx, SYSTEM, [*files, SourceFile(MODEL.name, MODEL.read_bytes())])
    starter = Actor("bench-starter", roles=frozenset({"api"}))
    groups = frozenset({"IT Manager", "Finance", "PMO Director", "Reviewers"})
    people = [Actor(f"bench-{i}", roles=frozenset({"approver"}), groups=groups) for i in range(len(REVIEWERS))]

    def approval(i: int) -> None:
        view = instances.start(ctx, starter, PROCESS, business_key=f"a-{i}", variables=start_variables(i))
        open_tasks = view.open_tasks
        for n, _ in enumerate(STEPS):
            done = completion.complete(ctx, people[n], open_tasks[0].id, dict(DECISION))
            open_tasks = done.open_tasks
        assert done.instance_status == "completed", done.instance_status

    def constructs(i: int) -> None:
        view = instances.start(ctx, starter, KEY, business_key=f"c-{i}", variables={"reviewers": list(REVIEWERS)})
        assert len(view.open_tasks) == len(REVIEWERS), view.open_tasks
        for person, task in zip(people, view.open_tasks, strict=True):
            done = completion.complete(ctx, person, task.id, {"vote": "approve"})
        assert done.instance_status == "completed", done.instance_status

    return {"approval": approval, "constructs": constructs}


@contextmanager
def _database(kind: str, postgres_url: str) -> Iterator[object]:
    from engine.bootstrap import context
    from engine.core.clock import FixedClock
    from engine.core.config import Settings
    from engine.db.schema import upgrade

    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    if kind == "postgres":
        with scratch_context(postgres_url, "constructs", now) as ctx:
            yield ctx
        return
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(Settings(database_url=f"sqlite:///{tmp}/bench.db"), clock=FixedClock(now))
        try:
            upgrade(ctx.db)
            yield ctx
        finally:
            ctx.db.dispose()


def _measure(label: str, models: dict[str, Callable[[int], None]], instances: int) -> list[str]:
    per: dict[str, float] = {}
    for name, one in models.items():
        for i in range(3):
            one(100_000 + i)  # warm caches
        with window() as cpu:
            for i in range(instances):
                one(i)
        per[name] = cpu.client * 1000 / instances
    steps = {k: per[k] / STEPS_PER_INSTANCE[k] for k in per}
    return [
        label,
        f"{per['approval']:.1f}",
        f"{per['constructs']:.1f}",
        f"{steps['approval']:.2f}",
        f"{steps['constructs']:.2f}",
        f"{per['constructs'] / per['approval']:.2f}",
        f"{steps['constructs'] / steps['approval']:.2f}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.constructs", description=__doc__.split("\n\n")[0])
    p.add_argument("--instances", type=int, default=50, help="measured instances per model and layer")
    p.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres (services)")
    p.add_argument("--postgres-url", default=os.environ.get("PMOFLOW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if args.instances < 1 or set(kinds) - {"sqlite", "postgres"}:
        p.error("--instances must be at least 1; --databases takes sqlite and/or postgres")
    rows = [_measure("spiff", {"approval": _approval_spiff(), "constructs": _constructs_spiff()}, args.instances)]
    for kind in kinds:
        with _database(kind, args.postgres_url) as ctx:
            rows.append(_measure(f"services {kind}", _services(ctx), args.instances))
    print(
        f"CPU ms of this process, sequential, {args.instances} instances per model and layer "
        f"(approval: 1 start + {len(STEPS)} completions; constructs: 1 start + {len(REVIEWERS)} completions)"
    )
    print(
        table(
            [
                "layer",
                "approval /inst",
                "constructs /inst",
                "approval /step",
                "constructs /step",
                "ratio /inst",
                "ratio /step",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
