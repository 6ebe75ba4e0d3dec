"""CPU and peak memory of a process tree, read from /proc: the one sampler every bench uses.

A crawl is two processes (the fetcher and its writer child) and a reparse a pool of
workers; `ru_maxrss` of the children would give only the largest one of them. So a thread
walks the tree every 20 ms and keeps the largest sum of its processes' RSS seen at one time
(the tree's peak), each process's own peak (VmHWM), its CPU and its role: "main", "writer"
(the crawl's writer, or a multiprocessing worker) or "resource tracker".
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["TreeMemory", "children", "load_average", "run_tree"]


def children(pid: int) -> list[int]:
    """Direct children of `pid` (every thread's)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                found += [int(p) for p in handle.read().split()]
    return found


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes, as /proc/loadavg says it."""
    with open("/proc/loadavg", encoding="ascii") as handle:
        return " ".join(handle.read().split()[:3])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0.0 once it is gone)."""
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open(f"/proc/{pid}/stat", encoding="ascii") as handle,
    ):
        fields = handle.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _role(pid: int) -> str:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as handle:
        command = handle.read()
        if b"resource_tracker" in command:
            return "resource tracker"
        return "writer" if b"crawler.writer" in command or b"multiprocessing" in command else "main"
    return "main"


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


class TreeMemory:
    """Samples a process tree every 20 ms: the largest RSS sum seen at one time (the tree's peak),
    each process's own peak (VmHWM) and CPU."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.hwm: dict[int, int] = {}
        self.cpu: dict[int, float] = {}  # last sample: misses at most one interval per process
        self.roles: dict[int, str] = {}
        self.max_sum = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids, i = [self.pid], 0
            while i < len(pids):
                pids += children(pids[i])
                i += 1
            total = 0
            for pid in pids:
                hwm = _status_kb(pid, "VmHWM:")
                if hwm:
                    self.hwm[pid] = max(self.hwm.get(pid, 0), hwm)
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), _cpu_seconds(pid))
                    if pid != self.pid and self.roles.get(pid, "main") == "main":
                        # again until exec: a child just forked still shows its parent's command
                        self.roles[pid] = _role(pid)
                    elif pid == self.pid:
                        self.roles[pid] = "main"
                    total += _status_kb(pid, "VmRSS:")
            self.max_sum = max(self.max_sum, total)
            self._stop.wait(self.interval)

    def by_role(self) -> dict[str, tuple[float, float]]:
        """role -> (CPU s, peak MB) summed over the processes of that role."""
        out: dict[str, tuple[float, float]] = {}
        for pid, role in self.roles.items():
            cpu, mb = out.get(role, (0.0, 0.0))
            out[role] = (cpu + self.cpu.get(pid, 0.0), mb + self.hwm.get(pid, 0) / 1024)
        return out

    def stop(self) -> float:
        """Peak MB of the tree: the largest sum of its processes' RSS seen at one time."""
        self._stop.set()
        self._thread.join()
        return self.max_sum / 1024

    @property
    def hwm_sum_mb(self) -> float:
        """The sum of every process's own peak, wherever it happened: an upper bound."""
        return sum(self.hwm.values()) / 1024


def run_tree(command: list[str], log: Path) -> tuple[float, float, float, TreeMemory, int]:
    """Run a command (in the repository, output to `log`); (wall s, CPU s of the tree, peak MB
    of the tree, sampler, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        memory = TreeMemory(proc.pid)
        code = proc.wait()
    wall = time.perf_counter() - started
    peak = memory.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak, memory, code
