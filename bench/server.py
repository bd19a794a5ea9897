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
    access_log: bool = False  # one line per request, as `pmoflow serve` and the Dockerfile write (to a file here)


@dataclass
class Stack:
    """One database + one gunicorn, alive inside `with`."""

    kind: str  # "sqlite" or "postgres"
    options: ServerOptions
    postgres_url: str = ""
    serve: bool = True  # False: database, users and tokens only (bench.breakdown)
    environment: dict[str, str] = field(default_factory=dict)  # more PMOFLOW_* settings for the servers
    tokens: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    database_url: str = ""
    server_pid: int | None = None
    _tmp: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _log: Path | None = None
    _pg_created: bool = False
    _groups: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)  # more gunicorns: `add_group`

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
            for _, proc in self._groups:
                _stop(proc)
            self._groups.clear()
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
                **self.environment,
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
        self.base_url, self._proc = self._gunicorn("gunicorn.log")
        self.server_pid = self._proc.pid

    def add_group(self) -> str:
        """Start another gunicorn on the same database, as on another host (its own processes and caches);
        returns its base URL. Stopped with the stack."""
        base_url, proc = self._gunicorn(f"gunicorn-{len(self._groups) + 2}.log")
        self._groups.append((base_url, proc))
        return base_url

    def _gunicorn(self, log_name: str) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        assert self._tmp is not None
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
            *(["--access-logfile", str(self._log.with_name("access.log"))] if self.options.access_log else []),
            "webui.wsgi:app",
        ]
        with open(self._tmp / log_name, "wb") as log:
            proc = subprocess.Popen(cmd, env=self.env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy(base_url, proc, self._tmp / log_name)
        return base_url, proc

    def _control_socket_args(self) -> list[str]:
        """Keep gunicorn (>= 24) off the shared ~/.gunicorn/gunicorn.ctl another server may be using."""
        done = subprocess.run([str(BIN / "gunicorn"), "--help"], capture_output=True, text=True, check=False)
        return ["--no-control-socket"] if "--no-control-socket" in done.stdout else []

    def _wait_healthy(self, base_url: str, proc: subprocess.Popen[bytes], log: Path, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        with httpx.Client(base_url=base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise BenchError(f"gunicorn exited with {proc.returncode}:\n{_tail(log)}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise BenchError(f"gunicorn did not become healthy within {limit:.0f} s:\n{_tail(log)}")

    def _stop_server(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop(proc)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and all(p.poll() is None for _, p in self._groups)

    def log_tail(self, lines: int = 40) -> str:
        return "" if self._log is None else _tail(self._log, lines)

    def server_pids(self) -> list[int]:
        """Every gunicorn master and its worker processes, of all groups (Linux /proc; empty elsewhere)."""
        masters = ([self.server_pid] if self.server_pid is not None else []) + [p.pid for _, p in self._groups]
        return [pid for master in masters for pid in (master, *child_pids(master))]

    def database_pids(self) -> list[int]:
        """The PostgreSQL backends connected to the benchmark database (none for SQLite)."""
        if self.kind != "postgres":
            return []
        admin, name = _admin_conninfo(self.postgres_url)
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
        return [int(row[0]) for row in rows]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of the master and its workers
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


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
