"""The isolated path: code that is not bounded by its construction runs in a pool of worker processes.

A worker is started from a `forkserver` (a clean single-threaded process: never a fork of the
threaded server), has its address space limited (RLIMIT_AS) to what it needs after start plus the
memory budget, and runs the code with the same restricted compiling, guards and watchdog as the
in-process path. The caller's thread waits at most the time limit plus a margin (the GIL is free
while it waits, so other requests are served); a worker that has not answered by then is killed
(SIGKILL) and replaced, and the caller gets ScriptTimeout. A worker that runs out of its budget
answers SandboxError naming the budget and is replaced; one that dies does the same. A worker
that died while idle (an operator's or the OOM killer's SIGKILL, not yet reaped when a request
picks it) never read the request: the socket then reports a reset (Linux: a peer that closes with
unread data), not an end of file, so the request goes to another worker instead of failing.

Data goes by pickle: the task data to the worker, the value (an expression) or the script's names
(for the caller's write-back) back, or the exception with the script line it was raised on. Replies
are unpickled allowing only data types and exception classes. The pool is started lazily, is
thread-safe, is re-created after a fork, and is stopped at exit.
"""

from __future__ import annotations

import atexit
import functools
import io
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from types import CodeType, ModuleType
from typing import Any

from engine.core.config import Settings
from engine.spiff.expressions.deadline import FILENAME, Watchdog, traced_eval
from engine.spiff.expressions.guards import GUARDS, make_getattr
from engine.spiff.expressions.limits import SandboxError, ScriptTimeout
from engine.spiff.expressions.restricted import code_for
from engine.spiff.expressions.safe_builtins import DENIED_NAMES, SAFE_BUILTINS

_PROTOCOL = pickle.HIGHEST_PROTOCOL
MAX_REPLY_BYTES = 32 * 1024 * 1024  # largest value (pickled) a worker passes back into the server's process
_DATA_TYPES = frozenset(
    {
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("builtins", "range"),
        ("builtins", "slice"),
        ("builtins", "bytearray"),
        ("decimal", "Decimal"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }
)


# ---------------------------------------------------------------- shared by both paths


def public(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """Copy `mapping` without its keys that start with "_" (and without non-str keys)."""
    return {k: v for k, v in mapping.items() if type(k) is str and k[:1] != "_"}


def is_data(value: object) -> bool:
    """A value task data may hold: not a function, class or module."""
    return not callable(value) and not isinstance(value, ModuleType)


def _refusal(err: NameError) -> SandboxError | None:
    """Explain a NameError for a builtin the sandbox leaves out; None for an ordinary one."""
    if err.name == "_print":
        return SandboxError("print() is available in scripts only")
    if err.name in DENIED_NAMES:
        return SandboxError(f"{err.name!r} is not available in expressions and scripts")
    return None


def run_traced(code: CodeType, namespace: dict[str, Any], limit: float) -> Any:
    """Run `code` in `namespace` under a watchdog of `limit` seconds; raises what it raises, ScriptTimeout included."""
    watchdog = Watchdog(limit)
    try:
        result = traced_eval(code, namespace, watchdog)
    except NameError as err:
        refusal = _refusal(err)
        if refusal is None:
            raise
        raise refusal.with_traceback(err.__traceback__) from err
    if watchdog.expired:  # the timeout was raised and then swallowed somewhere
        raise watchdog.expire()
    return result


# ---------------------------------------------------------------- the worker process


def _limit_memory(memory_mb: int) -> None:
    try:
        with open("/proc/self/statm") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return  # not Linux: no budget
    limit = size + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _script_line(err: BaseException) -> int:
    lines = [f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == FILENAME]
    return (lines[-1] or 0) if lines else 0


def _error_reply(err: BaseException) -> bytes:
    line = _script_line(err)
    name = getattr(err, "name", None) if isinstance(err, NameError) else None  # not pickled with the error
    err.__traceback__ = None
    err.__context__ = err.__cause__ = None
    try:
        return pickle.dumps(("error", err, (line, name)), _PROTOCOL)
    except Exception:  # noqa: BLE001 -- an exception that does not pickle is passed as its text
        return pickle.dumps(("error", SandboxError(f"{type(err).__name__}: {err}"), (line, None)), _PROTOCOL)


def _builtins(mode: str, helpers: dict[str, Any]) -> dict[str, Any]:
    return {**SAFE_BUILTINS, **helpers, **GUARDS, "_getattr_": make_getattr(read_only=mode == "eval")}


@functools.cache
def _worker_builtins(mode: str) -> dict[str, Any]:
    return _builtins(mode, {})


def _serve(request: bytes) -> bytes:
    stream = io.BytesIO(request)  # from our own parent process: the limit, then the code and its data
    limit = pickle.load(stream)  # noqa: S301
    mode, source, data, helpers = pickle.load(stream)  # noqa: S301
    builtins = _worker_builtins(mode) if not helpers else _builtins(mode, helpers)
    namespace = {**data, "__builtins__": builtins}
    try:
        result = run_traced(code_for(source, mode), namespace, limit)
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 -- every error of the code goes back to the caller
        return _error_reply(err)
    if mode == "exec":
        result = {k: v for k, v in public(namespace).items() if is_data(v)}
    del namespace
    try:
        reply = pickle.dumps(("ok", result, 0), _PROTOCOL)
    except RecursionError:
        return _error_reply(SandboxError("the value is nested too deeply to pass back"))
    except (pickle.PicklingError, TypeError, AttributeError) as err:
        return _error_reply(SandboxError(f"the result cannot be passed back: {err}"))
    if len(reply) > MAX_REPLY_BYTES:
        return _error_reply(SandboxError(f"the result is too large (limit {MAX_REPLY_BYTES // 2**20} MB)"))
    return reply


def worker_main(conn: Connection, memory_mb: int) -> None:
    """The loop of one worker process: answer requests until the parent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory(memory_mb)
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            reply = _serve(request)
        except MemoryError:
            reply = b""  # the parent names the budget; this process may be fragmented: it ends
        try:
            conn.send_bytes(reply)
        except (OSError, ValueError):
            return
        if not reply:
            return


# ---------------------------------------------------------------- the parent side


class _Unpickler(pickle.Unpickler):
    """Unpickles only data types and exception classes (what a worker sends back)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _DATA_TYPES:
            return super().find_class(module, name)
        if module == "builtins" or module.startswith("engine."):
            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(found, BaseException):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not passed back from the sandbox")


class _Worker:
    """One worker process: a fresh interpreter (fork+exec, safe in a threaded process) on a socket pair."""

    def __init__(self, memory_mb: int) -> None:
        mine, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))}
        try:
            self.process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
                [sys.executable, "-c", _ENTRY, str(theirs.fileno()), str(memory_mb)],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # a Ctrl-C of the terminal reaches the parent only
            )
        finally:
            theirs.close()
        self.conn = Connection(mine.detach())

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.kill()
            except OSError:
                pass
        self.process.wait(5)
        self.conn.close()


_ENTRY = "import sys; from engine.spiff.expressions.isolation import worker_entry; worker_entry(sys.argv[1:])"


def worker_entry(argv: list[str]) -> None:
    """The worker process's entry point: argv is the socket's descriptor and the memory budget in MB."""
    worker_main(Connection(int(argv[0])), int(argv[1]))


class Pool:
    """Up to `size` worker processes, started when first needed; `run` is thread-safe."""

    def __init__(self, size: int, memory_mb: int, margin: float) -> None:
        if size < 1 or memory_mb < 16 or margin <= 0:
            raise ValueError("sandbox pool: size >= 1, memory >= 16 MB and a positive margin")
        self.size, self.memory_mb, self.margin = size, memory_mb, margin
        self._idle: list[_Worker] = []
        self._started = 0
        self._closed = False
        self._ready = threading.Condition()

    def _acquire(self) -> _Worker:
        with self._ready:
            while True:
                while not self._idle and self._started >= self.size:
                    self._ready.wait()
                if not self._idle:
                    break
                worker = self._idle.pop()
                if worker.process.poll() is None:
                    return worker
                self._started -= 1  # it ended while idle (killed from outside): start another
                threading.Thread(target=worker.stop, daemon=True).start()
            self._started += 1
        try:
            return _Worker(self.memory_mb)
        except BaseException:
            self._release(None)
            raise

    def _release(self, worker: _Worker | None) -> None:
        with self._ready:
            if worker is None:
                self._started -= 1
            elif self._closed:
                self._started -= 1
                threading.Thread(target=worker.stop, daemon=True).start()
            else:
                self._idle.append(worker)
            self._ready.notify()

    def prestart(self) -> None:
        """Start every worker not started yet, in the background (each takes about as long as the imports)."""
        with self._ready:
            missing = self.size - self._started
            self._started = self.size
        for _ in range(missing):
            threading.Thread(target=self._replace, daemon=True, name="pmoflow-sandbox-start").start()

    def _replace(self) -> None:
        """Start a worker in place of one that was stopped (or not started yet), then offer it to a caller."""
        try:
            worker = _Worker(self.memory_mb)
        except Exception:  # noqa: BLE001 -- the slot is freed: the next caller starts one itself and sees why
            self._release(None)
            return
        self._release(worker)

    @staticmethod
    def _exchange(worker: _Worker, message: bytes, wait: float) -> tuple[bool, bytes | None]:
        """Send `message`; (whether the worker read it, its reply: None after `wait` seconds, b"" when the
        worker ended). A worker that ended without reading it leaves a reset (or a broken pipe), not an EOF."""
        try:
            worker.conn.send_bytes(message)
            if worker.conn.poll(wait):
                return True, worker.conn.recv_bytes()
            return True, None
        except (ConnectionResetError, BrokenPipeError):
            return False, b""
        except (EOFError, OSError):
            return True, b""

    def run(
        self, mode: str, source: str, data: dict[str, Any], helpers: dict[str, Any], limit_of: Callable[[], float]
    ) -> Any:
        """The value of `source` (eval) or the script's names (exec), computed by a worker; raises what the code
        raises (with `sandbox_line`), ScriptTimeout after the limit + margin, SandboxError past the memory budget.
        `limit_of()` gives the time limit once a worker is free (waiting for one may have used some of a step's)."""
        try:
            request = pickle.dumps((mode, source, data, helpers), _PROTOCOL)
        except Exception as err:  # noqa: BLE001 -- whatever does not pickle
            raise SandboxError(f"the data cannot be passed to the sandbox's worker process: {err}") from None
        for _ in range(self.size + 1):  # each pass discards a worker that died while idle; a fresh one answers
            worker = self._acquire()
            limit = limit_of()
            started, reply = self._exchange(worker, pickle.dumps(limit, _PROTOCOL) + request, limit + self.margin)
            if reply:
                self._release(worker)
            else:
                worker.stop()
                threading.Thread(target=self._replace, daemon=True, name="pmoflow-sandbox-start").start()
            if started or reply is None:  # it ran the code, or did not answer in time
                break
        if reply is None:
            raise ScriptTimeout(f"stopped after the time limit of {limit:g} s (the process running it was killed)")
        if not reply:
            status = worker.process.returncode
            if status not in (0, -signal.SIGKILL):  # 0: it ran out of its budget and ended; SIGKILL: the OOM killer
                ended = f"exit status {status}, memory budget {self.memory_mb} MB"
                raise SandboxError(f"stopped: the process running the code ended ({ended})")
            raise SandboxError(f"stopped: the code needed more memory than its budget of {self.memory_mb} MB")
        status, value, where = _Unpickler(io.BytesIO(reply)).load()
        if status == "ok":
            return value
        value.sandbox_line, name = where
        if name is not None:
            value.name = name
        raise value

    def close(self) -> None:
        """Stop every idle worker (busy ones end when their caller is done)."""
        with self._ready:
            self._closed = True
            idle, self._idle = self._idle, []
            self._started -= len(idle)
        for worker in idle:
            worker.stop()


_pool: Pool | None = None
_pool_pid = 0
_pool_lock = threading.Lock()
_settings: Settings | None = None


def _pool_settings(settings: Settings) -> tuple[int, int, float]:
    return settings.sandbox_processes, settings.script_memory_mb, settings.script_kill_margin


def configure(settings: Settings) -> None:
    """Use `settings` (sandbox_processes, script_memory_mb, script_kill_margin) for the pool from now on;
    raises ValueError for a pool size below 1, a budget below 16 MB or a margin that is not positive."""
    global _settings
    Pool(*_pool_settings(settings))  # checks the values (starts nothing)
    with _pool_lock:
        same = _settings is not None and _pool_settings(_settings) == _pool_settings(settings)
        _settings = settings
    if not same:
        shutdown()


def pool() -> Pool:
    """This process's pool, created on first use (again after a fork)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = Pool(*_pool_settings(_settings or Settings.from_env()))
            _pool_pid = os.getpid()
            _pool.prestart()
        return _pool


def shutdown() -> None:
    """Stop this process's pool (a new one starts when next needed)."""
    global _pool
    with _pool_lock:
        old, _pool = _pool, None
    if old is not None and _pool_pid == os.getpid():
        old.close()


atexit.register(shutdown)
