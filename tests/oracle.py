"""
Parse the reference output of the ``crash`` utility saved beside each corpus dump.

The file holds one section per command, each introduced by ``=== crash> COMMAND``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_BT_HEADER = re.compile(
    r"PID:\s+(?P<pid>\d+)\s+TASK:\s+(?P<task>[0-9a-f]+)\s+CPU:\s+(?P<cpu>\d+)\s+"
    r'COMMAND:\s+"(?P<comm>[^"]*)"'
)
_BT_FRAME = re.compile(
    r"^\s*#\s*(?P<index>\d+)\s+\[(?P<sp>[0-9a-f]+)\]\s+(?P<func>\S+)\s+at\s+(?P<pc>[0-9a-f]+)"
    r"(?:\s+\[(?P<module>[^\]]+)\])?"
)
_PS_ROW = re.compile(
    r"^(?P<active>>?)\s*(?P<pid>\d+)\s+(?P<ppid>\d+)\s+(?P<cpu>\d+)\s+(?P<task>[0-9a-f]+)\s+"
    r"(?P<state>[A-Z]{2})\s+(?P<mem>[\d.]+)\s+(?P<vsz>\d+)\s+(?P<rss>\d+)\s+(?P<comm>.*)$"
)


@dataclass
class CrashBacktrace:
    pid: int
    task: int
    cpu: int
    comm: str
    functions: list[str] = field(default_factory=list)
    modules: list[str | None] = field(default_factory=list)
    exception_rip: str | None = None


@dataclass
class CrashPsRow:
    pid: int
    ppid: int
    cpu: int
    task: int
    state: str
    comm: str
    active: bool
    rss_kb: int
    vsz_kb: int
    mem_percent: float


@dataclass
class CrashOutput:
    version: str
    sections: dict[str, str]

    @property
    def panic_message(self) -> str:
        """sys's PANIC string without its quotes and crash's trailing remarks."""
        value = self.sys.get("PANIC", "")
        if value.startswith('"') and value.count('"') >= 2:
            return value[1 : value.rindex('"')]
        return value

    @property
    def sys(self) -> dict[str, str]:
        values = {}
        for line in self.sections.get("sys", "").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                values[key.strip()] = value.strip()
        return values

    def _backtraces(self, section: str) -> list[CrashBacktrace]:
        traces: list[CrashBacktrace] = []
        for line in self.sections.get(section, "").splitlines():
            if m := _BT_HEADER.search(line):
                traces.append(
                    CrashBacktrace(
                        pid=int(m["pid"]),
                        task=int(m["task"], 16),
                        cpu=int(m["cpu"]),
                        comm=m["comm"],
                    )
                )
            elif traces and (m := _BT_FRAME.match(line)):
                traces[-1].functions.append(m["func"])
                traces[-1].modules.append(m["module"])
            elif traces and "exception RIP:" in line:
                traces[-1].exception_rip = line.split("exception RIP:", 1)[1].strip()
        return traces

    @property
    def bt(self) -> CrashBacktrace:
        return self._backtraces("bt")[0]

    @property
    def bt_all(self) -> list[CrashBacktrace]:
        return self._backtraces("bt -a")

    @property
    def ps(self) -> list[CrashPsRow]:
        rows = []
        for line in self.sections.get("ps", "").splitlines():
            if m := _PS_ROW.match(line):
                comm = m["comm"].strip()
                rows.append(
                    CrashPsRow(
                        pid=int(m["pid"]),
                        ppid=int(m["ppid"]),
                        cpu=int(m["cpu"]),
                        task=int(m["task"], 16),
                        state=m["state"],
                        comm=comm[1:-1] if comm.startswith("[") and comm.endswith("]") else comm,
                        active=m["active"] == ">",
                        rss_kb=int(m["rss"]),
                        vsz_kb=int(m["vsz"]),
                        mem_percent=float(m["mem"]),
                    )
                )
        return rows


def parse_crash_output(path: Path) -> CrashOutput:
    """Split a saved crash session into its commands' outputs."""
    sections: dict[str, str] = {}
    current = None
    lines: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("=== crash> "):
            if current is not None:
                sections[current] = "\n".join(lines)
            current = line[len("=== crash> ") :].strip()
            lines = []
        else:
            lines.append(line)
    if current is not None:
        sections[current] = "\n".join(lines)
    m = re.search(r"crash-([\d.]+)", path.name)
    return CrashOutput(version=m[1] if m else "unknown", sections=sections)
