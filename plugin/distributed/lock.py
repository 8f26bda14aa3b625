"""Who owns a parts folder: one distributed run at a time writes the blocks of an output.

Two runs into one output at the same time would delete and reuse each other's blocks, and both would report
success with a result that is neither's. The run that opens ``.NAME.tif.parts/`` first writes ``lock.json``
there (created atomically: it appears complete or not at all) with its owner: host, process id, the process's
start time and the run's own token. Another run finds it and is refused with a message naming that owner,
before it changes anything. The lock is removed when its run ends (finished, failed or cancelled).

A lock whose owner is gone stays behind when the client is killed (``kill -9``, a crash, a power cut). On the
same host that is recognised: the process does not exist, or a process with that id started at another time
(the id was reused), or the machine was restarted since; the next run takes the lock over and says so. A lock
of another host cannot be checked from here: the message says how to remove it once that run is known to be
over.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from ..adapters.outputs.atomic import process_alive
from ..core.errors import InputError, OutputError
from ..core.progress import Progress

LOCK_NAME = "lock.json"
_ATTEMPTS = 5  # takeovers and refusals raced by other runs before giving up


@dataclass(frozen=True)
class Owner:
    """The identity of the run that holds a lock."""

    host: str
    pid: int
    process_started: float | None  # the process's start (seconds since the epoch), when the system says it
    locked_at: float  # when the lock was taken
    run: str  # a token of its own, so a run knows its lock from another of the same process
    boot: str | None = None  # the machine's boot id (Linux): a lock from before a restart is stale

    def describe(self) -> str:
        started = (f", started {_when(self.process_started)}" if self.process_started is not None else "")
        return f"process {self.pid} on host '{self.host}'{started} (the lock was taken {_when(self.locked_at)})"

    @classmethod
    def read(cls, path: Path) -> "Owner | None":
        """The owner recorded in ``path``; None when it is missing, damaged, or not a lock we wrote."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["host"]), int(data["pid"]), _number(data.get("process_started")),
                       float(data["locked_at"]), str(data["run"]), data.get("boot"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(seconds))


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc on Linux; None where it cannot be had."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat: start time in clock ticks after boot
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def this_process() -> Owner:
    pid = os.getpid()
    return Owner(socket.gethostname(), pid, process_start(pid), time.time(), uuid.uuid4().hex, _boot_id())


def is_stale(owner: Owner) -> bool:
    """Whether ``owner`` is a process of this host that no longer runs; False when it runs or cannot be checked."""
    if owner.host != socket.gethostname():
        return False
    if owner.boot and _boot_id() and owner.boot != _boot_id():
        return True  # recorded before this machine was restarted
    if not process_alive(owner.pid):
        return True
    started = process_start(owner.pid)
    return started is not None and owner.process_started is not None and abs(started - owner.process_started) > 1.0


class PartsLock:
    """The lock of one parts folder, taken by :meth:`acquire` and given back by :meth:`release`."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self.owner = this_process()
        self.held = False

    def acquire(self, output_name: str, progress: Progress) -> None:
        """Take the lock, or take over one whose owner is gone; refuse when another run holds it."""
        for _ in range(_ATTEMPTS):
            if self._create():
                self.held = True
                return
            holder = Owner.read(self.path)
            if holder is None:  # being written by a run that started this instant, or damaged: look again
                time.sleep(0.2)
                holder = Owner.read(self.path)
                if holder is None and self.path.exists():
                    self._take_over(None, output_name, progress)
                continue
            if holder.run == self.owner.run:
                self.held = True
                return
            if not is_stale(holder):
                raise InputError(self._refusal(holder, output_name))
            self._take_over(holder, output_name, progress)
        raise OutputError(f"Cannot take the lock '{self.path}': other runs kept taking it. Run again.")

    def _create(self) -> bool:
        """Write the lock under a temporary name, then link it into place: it appears whole or not at all."""
        temporary = self.path.with_name(f".{LOCK_NAME}.{self.owner.run}")
        try:
            temporary.write_text(json.dumps(asdict(self.owner), indent=1), encoding="utf-8")
            try:
                os.link(temporary, self.path)
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: exclusive creation instead
                try:
                    with open(self.path, "x", encoding="utf-8") as handle:
                        handle.write(temporary.read_text(encoding="utf-8"))
                except FileExistsError:
                    return False
            return True
        except OSError as error:
            raise OutputError(f"Cannot write the lock '{self.path}': {error.strerror or error}. Choose an output "
                              "folder you can write to.") from error
        finally:
            temporary.unlink(missing_ok=True)

    def _take_over(self, holder: Owner | None, output_name: str, progress: Progress) -> None:
        """Move a stale lock aside (only one of several runs doing this at once succeeds) and say so."""
        aside = self.path.with_name(f".{LOCK_NAME}.stale-{self.owner.run}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return  # another run moved it first: try again
        moved = Owner.read(aside)
        if holder is not None and moved != holder and moved is not None and not is_stale(moved):
            try:
                os.link(aside, self.path)  # a live run's lock, taken after we looked: put it back, then refuse
            except FileExistsError:
                pass  # a third run has locked meanwhile: that run's lock stands
            aside.unlink(missing_ok=True)
            raise InputError(self._refusal(moved, output_name))
        aside.unlink(missing_ok=True)
        who = holder.describe() if holder is not None else "a run whose lock cannot be read"
        progress.info(f"'{output_name}': the lock of an earlier run ({who}) was left behind by a process that no "
                      "longer runs; it is taken over.")

    def _refusal(self, holder: Owner, output_name: str) -> str:
        return (f"Another run is writing '{output_name}': {holder.describe()} holds '{self.path}'. Two runs into one "
                "output would mix their blocks. Wait for it to finish, or give this run another output path. If "
                f"that run is not running any more (its machine was stopped, for example), delete '{self.path}' and "
                "run again (with --resume to keep its finished blocks).")

    def release(self) -> None:
        """Give the lock back (only ours: a lock another run took over meanwhile is left alone)."""
        if not self.held:
            return
        self.held = False
        holder = Owner.read(self.path)
        if holder is not None and holder.run == self.owner.run:
            self.path.unlink(missing_ok=True)
