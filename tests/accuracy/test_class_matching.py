"""Codes compared blindly: a model trained from a text class field numbers its classes alphabetically (1 farm,
2 forest, 3 grass...), the dataset's label raster codes them 1 farm, 2 meadow, 3 forest... and has no class names.
The assessment says that codes are matched by value only, warns when the matrix looks permuted (with the best
one-to-one matching and its score) and matches codes by name when the reference's codes are named
(REFERENCE_CLASSES: value=name pairs or a CSV file), in seamless:evaluate and in the ``evaluate`` command."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, ogr

from plugin.adapters.accuracy.assess import assess
from plugin.adapters.accuracy.legend_file import reference_classes
from plugin.adapters.accuracy.reference import ReferenceSpec
from plugin.core.accuracy.assignment import best_assignment
from plugin.core.errors import InputError
from tests.accuracy.helpers import LABEL_CODES, S2_LABELS, S2_POLYGONS, write_class_raster
from tests.support.data import REPO

ALPHABETICAL = {name: value for value, name in enumerate(sorted(LABEL_CODES), start=1)}
LEGEND = ";".join(f"{code}={name}" for name, code in LABEL_CODES.items())


def test_the_best_assignment_is_the_best_of_every_permutation():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 7))
        weights = rng.integers(0, 50, (n, n)) * (rng.random((n, n)) < 0.6)
        columns = best_assignment(weights)
        assert sorted(columns.tolist()) == list(range(n))
        best = max(sum(weights[i, p[i]] for i in range(n)) for p in itertools.permutations(range(n)))
        assert weights[np.arange(n), columns].sum() == best


@pytest.fixture(scope="module")
def alphabetical(tmp_path_factory) -> Path:
    """The label raster itself as a classification numbered alphabetically, with its class names embedded: a
    perfect map whose codes mean other classes than the label raster's."""
    from plugin.core.model.contract import ClassInfo

    source = gdal.Open(str(S2_LABELS))
    labels = source.ReadAsArray()
    lookup = np.full(256, 255, np.uint8)
    for name, code in LABEL_CODES.items():
        lookup[code] = ALPHABETICAL[name]
    infos = [ClassInfo(value, name, "#808080") for name, value in sorted(ALPHABETICAL.items(), key=lambda x: x[1])]
    return write_class_raster(tmp_path_factory.mktemp("alphabetical") / "classes.tif", lookup[labels],
                              source.GetGeoTransform(), source.GetProjection(), infos=infos)


def test_codes_compared_by_value_are_said_and_a_permuted_matrix_is_warned_about(alphabetical):
    summary = assess(str(alphabetical), ReferenceSpec(raster=str(S2_LABELS), nodata=0))
    assert summary.scores.overall_accuracy < 0.4  # the blind comparison of the issue
    assert any("matched by value only" in note and "REFERENCE_CLASSES" in note for note in summary.notes)
    warning = summary.permutation_warning()
    assert warning and "looks permuted" in warning and "would give 1.000" in warning
    assert "reference code 2 with classification 4 'meadow'" in warning
    document = summary.to_dict()
    assert document["class_matching"] == "value" and document["best_matching"]["looks_permuted"]
    assert document["best_matching"]["overall_accuracy"] == 1.0


@pytest.mark.parametrize("given", ["pairs", "csv"])
def test_named_reference_codes_are_matched_by_name(alphabetical, tmp_path, given):
    legend = LEGEND
    if given == "csv":
        legend = str(tmp_path / "legend.csv")
        Path(legend).write_text("code;class\n" + "\n".join(f"{c};{n}" for n, c in LABEL_CODES.items()) + "\n")
    summary = assess(str(alphabetical), ReferenceSpec(raster=str(S2_LABELS), nodata=0,
                                                      classes=reference_classes(legend)))
    assert summary.scores.overall_accuracy == 1.0 and summary.permutation_warning() is None
    assert summary.to_dict()["class_matching"] == "name"
    assert any("2 'meadow' -> 4" in note for note in summary.notes)


def test_reference_codes_not_named_are_left_out_and_counted(alphabetical):
    named = {code: name for name, code in LABEL_CODES.items() if name not in ("water", "grass")}
    summary = assess(str(alphabetical), ReferenceSpec(raster=str(S2_LABELS), nodata=0, classes=named))
    labels = gdal.Open(str(S2_LABELS)).ReadAsArray()
    unnamed = int(np.isin(labels, [LABEL_CODES["water"], LABEL_CODES["grass"]]).sum())
    assert summary.excluded["reference_code_not_named"] == unnamed > 0
    assert summary.scores.overall_accuracy == 1.0
    assert summary.matrix.total == int(((labels != 0) & ~np.isin(labels, [7, 8])).sum())


def test_a_good_classification_is_not_called_permuted(classified):
    summary = assess(str(classified.path), ReferenceSpec(raster=str(S2_LABELS), nodata=0))
    assert summary.permutation_warning() is None
    assert summary.relabelling.overall_accuracy - summary.scores.overall_accuracy < 0.1


def test_a_numeric_field_with_named_codes_gives_what_the_text_field_gives(alphabetical, tmp_path):
    source = ogr.Open(str(S2_POLYGONS))
    target = ogr.GetDriverByName("GPKG").CreateDataSource(str(tmp_path / "codes.gpkg"))
    layer = target.CreateLayer("codes", source.GetLayer(0).GetSpatialRef(), ogr.wkbMultiPolygon)
    layer.CreateField(ogr.FieldDefn("code", ogr.OFTInteger))
    for feature in source.GetLayer(0):
        copy = ogr.Feature(layer.GetLayerDefn())
        copy.SetGeometry(feature.GetGeometryRef().Clone())
        copy.SetField("code", LABEL_CODES[feature.GetField("fclass")])
        layer.CreateFeature(copy)
    layer = target = source = None
    by_value = assess(str(alphabetical), ReferenceSpec(vector=str(tmp_path / "codes.gpkg"), field="code"))
    assert any("matched by value only" in note for note in by_value.notes) and by_value.permutation_warning()
    named = assess(str(alphabetical), ReferenceSpec(vector=str(tmp_path / "codes.gpkg"), field="code",
                                                    classes=reference_classes(LEGEND)))
    text = assess(str(alphabetical), ReferenceSpec(vector=str(S2_POLYGONS), field="fclass"))
    assert named.matrix.values == text.matrix.values
    np.testing.assert_array_equal(named.matrix.matrix, text.matrix.matrix)
    with pytest.raises(InputError, match="holds class names.*leave REFERENCE_CLASSES empty"):
        assess(str(alphabetical), ReferenceSpec(vector=str(S2_POLYGONS), field="fclass",
                                                classes=reference_classes(LEGEND)))


@pytest.mark.parametrize("text, message", [
    ("1=farm;meadow", "cannot read 'meadow'"),
    ("1=farm;1=meadow", "names class 1 twice"),
])
def test_unreadable_reference_classes_say_how_to_write_them(text, message):
    with pytest.raises(InputError, match=message):
        reference_classes(text)


def test_an_unreadable_legend_file_says_which_row(tmp_path):
    legend = tmp_path / "legend.csv"
    legend.write_text("code,name\n1,farm\nforest,3\n")
    with pytest.raises(InputError, match="row 3 of .* does not start with a whole-number code"):
        reference_classes(str(legend))


def test_evaluate_from_the_toolbox_says_warns_and_matches_by_name(provider, alphabetical, tmp_path):
    import processing
    from qgis.core import QgsProcessingFeedback

    class Recording(QgsProcessingFeedback):
        def __init__(self) -> None:
            super().__init__()
            self.infos: list[str] = []
            self.warnings: list[str] = []

        def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS API name
            self.infos.append(info)

        def pushWarning(self, warning: str) -> None:  # noqa: N802 - QGIS API name
            self.warnings.append(warning)

    feedback = Recording()
    blind = processing.run("seamless:evaluate", {"INPUT": str(alphabetical), "REFERENCE": str(S2_LABELS),
                                                 "REFERENCE_NODATA": 0, "OUTPUT_REPORT": str(tmp_path / "a.html")},
                           feedback=feedback)
    assert blind["OVERALL_ACCURACY"] < 0.4
    assert any("matched by value only" in line for line in feedback.infos)
    assert any("looks permuted" in line for line in feedback.warnings)
    page = (tmp_path / "a.html").read_text()
    assert "looks permuted" in page and "matched by value only" in page
    named = processing.run("seamless:evaluate", {"INPUT": str(alphabetical), "REFERENCE": str(S2_LABELS),
                                                 "REFERENCE_NODATA": 0, "REFERENCE_CLASSES": LEGEND})
    assert named["OVERALL_ACCURACY"] == 1.0


@pytest.mark.slow
def test_qgis_process_ends_its_progress_line_before_the_result(qgis_process, alphabetical, tmp_path):
    legend = tmp_path / "legend.csv"
    legend.write_text("\n".join(f"{c},{n}" for n, c in LABEL_CODES.items()) + "\n")
    from tests.support.qgis_process import QGIS_PROCESS

    # Without --json, as a user reads it: the progress dots, then the result on a line of its own.
    completed = subprocess.run([QGIS_PROCESS, "run", "seamless:evaluate", "--", f"INPUT={alphabetical}",
                                f"REFERENCE={S2_LABELS}", "REFERENCE_NODATA=0", f"REFERENCE_CLASSES={legend}",
                                f"OUTPUT_JSON={tmp_path / 'a.json'}"], env=qgis_process.environment,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "...100 - done.\nOverall accuracy 1.0000" in completed.stdout
    assert json.loads((tmp_path / "a.json").read_text())["class_matching"] == "name"


def test_the_evaluate_command_takes_reference_classes(alphabetical, tmp_path):
    command = [sys.executable, "-m", "plugin.cli", "evaluate", str(alphabetical), "--reference", str(S2_LABELS),
               "--reference-nodata", "0", "--json"]
    blind = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert blind.returncode == 0 and "looks permuted" in blind.stderr and "matched by value only" in blind.stderr
    named = subprocess.run([*command, "--reference-classes", LEGEND], cwd=REPO, capture_output=True, text=True,
                           timeout=300)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["OVERALL_ACCURACY"] == 1.0 and "looks permuted" not in named.stderr
