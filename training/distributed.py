"""Several processes under ``torchrun``: DistributedDataParallel with NCCL on GPUs, gloo on CPUs.

``torchrun --nproc_per_node N -m training train --config CONFIG`` starts N processes; each reads
RANK, WORLD_SIZE and LOCAL_RANK from its environment. Every rank prepares the same data (it is
deterministic), trains on its share of the chips, validates its share of the windows; confusion
matrices and losses are summed over ranks, so every rank takes the same early-stopping decision.
Only rank 0 writes checkpoints, the model and the report.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ._plugin import errors


@dataclass(frozen=True)
class DistState:
    """This process's place in the run and the device it trains on."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def choose_device(setting: str, local_rank: int = 0) -> torch.device:
    """"auto": CUDA when available, else CPU; "cuda" without a GPU is an error that says so."""
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise errors.RuntimeUnavailableError(
                "DEVICE is cuda but this torch has no usable CUDA GPU; choose cpu or auto, or install a CUDA "
                "build of torch (pytorch.org).")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def single_process_device(device_setting: str, models: str) -> torch.device:
    """The device for a model kind that trains in one process (``models``: what it trains, for the message);
    refused when started by torchrun with several processes."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise errors.InputError(f"{models} train in one process (one CPU or GPU); run python -m training train "
                                "without torchrun.")
    return choose_device(device_setting)


def setup(device_setting: str) -> DistState:
    """Join the process group when started by torchrun; a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(device_setting, local_rank)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistState(rank, world, local_rank, device)


def teardown(state: DistState) -> None:
    """Leave the process group (rank 0 waits for the others first)."""
    if state.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_sum(state: DistState, tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over all ranks (itself in a single process)."""
    if not state.distributed:
        return tensor
    reduced = tensor.clone().to(state.device if state.device.type == "cuda" else "cpu")
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced.cpu()


def any_rank(state: DistState, flag: bool) -> bool:
    """True when ``flag`` is true on any rank (cancellation must stop every rank together)."""
    if not state.distributed:
        return flag
    return bool(all_sum(state, torch.tensor([1.0 if flag else 0.0])).item() > 0)
