"""CPU accounting from /proc (Linux): who used the CPUs while something was measured.

Elsewhere every figure reads 0 and the benchmark still runs.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass
class CpuUse:
    """CPU seconds used during a measured window, by party."""

    seconds: float = 0.0  # wall time of the window
    client: float = 0.0  # this process (the benchmark's clients or the in-process baseline)
    server: float = 0.0  # gunicorn master and workers
    database: float = 0.0  # PostgreSQL backends serving the benchmark database
    busy: float = 0.0  # all CPUs' busy time, any process
    cpus: int = 1

    @property
    def other(self) -> float:
        """CPU seconds of every process not counted above (another job on the machine, PostgreSQL's own upkeep)."""
        return max(0.0, self.busy - self.client - self.server - self.database)

    @property
    def other_share(self) -> float:
        """`other` as a share of the machine's capacity during the window, 0..1."""
        capacity = self.seconds * self.cpus
        return self.other / capacity if capacity else 0.0

    @property
    def busy_share(self) -> float:
        capacity = self.seconds * self.cpus
        return self.busy / capacity if capacity else 0.0


def process_cpu(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds so far of each process that still exists."""
    tick = os.sysconf("SC_CLK_TCK")
    result = {}
    for pid in pids:
        try:
            fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        result[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return result


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid`."""
    if not PROC.is_dir():
        return []
    children = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                children.append(int(entry.name))
    return children


def machine_busy() -> float:
    """Busy CPU seconds of all CPUs since boot (/proc/stat, without idle, iowait, steal and guest)."""
    try:
        with open(PROC / "stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0.0
    busy = sum(values[:3]) + sum(values[5:7])  # user, nice, system, irq, softirq
    return busy / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def window(
    server_pids: Callable[[], list[int]] = list, database_pids: Callable[[], list[int]] = list
) -> Iterator[CpuUse]:
    """Measure the CPU used inside the block; the CpuUse yielded is filled in when the block ends.

    Process lists are read at both ends; a process that started inside the block counts
    from its start, one that ended inside it is lost.
    """
    use = CpuUse(cpus=os.cpu_count() or 1)
    servers, databases = process_cpu(server_pids()), process_cpu(database_pids())
    client, busy, began = self_cpu(), machine_busy(), time.perf_counter()
    yield use
    use.seconds = time.perf_counter() - began
    use.client = self_cpu() - client
    use.busy = machine_busy() - busy
    use.server = sum(v - servers.get(pid, 0.0) for pid, v in process_cpu(server_pids()).items())
    use.database = sum(v - databases.get(pid, 0.0) for pid, v in process_cpu(database_pids()).items())
