"""The study's storage: a file that is not a study's is refused untouched, and a study is tied to its search."""
from __future__ import annotations

import hashlib
import shutil
import sqlite3

import optuna
import pytest

from plugin.core.errors import InputError
from tests.training.helpers import DATA
from training.__main__ import main
from training.tune.setup import tie_study
from training.tune.storage import OPTUNA_TABLES, open_storage


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


@pytest.fixture
def geopackage(tmp_path):
    path = tmp_path / "project.gpkg"
    shutil.copy(DATA / "s2" / "osm_landuse.gpkg", path)
    return path


def test_a_geopackage_is_refused_and_left_byte_for_byte_as_it_was(geopackage):
    before, files = _digest(geopackage), _siblings(geopackage)
    with pytest.raises(InputError, match="project.gpkg, a GeoPackage .*gpkg_contents.*The file was not changed"):
        open_storage(f"sqlite:///{geopackage}")
    assert _digest(geopackage) == before and _siblings(geopackage) == files  # no -wal, -shm or journal either


def test_tune_refuses_a_geopackage_storage_before_any_work(geopackage, capsys):
    before = _digest(geopackage)
    code = main(["tune", "--image", str(DATA / "s2" / "s2_l1c_10m_B02_B03_B04_B08.tif"), "--label-raster",
                 str(DATA / "s2" / "osm_landuse_labels_10m.tif"), "--storage", f"sqlite:///{geopackage}", "--quiet",
                 "--output", str(geopackage.parent / "out")])
    assert code == 2 and "a GeoPackage" in capsys.readouterr().err
    assert _digest(geopackage) == before and not (geopackage.parent / "out").exists()


def test_another_programs_database_and_a_file_that_is_not_sqlite_are_refused(tmp_path):
    other = tmp_path / "notes.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    before = _digest(other)
    with pytest.raises(InputError, match="an SQLite database of something else .*notes"):
        open_storage(f"sqlite:///{other}")
    assert _digest(other) == before
    text = tmp_path / "tune.db"
    text.write_text("not a database")
    with pytest.raises(InputError, match="not an SQLite database"):
        open_storage(f"sqlite:///{text}")
    assert text.read_text() == "not a database"


def test_a_new_an_empty_and_an_optuna_database_are_used(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    for path in (tmp_path / "new" / "tune.db", empty):
        storage = open_storage(f"sqlite:///{path}")
        optuna.create_study(storage=storage, study_name="s")
        again = open_storage(f"sqlite:///{path}")  # made by Optuna now: accepted
        assert [s.study_name for s in optuna.get_all_study_summaries(again)] == ["s"]
        with sqlite3.connect(path) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        assert tables <= OPTUNA_TABLES and mode == "wal"  # readers never block the writer of a shared study


def test_a_stored_study_refuses_another_search_and_names_what_changed(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'tune.db'}")
    study = optuna.create_study(storage=storage, study_name="seamless-tune", direction="maximize")
    first = {"space": {"searched": {"architecture": ["unet", "resnet18_fcn"]}}, "epochs_per_trial": 4}
    tie_study(study, first)
    study.add_trial(optuna.trial.create_trial(value=0.5))
    tie_study(study, first)  # the same search: resumed
    changed = {"space": {"searched": {"architecture": ["mobilenetv2_unet"]}}, "epochs_per_trial": 4}
    with pytest.raises(InputError, match=r"holds 1 trial\(s\) of another search: space.searched.architecture was "
                                         r"\[\"unet\", \"resnet18_fcn\"\], now \[\"mobilenetv2_unet\"\].*--study NAME"):
        tie_study(study, changed)
    older = optuna.create_study(storage=storage, study_name="older")
    older.add_trial(optuna.trial.create_trial(value=0.1))
    with pytest.raises(InputError, match="records no search settings"):
        tie_study(older, first)
