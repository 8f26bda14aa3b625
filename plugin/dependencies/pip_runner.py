"""Running pip as a child process: its log line by line, a rough progress, cancellation, and what went wrong."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from ..core.progress import Progress
from .interpreter import hidden_window
from .pip_source import pip_environment

_NETWORK = ("Failed to establish a new connection", "Max retries exceeded", "Name or service not known",
            "Temporary failure in name resolution", "Network is unreachable", "Connection refused",
            "ConnectTimeoutError", "ReadTimeoutError", "ProxyError", "SSLError", "getaddrinfo failed",
            "No route to host", "Could not fetch URL", "connection broken")
_NOT_FOUND = ("No matching distribution found for", "Could not find a version that satisfies")
_CONFLICT = ("ResolutionImpossible", "conflicting dependencies", "Cannot install")


@dataclass
class PipRun:
    """A finished (or stopped) pip run."""

    returncode: int
    lines: list[str] = field(default_factory=list)
    cancelled: bool = False


def run_pip(command: list[str], arguments: list[str], progress: Progress, poll_seconds: float = 0.2) -> PipRun:
    """Run ``command + arguments``, passing each output line to ``progress``; stop it when cancelled."""
    process = subprocess.Popen([*command, *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace",
                               env=pip_environment(), **_own_process_group())
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process, lines), daemon=True)
    reader.start()
    run = PipRun(returncode=-1)
    finished = False
    while not finished:
        if progress.is_cancelled():
            _stop(process)
            run.cancelled = True
            break
        try:
            line = lines.get(timeout=poll_seconds)
        except queue.Empty:
            continue
        if line is None:
            finished = True
            continue
        run.lines.append(line)
        progress.info(f"pip: {line}")
        progress.set_fraction(_fraction(run.lines))
    run.returncode = process.wait()
    reader.join(timeout=5)
    if process.stdout is not None:  # closed here, not left to the garbage collector (a ResourceWarning)
        process.stdout.close()
    return run


def _read_lines(process: subprocess.Popen, lines: "queue.Queue[str | None]") -> None:
    assert process.stdout is not None  # opened with stdout=PIPE
    for line in process.stdout:
        if line.strip():
            lines.put(line.rstrip())
    lines.put(None)


def _own_process_group() -> dict:
    """pip's children (builds of source packages) are stopped with it."""
    if sys.platform == "win32":
        return {"creationflags": hidden_window()["creationflags"] | subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        if sys.platform == "win32":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True, timeout=30,
                           **hidden_window())
        else:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (OSError, subprocess.SubprocessError):
        process.kill()


def _fraction(lines: list[str]) -> float:
    """A rough share of the work: collecting packages, then installing them."""
    if any(line.startswith("Successfully installed") for line in lines):
        return 0.85
    if any(line.startswith("Installing collected packages") for line in lines):
        return 0.7
    collected = sum(1 for line in lines if line.startswith("Collecting"))
    return min(0.05 + 0.04 * collected, 0.6)


def _conflict(lines: list[str]) -> str:
    """pip's "The conflict is caused by:" lines, in words ("X depends on numpy>=1.26; QGIS's Python has ...")."""
    if "The conflict is caused by:" not in [line.strip() for line in lines]:
        return ""
    start = [line.strip() for line in lines].index("The conflict is caused by:") + 1
    causes = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        causes.append(line.strip().replace("The user requested (constraint)", "QGIS's Python has"))
    return "; ".join(causes)


def explain_failure(run: PipRun, index_hint: str) -> str:
    """What went wrong, in words, with pip's own most telling line."""
    errors = [line for line in run.lines if "ERROR" in line or "error:" in line.lower()]
    detail = (errors or run.lines or ["(pip printed nothing)"])[-1].strip()
    text = "\n".join(run.lines)
    if any(marker.lower() in text.lower() for marker in _NETWORK):
        network = next(line for line in run.lines if any(m.lower() in line.lower() for m in _NETWORK))
        return (f"pip could not reach the package index ({network.strip()[:300]}). Check the network connection "
                f"and proxy settings; pip uses its own configuration ({index_hint}). Nothing was installed.")
    if any(marker in text for marker in _CONFLICT):
        return (f"pip found no versions that fit the packages QGIS's Python already has (they are never "
                f"upgraded): {_conflict(run.lines) or detail}. Nothing was installed.")
    if "(from versions: none)" in text:
        return (f"pip found no version at all of a package on the package index: {detail}. Either the index "
                f"cannot be reached (check the network connection and proxy settings) or pip's configuration "
                f"points to an index without it ({index_hint}). Nothing was installed.")
    if any(marker in text for marker in _NOT_FOUND):
        return (f"The package index has no suitable package for this Python and platform: {detail}. Choose "
                "another variant, or check pip's configuration. Nothing was installed.")
    if "No space left on device" in text:
        return "The disk is full: pip could not write the packages. Free some space and try again."
    return f"pip failed (exit code {run.returncode}): {detail}. Nothing was installed."
