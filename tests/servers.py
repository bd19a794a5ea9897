"""A real `pmoflow serve` on a free loopback port, for end-to-end and browser tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], log_path: Path, port: int | None = None) -> Iterator[str]:
    """Run `pmoflow serve` with `env` until the block ends; yields its base URL once /healthz answers.

    Safe beside other servers (pytest-xdist workers, other checkouts): the URL is only yielded once this
    server's own gunicorn says it listens there, a port taken meanwhile is retried on another, and
    gunicorn's control socket is this server's own (XDG_RUNTIME_DIR, short enough for a socket path).
    `port`: listen there (a server whose address others must know first, such as an OpenID provider's
    registered redirect URI); tried once."""
    runtime = tempfile.mkdtemp(prefix="pmoflow-serve-")
    try:
        for _ in range(3 if port is None else 1):
            with _started(env | {"XDG_RUNTIME_DIR": runtime}, log_path, port) as url:
                if url is not None:
                    yield url
                    return
        raise AssertionError("server did not start: " + log_path.read_text())
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


@contextmanager
def _started(env: dict[str, str], log_path: Path, port: int | None = None) -> Iterator[str | None]:
    """One try on a free port (or `port`): the base URL, or None when another process took the port first."""
    port = port or free_port()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(BIN / "pmoflow"), "serve", "--port", str(port), "--threads", "8"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            yield url if _wait_healthy(url, proc, log_path) else None
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    """True once our gunicorn listens on `url` and /healthz answers 200; False if the port was taken."""
    deadline = time.monotonic() + 60  # a loaded machine (xdist workers beside other runs) starts slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None or "Connection in use" in log.read_text():
            break
        try:
            if f"Listening at: {url} " in log.read_text() and httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    if "Connection in use" in log.read_text():
        return False
    raise AssertionError("server did not start: " + log.read_text())
