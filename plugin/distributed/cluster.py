"""The Dask cluster a distributed run uses: a local one (N worker processes, optionally one per GPU), or an
existing scheduler (started by ``dask scheduler``, dask-jobqueue on SLURM/PBS, Kubernetes...).

Workers run one task at a time (one thread each); the model inside a task uses the worker's share of the
cores (onnxruntime's intra-op threads), so N local workers split the machine's cores between them.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from ..core.errors import InputError, RuntimeUnavailableError
from ..core.model.runtime import available_providers, parse_device
from ..core.progress import Progress

DASK_INSTALL = ('distributed runs (--workers, --scheduler) need Dask. Install it with: python3 -m pip install '
                '"dask[distributed]"   (the same version on the client and on every worker), or run without '
                "--workers and --scheduler in this process.")


def import_distributed() -> Any:
    """The ``distributed`` module, or a RuntimeUnavailableError with the install command."""
    try:
        import distributed
    except ImportError as error:
        raise RuntimeUnavailableError(f"Dask is not installed ({error}): {DASK_INSTALL}") from None
    return distributed


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the system has one, as under SLURM or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ClusterSpec:
    """Where tasks run: ``workers`` local processes, one per device of ``devices``, or the ``scheduler``."""

    workers: int = 0
    devices: tuple[str, ...] = ()
    scheduler: str | None = None
    connect_timeout: float = 20.0

    @classmethod
    def parse_workers(cls, text: str) -> tuple[int, tuple[str, ...]]:
        """``--workers``: a number of processes, or a device list such as ``cuda:0,cuda:1`` (one worker each)."""
        text = text.strip()
        if text.isdigit():
            if int(text) < 1:
                raise InputError(f"--workers must be at least 1, got {text}.")
            return int(text), ()
        devices = tuple(d.strip() for d in text.split(",") if d.strip())
        if not devices:
            raise InputError(f"--workers '{text}' is neither a number of processes nor a device list such as "
                             "cuda:0,cuda:1.")
        providers = available_providers()
        for device in devices:
            parse_device(device, providers)  # a clear error for a device this machine does not have
        return len(devices), devices

    @property
    def local(self) -> bool:
        return not self.scheduler

    def threads_per_task(self) -> int:
        """onnxruntime threads for each task: the machine's cores split between the local workers; 0 (the
        worker decides from its own cores) on an existing cluster."""
        return max(1, available_cores() // max(self.workers, 1)) if self.local else 0

    def describe(self) -> str:
        if self.scheduler:
            return f"the Dask scheduler at {self.scheduler}"
        pinned = f", one per device ({', '.join(self.devices)})" if self.devices else ""
        return f"a local Dask cluster of {self.workers} worker process(es){pinned}"


def bad_scheduler_message(address: str, timeout: float, error: BaseException) -> str:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (f"Cannot reach the Dask scheduler at '{address}' ({detail}). Check the address (for example "
            f"tcp://HOST:8786), that a scheduler runs there ('dask scheduler') and that this machine can reach "
            f"it within {timeout:g} s (--connect-timeout); or use --workers N for a cluster on this machine.")


@contextmanager
def dask_client(spec: ClusterSpec, progress: Progress) -> Iterator[Any]:
    """A connected ``distributed.Client``; a local cluster is started and, at the end, stopped."""
    distributed = import_distributed()
    cluster = None
    if spec.scheduler:
        try:
            client = distributed.Client(spec.scheduler, timeout=spec.connect_timeout)
        except (OSError, ValueError, TypeError) as error:  # refused, timed out, malformed address
            raise InputError(bad_scheduler_message(spec.scheduler, spec.connect_timeout, error)) from None
        workers = len(client.scheduler_info().get("workers", {}))
        progress.info(f"Connected to the Dask scheduler at {spec.scheduler}: {workers} worker(s) now"
                      f"{'; the tasks wait until workers join' if not workers else ''}.")
    else:
        cluster = distributed.LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        client = distributed.Client(cluster)
        progress.info(f"Started {spec.describe()} ({spec.threads_per_task()} thread(s) each).")
    try:
        yield client
    finally:
        _close(client, cluster, progress)


def _close(client: Any, cluster: Any, progress: Progress) -> None:
    """Disconnect (and stop a local cluster). By then every scene's outcome is decided and its outputs committed
    or not: a failure of Dask's own shutdown (its client's state checks can trip on a loaded machine) is reported
    as a warning and changes neither the outcomes nor the error already on its way."""
    for name, part in (("the connection to the Dask scheduler", client), ("the local Dask cluster", cluster)):
        if part is None:
            continue
        try:
            part.close()
        except Exception as error:  # noqa: BLE001 - shutting down after the results are in: reported, not fatal
            progress.warning(f"Closing {name} failed ({type(error).__name__}: {error}); the results are not "
                             "affected.")
