"""The build backend of ``pip install .``: setuptools', leaving the clone as it was.

setuptools builds in the source folder: it writes ``build/`` (``lib``, ``bdist.*``) and ``NAME.egg-info/`` next to
the sources and leaves them there, where ``git status`` shows them. Each hook here runs setuptools' own and then
removes what that hook made in the clone and was not there before (a ``build/`` folder that was already there,
with the test and lint caches, keeps everything it had). The wheel and its metadata go where pip asks, outside.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from setuptools import build_meta as _setuptools

SetupRequirementsError = _setuptools.SetupRequirementsError


def _made_by_builds(root: Path) -> set[Path]:
    """What setuptools writes in the clone: egg-info folders, and build/ with its entries."""
    found = set(root.glob("*.egg-info"))
    build = root / "build"
    if build.exists():
        found.add(build)
        found.update(build.iterdir())
    return found


@contextmanager
def _tidy() -> Iterator[None]:
    root = Path.cwd()
    before = _made_by_builds(root)
    try:
        yield
    finally:
        for path in sorted(_made_by_builds(root) - before, key=lambda p: len(p.parts)):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


def _tidied(hook: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        with _tidy():
            return hook(*args, **kwargs)
    run.__name__, run.__doc__ = hook.__name__, hook.__doc__
    return run


get_requires_for_build_wheel = _tidied(_setuptools.get_requires_for_build_wheel)
get_requires_for_build_sdist = _tidied(_setuptools.get_requires_for_build_sdist)
prepare_metadata_for_build_wheel = _tidied(_setuptools.prepare_metadata_for_build_wheel)
build_wheel = _tidied(_setuptools.build_wheel)
build_sdist = _tidied(_setuptools.build_sdist)
# Editable installs keep setuptools' files: the installed package points into the clone.
get_requires_for_build_editable = _setuptools.get_requires_for_build_editable
prepare_metadata_for_build_editable = _setuptools.prepare_metadata_for_build_editable
build_editable = _setuptools.build_editable
