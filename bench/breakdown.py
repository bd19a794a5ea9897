"""Where the time goes: CPU per approval instance, one layer at a time (investigation helper).

    .venv/bin/python -m bench.breakdown [--database postgres] [--instances 100]

Runs the same 3-step approval sequentially in this process, adding one layer at a time, and
reports the CPU time (this process, plus PostgreSQL's) per instance for each:

  spiff      engine/spiff only: Run.start/load/complete/dump, as in (a)
  services   engine.runtime.instances.start / engine.tasks.completion.complete (whose answer names the next
             task) with ready-made actors: adds the database, the ORM, task rows and events
  + auth     the same, resolving the bearer token (engine.admin.tokens.actor_for_token) per call,
             as the API does on every request (mostly cache hits: token_cache_seconds)
  flask      the whole app through Flask's test client (routing, webargs, marshmallow,
             auth, services), no sockets

The difference between the `flask` row and the gunicorn CPU printed by bench.approval is
HTTP parsing, sockets and gunicorn itself. Nothing here is measured concurrently.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .approval import DEFAULT_POSTGRES_URL
from .baseline import DECISION, PROCESS, STEPS, load_bundle, run_instance, start_variables
from .cpu import window
from .server import APPROVERS, REPO, STARTER, ServerOptions, Stack
from .stats import table


def _layers(stack: Stack) -> dict[str, Callable[[int], None]]:
    from engine.admin import tokens
    from engine.runtime import instances
    from engine.spiff.expressions.sandbox import SandboxedScriptEngine
    from engine.tasks import completion
    from webui.app import create_app

    app = create_app()
    ctx = app.extensions["pmoflow"]
    bundle = load_bundle(REPO / "workflows")
    engine = SandboxedScriptEngine()
    names = [STARTER.name, *(u.name for u in APPROVERS.values())]
    actors = {name: tokens.actor_for_token(ctx, stack.tokens[name]) for name in names}

    def actor(name: str, per_call: bool) -> Any:
        return tokens.actor_for_token(ctx, stack.tokens[name]) if per_call else actors[name]

    def services(i: int, per_call: bool) -> None:
        view = instances.start(
            ctx, actor(STARTER.name, per_call), PROCESS, business_key=f"s{per_call}-{i}", variables=start_variables(i)
        )
        for element in STEPS:
            [task] = view.open_tasks
            view = completion.complete(ctx, actor(APPROVERS[element].name, per_call), task.id, dict(DECISION))

    def spiff(i: int) -> None:
        run_instance(bundle, engine, i, None)

    client = app.test_client()

    def flask(i: int) -> None:
        def auth(name: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {stack.tokens[name]}"}

        r = client.post(
            "/api/v1/process-instances",
            headers=auth(STARTER.name),
            json={"process": PROCESS, "business_key": f"f-{i}", "variables": start_variables(i)},
        )
        assert r.status_code == 201, r.text
        body = r.json
        for element in STEPS:
            task = body["open_tasks"][0]
            r = client.post(
                f"/api/v1/tasks/{task['id']}/complete",
                headers=auth(APPROVERS[element].name),
                json={"data": dict(DECISION)},
            )
            assert r.status_code == 200, r.text
            body = r.json

    return {
        "spiff": spiff,
        "services": lambda i: services(i, False),
        "+ auth": lambda i: services(i, True),
        "flask": flask,
    }


def measure(kind: str, instances: int, postgres_url: str) -> list[list[str]]:
    """One row per layer: CPU ms per instance in this process and in PostgreSQL, and wall ms."""
    rows = []
    with Stack(kind, ServerOptions(workers=1, threads=1), postgres_url=postgres_url, serve=False) as stack:
        os.environ.update(stack.env())  # create_app reads PMOFLOW_* from the environment
        for label, one in _layers(stack).items():
            for i in range(5):
                one(10_000 + i)  # warm caches
            with window(database_pids=stack.database_pids) as cpu:
                for i in range(instances):
                    one(i)
            per = 1000 / instances
            rows.append(
                [
                    label,
                    f"{cpu.client * per:.1f}",
                    f"{cpu.database * per:.1f}" if kind == "postgres" else "-",
                    f"{cpu.seconds * per:.1f}",
                    f"{cpu.other_share * 100:.0f}%",
                ]
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__.split("\n\n")[0])
    p.add_argument("--database", choices=("sqlite", "postgres"), default="postgres")
    p.add_argument("--instances", type=int, default=100, help="measured instances per layer")
    p.add_argument("--postgres-url", default=os.environ.get("PMOFLOW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    args = p.parse_args(argv)
    rows = measure(args.database, args.instances, args.postgres_url)
    print(f"CPU per approval instance on {args.database}, sequential, {args.instances} instances per layer")
    print(table(["layer", "this process ms", "PostgreSQL ms", "wall ms", "other processes"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
