"""The lock of a parts folder without a cluster: who holds it, when a lock is stale, what a refusal says, and
that a block task never writes into a folder another run has taken (real files, real processes)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from plugin.core.errors import InputError, OutputError
from plugin.core.progress import LoggingProgress
from plugin.distributed.lock import LOCK_NAME, Owner, PartsLock, is_stale, process_start, this_process
from plugin.distributed.parts import MANIFEST, PartsFolder
from plugin.distributed.tasks import run_block
from tests.cli.helpers import BUNDLED_MODEL
from tests.distributed.helpers import markers, unfinished_run


def _lock_of(folder: Path, **changes: object) -> Path:
    """A lock in ``folder`` as another run would have written it (this process's identity, changed)."""
    folder.mkdir(parents=True, exist_ok=True)
    owner = replace(this_process(), **changes)
    path = folder / LOCK_NAME
    path.write_text(json.dumps(asdict(owner)))
    return path


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)


def test_one_lock_per_folder_and_its_release(tmp_path):
    first, second = PartsLock(tmp_path), PartsLock(tmp_path)
    first.acquire("classes.tif", LoggingProgress())
    owner = Owner.read(tmp_path / LOCK_NAME)
    assert owner is not None and owner.pid == os.getpid() and owner.host == socket.gethostname()
    assert owner.process_started == pytest.approx(process_start(os.getpid()))
    with pytest.raises(InputError, match=rf"Another run is writing 'classes.tif': process {os.getpid()} on host"):
        second.acquire("classes.tif", LoggingProgress())  # the same process, another run: refused all the same
    second.release()  # not held: leaves the first run's lock alone
    assert (tmp_path / LOCK_NAME).exists()
    first.release()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    second.acquire("classes.tif", LoggingProgress())
    assert second.held


@pytest.mark.parametrize("changes, stale", [
    ({"pid": None}, True),  # the process is gone
    ({"process_started": 1.0}, True),  # the id now belongs to another process (started at another time)
    ({"boot": "another-boot"}, True),  # written before the machine was restarted
    ({"host": "elsewhere.example"}, False),  # another machine's process cannot be checked from here
    ({}, False),  # this very process
], ids=["dead process", "pid reused", "machine restarted", "other host", "alive"])
def test_a_stale_lock_is_told_from_a_live_one(changes, stale):
    values = {k: (_dead_pid() if k == "pid" else v) for k, v in changes.items()}
    owner = replace(this_process(), **values)
    if "boot" in changes and this_process().boot is None:
        pytest.skip(reason="this system gives no boot id")
    assert is_stale(owner) is stale


def test_a_stale_lock_is_taken_over_and_the_log_says_whose_it_was(tmp_path):
    pid = _dead_pid()
    _lock_of(tmp_path, pid=pid, run="0" * 32)
    progress = LoggingProgress()
    lock = PartsLock(tmp_path)
    lock.acquire("classes.tif", progress)
    assert lock.held and Owner.read(tmp_path / LOCK_NAME) == lock.owner
    assert f"the lock of an earlier run (process {pid} on host '{socket.gethostname()}'" in progress.messages[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]  # nothing moved aside is left


def test_a_lock_of_another_host_is_refused_with_what_to_do(tmp_path):
    path = _lock_of(tmp_path, host="node17.cluster", pid=4242, run="f" * 32)
    with pytest.raises(InputError) as refused:
        PartsLock(tmp_path).acquire("classes.tif", LoggingProgress())
    message = str(refused.value)
    assert "process 4242 on host 'node17.cluster'" in message and "(the lock was taken" in message
    assert f"delete '{path}' and run again (with --resume to keep its finished blocks)" in message


def test_a_damaged_lock_is_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text("{\"host\": ")
    progress = LoggingProgress()
    PartsLock(tmp_path).acquire("classes.tif", progress)
    assert "a run whose lock cannot be read" in progress.messages[0]


def test_a_folder_held_by_another_run_is_neither_cleared_nor_removed(tmp_path):
    output = tmp_path / "classes.tif"
    held = PartsFolder(output, "a" * 16, {"block_size": 192})
    held.open(False, LoggingProgress())
    (held.path / "r0000_c0000-aaaaaaaaaaaa.done.json").write_text("{}")
    before = sorted(p.name for p in held.path.iterdir())
    other = PartsFolder(output, "b" * 16, {"block_size": 384})
    for resume in (False, True):
        with pytest.raises(InputError, match="Another run is writing 'classes.tif'"):
            other.open(resume, LoggingProgress())
    other.remove()  # a folder it does not hold: nothing happens
    assert sorted(p.name for p in held.path.iterdir()) == before


@pytest.mark.slow
def test_a_cancelled_block_task_does_not_write_into_a_folder_taken_by_another_run(scene, tmp_path):
    """Dask lets a cancelled task run to its end: when its run's folder was taken meanwhile by a run of other
    settings, the task writes nothing there."""
    out = tmp_path / "out"
    first = unfinished_run(scene, BUNDLED_MODEL, out / "classes.tif", "--window-size", "256", "--overlap", "25",
                           "--block-size", "192", blocks=0)
    task = next(iter(first.tasks.values()))
    assert first.parts is not None
    taken = PartsFolder(out / "classes.tif", "c" * 16, {"other": "settings"})
    taken.open(False, LoggingProgress())
    before = sorted(p.name for p in taken.path.iterdir())
    with pytest.raises(OutputError, match="now belongs to another run"):
        run_block(task)  # type: ignore[arg-type]
    assert sorted(p.name for p in taken.path.iterdir()) == before and markers(first) == {}
    assert json.loads((taken.path / MANIFEST).read_text())["fingerprint"] == "c" * 16
