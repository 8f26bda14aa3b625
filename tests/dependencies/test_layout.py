"""The dependency folder in a profile: manifest, activation, replacement, stale folders, removal."""
from __future__ import annotations

import json
import sys

import pytest

from plugin.dependencies.layout import FOLDER_NAME, activate, profile_folder


@pytest.fixture
def restore_sys_path():
    saved = list(sys.path)
    yield
    sys.path[:] = saved


def _staged(folder, module: str = "seamless_probe_module", value: int = 1):
    staging = folder.new_staging()
    (staging / f"{module}.py").write_text(f"VALUE = {value}\n")
    return staging


def test_nothing_installed_means_no_installation_and_nothing_on_the_path(tmp_path, restore_sys_path):
    folder = profile_folder(tmp_path)
    assert folder.path == tmp_path / "python" / FOLDER_NAME / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert folder.installation() is None
    before = list(sys.path)
    assert activate(folder) is None and sys.path == before


def test_a_committed_installation_is_recorded_and_put_before_site_packages(tmp_path, restore_sys_path):
    folder = profile_folder(tmp_path)
    staging = _staged(folder)
    installation = folder.commit(staging, "cpu", False, {"onnxruntime": "1.31.1"}, "/usr/bin/python3")
    assert not staging.exists() and installation.site.name.startswith("site-")
    manifest = json.loads((folder.path / "active.json").read_text())
    assert manifest["site"] == installation.site.name and manifest["variant"] == "cpu"
    assert folder.installation() == installation
    assert activate(folder) == installation.site
    position = sys.path.index(str(installation.site))
    site_folders = [i for i, p in enumerate(sys.path) if p.endswith(("site-packages", "dist-packages"))]
    # Before site-packages (a newer copy the training packages need wins), after QGIS's folders and the stdlib.
    assert position == min(i for i in site_folders if i != position) - 1
    assert any(p.endswith("lib-dynload") for p in sys.path[:position])
    import seamless_probe_module

    assert seamless_probe_module.VALUE == 1
    sys.modules.pop("seamless_probe_module")


def test_a_new_installation_replaces_the_old_and_the_old_folder_goes(tmp_path):
    folder = profile_folder(tmp_path)
    first = folder.commit(_staged(folder), "cpu", False, {}, "python")
    leftover = folder.new_staging()  # as a crashed installation would leave it
    second = folder.commit(_staged(folder, value=2), "nvidia", True, {}, "python")
    assert folder.installation().site == second.site and folder.installation().training
    assert set(folder.stale_folders()) == {first.site, leftover}
    folder.remove_stale()  # a young staging folder may be another QGIS installing right now: it stays
    assert sorted(p.name for p in folder.path.iterdir()) == sorted(["active.json", second.site.name, leftover.name])
    folder.remove_stale(staging_age_s=0)
    assert sorted(p.name for p in folder.path.iterdir()) == sorted(["active.json", second.site.name])


def test_a_manifest_naming_a_missing_folder_counts_as_nothing_installed(tmp_path):
    folder = profile_folder(tmp_path)
    installation = folder.commit(_staged(folder), "cpu", False, {}, "python")
    installation.site.rename(installation.site.with_name("moved"))
    assert folder.installation() is None


def test_removing_deletes_the_folder_and_only_it(tmp_path):
    folder = profile_folder(tmp_path)
    folder.commit(_staged(folder), "cpu", False, {}, "python")
    (tmp_path / "python" / "plugins").mkdir()
    folder.remove()
    assert not (tmp_path / "python" / FOLDER_NAME).exists()
    assert (tmp_path / "python" / "plugins").is_dir()


def test_folders_are_per_python_version(tmp_path):
    assert profile_folder(tmp_path, (3, 13)).path.name == "python3.13"
    assert profile_folder(tmp_path, (3, 11)).path != profile_folder(tmp_path, (3, 13)).path
