"""A throw-away pmoflow server for one benchmark run: database, users, tokens, gunicorn.

`Stack` is a context manager. Entering it creates a fresh database (a temporary SQLite file,
or a PostgreSQL database created for the run), runs `pmoflow init`, deploys the benchmark's
loop process, creates one user (and API token) per approval group plus a starter, and starts
gunicorn as a subprocess. Leaving it, also on Ctrl-C or an error, stops gunicorn and drops
the database. Everything goes through the `pmoflow` command line, as an operator would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from .cpu import child_pids

if TYPE_CHECKING:
    from engine.core.context import EngineContext

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOOP_BPMN = Path(__file__).resolve().parent / "review-loop.bpmn"
PASSWORD = "bench-password"  # noqa: S105 - throw-away users in a throw-away database


@dataclass(frozen=True)
class BenchUser:
    name: str
    groups: tuple[str, ...]
    roles: tuple[str, ...]


STARTER = BenchUser("intake-bot", (), ("api",))
APPROVERS = {
    "it_manager_approval": BenchUser("bench-it-manager", ("IT Manager",), ("approver",)),
    "finance_approval": BenchUser("bench-finance", ("Finance",), ("approver",)),
    "pmo_director_approval": BenchUser("bench-pmo-director", ("PMO Director",), ("approver",)),
}
USERS = (STARTER, *APPROVERS.values())


class BenchError(Exception):
    """The benchmark could not set up or reach its server."""


@dataclass
class ServerOptions:
    workers: int
    threads: int
    timeout: float = 60.0


@dataclass
class Stack:
    """One database + one gunicorn, alive inside `with`."""

    kind: str  # "sqlite" or "postgres"
    options: ServerOptions
    postgres_url: str = ""
    serve: bool = True  # False: database, users and tokens only (bench.breakdown)
    tokens: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    database_url: str = ""
    server_pid: int | None = None
    _tmp: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _log: Path | None = None
    _pg_created: bool = False

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> Stack:
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _setup(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix=f"pmoflow-bench-{self.kind}-"))
        self._log = self._tmp / "gunicorn.log"
        if self.kind == "sqlite":
            self.database_url = f"sqlite:///{self._tmp / 'bench.sqlite3'}"
        elif self.kind == "postgres":
            self.database_url = self.postgres_url
            create_postgres_database(self.postgres_url)
            self._pg_created = True
        else:
            raise BenchError(f"unknown database kind {self.kind!r}")
        self.cli("init")
        self._create_users_and_deploy_loop()
        if self.serve:
            self._start_server()

    def close(self) -> None:
        """Stop gunicorn, drop the database, remove the temporary folder; safe to call twice."""
        try:
            self._stop_server()
        finally:
            try:
                if self._pg_created:
                    self._pg_created = False
                    try:
                        drop_postgres_database(self.postgres_url)
                    except psycopg.Error as err:
                        print(f"warning: could not drop the benchmark database: {err}", file=sys.stderr)
            finally:
                if self._tmp is not None:
                    shutil.rmtree(self._tmp, ignore_errors=True)
                    self._tmp = None

    # ------------------------------------------------------------ the command line

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PMOFLOW_DATABASE_URL": self.database_url,
                "PMOFLOW_WORKFLOWS_DIR": str(REPO / "workflows"),
                "PMOFLOW_SECRET_KEY": "benchmark-only-secret",
            }
        )
        return env

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run `pmoflow ARGS` against the benchmark database; returns stdout; raises BenchError."""
        done = subprocess.run(
            [str(BIN / "pmoflow"), *args],
            env=self.env(),
            cwd=REPO,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"pmoflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr}{done.stdout}")
        return done.stdout

    def _create_users_and_deploy_loop(self) -> None:
        """Each CLI call costs ~1 s of start-up, so independent calls run side by side."""

        def user_and_token(user: BenchUser) -> tuple[str, str]:
            args = ["users", "create", user.name]
            for group in user.groups:
                args += ["--group", group]
            for role in user.roles:
                args += ["--role", role]
            self.cli(*args, stdin=PASSWORD + "\n")
            out = self.cli("tokens", "create", "--user", user.name, "--name", "benchmark")
            return user.name, out.strip().splitlines()[-1].strip()

        with ThreadPoolExecutor(max_workers=len(USERS) + 1) as pool:
            deployed = pool.submit(self.cli, "deploy", str(LOOP_BPMN), "--name", "benchmark loop")
            self.tokens = dict(pool.map(user_and_token, USERS))
            deployed.result()

    # ------------------------------------------------------------ gunicorn

    def _start_server(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        assert self._log is not None
        cmd = [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(self.options.workers),
            "--threads",
            str(self.options.threads),
            "--worker-class",
            "gthread",
            "--timeout",
            str(int(self.options.timeout)),
            "--graceful-timeout",
            "5",
            *self._control_socket_args(),
            "webui.wsgi:app",
        ]
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(cmd, env=self.env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self.server_pid = self._proc.pid
        self._wait_healthy()

    def _control_socket_args(self) -> list[str]:
        """Keep gunicorn (>= 24) off the shared ~/.gunicorn/gunicorn.ctl another server may be using."""
        done = subprocess.run([str(BIN / "gunicorn"), "--help"], capture_output=True, text=True, check=False)
        return ["--no-control-socket"] if "--no-control-socket" in done.stdout else []

    def _wait_healthy(self, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    raise BenchError(f"gunicorn exited with {self._proc.returncode}:\n{self.log_tail()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise BenchError(f"gunicorn did not become healthy within {limit:.0f} s:\n{self.log_tail()}")

    def _stop_server(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of the master and its workers
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def server_pids(self) -> list[int]:
        """The gunicorn master and its worker processes (Linux /proc; empty elsewhere)."""
        if self.server_pid is None:
            return []
        return [self.server_pid, *child_pids(self.server_pid)]

    def database_pids(self) -> list[int]:
        """The PostgreSQL backends connected to the benchmark database (none for SQLite)."""
        if self.kind != "postgres":
            return []
        admin, name = _admin_conninfo(self.postgres_url)
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
        return [int(row[0]) for row in rows]


# ---------------------------------------------------------------- PostgreSQL


def _admin_conninfo(url: str) -> tuple[str, str]:
    """The URL of the server's maintenance database, and the benchmark database's name."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise BenchError(f"--postgres-url must be a postgresql:// URL, not {parsed.drivername}")
    name = parsed.database or ""
    if "bench" not in name:
        raise BenchError(f"refusing to create and drop database {name!r}: its name must contain 'bench'")
    admin = parsed.set(drivername="postgresql", database="postgres")
    return admin.render_as_string(hide_password=False), name


def create_postgres_database(url: str) -> None:
    """Create the benchmark database, dropping a leftover of an interrupted run first; raises BenchError."""
    admin, name = _admin_conninfo(url)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as err:
        raise BenchError(f"cannot create PostgreSQL database {name!r}: {err}") from err


def drop_postgres_database(url: str) -> None:
    admin, name = _admin_conninfo(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def scratch_context(server_url: str, prefix: str, now: datetime) -> Iterator[EngineContext]:
    """An engine context on a new, migrated database `pmoflow_bench_<prefix>_<random>` on the
    server of `server_url`, with a clock fixed at `now`; the database is dropped afterwards."""
    from engine.bootstrap import context
    from engine.core.clock import FixedClock
    from engine.core.config import Settings
    from engine.db.schema import upgrade

    name = f"pmoflow_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    create_postgres_database(url)
    ctx = context(Settings(database_url=url), clock=FixedClock(now))
    try:
        upgrade(ctx.db)
        yield ctx
    finally:
        ctx.db.dispose()
        drop_postgres_database(url)


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
