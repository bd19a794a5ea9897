"""The README's API example runs as written: its shell blocks under "Try the API", in order, in one shell,
against `pmoflow init --demo` and `pmoflow serve` (only the address and the path of the venv are changed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_server import cli
from tests.servers import BIN, ROOT, serving

README = ROOT / "README.md"
EXAMPLE_URL = "http://127.0.0.1:5000"


def api_example(readme: str) -> list[str]:
    """The ```sh blocks of the README's "## Try the API" section, in order."""
    section = readme.split("\n## Try the API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)


def test_the_example_is_found_and_sets_every_variable_it_uses():
    blocks = api_example(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 2 and "process-instances" in blocks[0] and "/complete" in blocks[-1]
    script = "\n".join(blocks)
    used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", script))
    assigned = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", script, flags=re.MULTILINE))
    assert used <= assigned, f"the example uses {sorted(used - assigned)} without setting them"


def json_documents(text: str) -> list[dict]:
    """The JSON documents printed one after the other (each answer, however it is laid out)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := _skip_space(text, at)) < len(text):
        document, at = decoder.raw_decode(text, at)
        found.append(document)
    return found


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


@pytest.fixture
def demo_server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {
        **os.environ,
        "PMOFLOW_DATABASE_URL": database_url,
        "PMOFLOW_SECRET_KEY": "readme",
        "PMOFLOW_WORKFLOWS_DIR": str(ROOT / "workflows"),
    }
    init = cli(env, "init", "--demo")
    assert init.returncode == 0, init.stderr
    with serving(env, tmp_path / "server.log") as url:
        yield url, env


def test_the_readme_api_example_runs_as_written(demo_server: tuple[str, dict[str, str]], tmp_path: Path):
    if shutil.which("curl") is None or shutil.which("bash") is None:
        pytest.skip("the README's example needs curl and bash")
    url, env = demo_server
    script = "\n".join(api_example(README.read_text(encoding="utf-8")))
    script = script.replace(EXAMPLE_URL, url).replace(".venv/bin/pmoflow", str(BIN / "pmoflow"))
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, f"exit {ran.returncode}\nstdout: {ran.stdout}\nstderr: {ran.stderr}"
    started, completed = json_documents(ran.stdout)
    assert started["status"] == "running" and started["open_tasks"][0]["element_id"] == "it_manager_approval"
    assert completed["completed_by"] == "alice" and completed["instance_status"] == "running"
    assert [t["element_id"] for t in completed["open_tasks"]] == ["finance_approval"]
