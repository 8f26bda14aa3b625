"""What the distributed tests share: an unfinished distributed run made on purpose, and the blocks it left."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from plugin.cli.classify_command import run_options
from plugin.cli.main import build_parser
from plugin.cli.scene_list import scene_requests
from plugin.core.progress import LoggingProgress
from plugin.distributed.scenes import ClientModels, Scene
from plugin.distributed.tasks import BlockTask, run_block


def unfinished_run(*arguments: Any, blocks: int) -> Scene:
    """The state a killed run leaves: the command ``classify ARGUMENTS`` planned as the client plans it, its first
    ``blocks`` blocks computed by the workers' own function (in this process) and the folder given back with them,
    as a run that stopped does. Returns the scene (its parts folder, tasks and fingerprint)."""
    args = build_parser().parse_args(["classify", *map(str, arguments)])
    request, = scene_requests(args, run_options(args))
    scene = Scene(0, request, LoggingProgress())
    scene.plan(ClientModels(), args.block_size, False, (), 1)
    for task in list(scene.tasks.values())[:blocks]:
        assert isinstance(task, BlockTask)
        run_block(task)
    assert scene.parts is not None
    scene.parts.release()
    return scene


def markers(scene: Scene) -> dict[str, bytes]:
    """The markers of the finished blocks in the scene's parts folder, by name, with their bytes."""
    assert scene.parts is not None
    folder = scene.parts.path
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.done.json"))} if folder.exists() else {}


def part_files(scene: Scene, block: str) -> list[Path]:
    """The GeoTIFFs a block wrote."""
    task = scene.tasks[block]
    assert isinstance(task, BlockTask)
    return [Path(p) for p in task.part_paths.values()]
