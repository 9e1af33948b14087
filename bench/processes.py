"""Find a process's descendants and read their memory from /proc (Linux only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessMemory:
    """Memory of one process, in kibibytes as /proc/<pid>/status reports it."""

    pid: int
    name: str
    peak_rss_kb: int | None
    rss_kb: int | None


def child_pids(pid: int, proc: Path = PROC) -> list[int]:
    """Return the direct children of `pid`.

    Reads /proc/<pid>/task/*/children, which needs a kernel built with
    CONFIG_PROC_CHILDREN. When no such file exists, every /proc/<n>/stat is
    scanned for parent `pid` instead.
    """
    task_files = list((proc / str(pid) / "task").glob("*/children"))
    if task_files:
        children: set[int] = set()
        for path in task_files:
            try:
                children.update(int(part) for part in path.read_text().split())
            except OSError:
                continue  # the thread exited while we were reading
        return sorted(children)
    return sorted(n for n, parent in _parent_pids(proc).items() if parent == pid)


def _parent_pids(proc: Path) -> dict[int, int]:
    parents = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in brackets may contain spaces and brackets, so the
        # fields are counted from the last closing bracket: state, then ppid.
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendant_pids(pid: int, proc: Path = PROC) -> list[int]:
    """Return every descendant of `pid`, parents before their children."""
    found: list[int] = []
    pending = [pid]
    while pending:
        children = child_pids(pending.pop(0), proc)
        found.extend(children)
        pending.extend(children)
    return found


def read_status_kb(pid: int, proc: Path = PROC) -> dict[str, int]:
    """Return the `kB` fields of /proc/<pid>/status, such as `VmHWM` and `VmRSS`.

    The fields come from one read, so they describe the same moment: `VmHWM`
    is never below `VmRSS`. A process that has exited gives an empty dict.
    """
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[name] = int(parts[0])
    return fields


def command_line(pid: int, proc: Path = PROC) -> list[str]:
    """Return the arguments of a process, or an empty list if it has exited."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def assistant_process_name(arguments: list[str]) -> str:
    """Name an assistant process by its command line, as `bot.runner` starts it."""
    if "bot.rasa_ext.cli" in arguments and "run" in arguments:
        return "Rasa server"
    if "actions.server" in arguments:
        return "action server"
    if "bot.runner" in arguments:
        return "runner and outbox sender"
    if "bot.web" in arguments:
        return "web server"
    return " ".join(arguments[:3]) or "exited process"


def assistant_memory(runner_pid: int, proc: Path = PROC) -> list[ProcessMemory]:
    """Read peak and current RSS of the runner and each of its descendants."""
    result = []
    for pid in [runner_pid, *descendant_pids(runner_pid, proc)]:
        name = assistant_process_name(command_line(pid, proc))
        status = read_status_kb(pid, proc)
        result.append(
            ProcessMemory(
                pid=pid,
                name=name,
                peak_rss_kb=status.get("VmHWM"),
                rss_kb=status.get("VmRSS"),
            )
        )
    return result
