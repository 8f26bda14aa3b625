"""Pure pieces: value counting, class names, name matching, the summary's rows and areas."""
from __future__ import annotations

import numpy as np
import pytest

from plugin.core.accuracy.class_mapping import class_values, match_names, parse_class_names
from plugin.core.accuracy.metrics import ConfusionMatrix, ValueCounter
from plugin.core.accuracy.summary import POINT_SAMPLES, TABLE_COLUMNS, AccuracySummary
from plugin.core.errors import InputError

# A hand-made matrix (rows reference, columns prediction) whose scores are worked out by hand below.
HAND_REFERENCE = [1] * 5 + [2] * 5 + [3] * 10
HAND_PREDICTED = [1, 1, 1, 1, 2] + [1, 2, 2, 2, 3] + [2, 2] + [3] * 8


def test_hand_made_case_matches_scores_worked_out_by_hand():
    matrix = ConfusionMatrix.from_arrays(np.array(HAND_REFERENCE), np.array(HAND_PREDICTED))
    assert matrix.matrix.tolist() == [[4, 1, 0], [1, 3, 1], [0, 2, 8]]
    scores = matrix.scores()
    # po = 15/20; pe = (5*5 + 5*6 + 10*9) / 20^2 = 145/400; kappa = (0.75 - 0.3625) / 0.6375 = 31/51
    assert scores.overall_accuracy == pytest.approx(0.75)
    assert scores.kappa == pytest.approx(31 / 51)
    # IoU = nii / (ni+ + n+i - nii): 4/6, 3/8, 8/11
    assert scores.iou == pytest.approx([2 / 3, 3 / 8, 8 / 11])
    assert scores.mean_iou == pytest.approx((2 / 3 + 3 / 8 + 8 / 11) / 3)
    assert scores.producers_accuracy == pytest.approx([4 / 5, 3 / 5, 8 / 10])
    assert scores.users_accuracy == pytest.approx([4 / 5, 3 / 6, 8 / 9])
    assert scores.f1 == pytest.approx([8 / 10, 6 / 11, 16 / 19])


def test_value_counter_accumulates_blocks_and_respects_validity():
    counter = ValueCounter()
    counter.update(np.array([[1, 1, 3], [300, 3, 3]]), np.array([[True, True, False], [True, True, True]]))
    counter.update(np.array([7, 1]))
    assert counter.counts == {1: 3, 3: 2, 7: 1, 300: 1}
    assert counter.total == 7
    counter.update(np.array([5]), np.array([False]))
    assert counter.total == 7


def test_class_names_are_parsed_with_semicolons_or_new_lines():
    assert parse_class_names(" 1=farm; 2 = mixed forest\n8=water;") == {1: "farm", 2: "mixed forest", 8: "water"}
    assert parse_class_names("") == {}
    with pytest.raises(InputError, match="cannot read 'forest'"):
        parse_class_names("1=farm;forest")
    with pytest.raises(InputError, match="names class 1 twice"):
        parse_class_names("1=farm;1=forest")


def test_reference_names_match_ignoring_case_and_unmatched_get_free_codes():
    match = match_names(["Forest", "farm ", "scrub", "grass"], {1: "farm", 3: "forest", 254: "x"}, reserved=(255,))
    assert match.value_of["Forest"] == 3 and match.value_of["farm "] == 1
    assert match.unmatched == ("grass", "scrub")
    assert match.new_values == {256: "grass", 257: "scrub"}  # 255 is reserved


def test_names_that_match_nothing_are_refused_with_the_fix():
    with pytest.raises(InputError, match="None of the reference class names.*CLASS_NAMES"):
        match_names(["Wald", "Acker"], {1: "farm", 3: "forest"})


def test_class_values_refuse_fractions_but_accept_whole_floats():
    assert class_values(np.array([1.0, 2.0, np.nan]), np.array([True, True, False]), "x").tolist() == [1, 2, 0]
    with pytest.raises(InputError, match="not whole numbers"):
        class_values(np.array([0.25, 1.0]), np.array([True, True]), "classified raster")


def summary(sample_unit: str = "pixel") -> AccuracySummary:
    matrix = ConfusionMatrix.from_arrays(np.array(HAND_REFERENCE + [9]), np.array(HAND_PREDICTED + [1]),
                                         class_values=[1, 2, 3, 4])
    return AccuracySummary(matrix, {1: "farm", 2: "meadow", 3: "forest", 4: "water"}, (1, 2, 3, 4),
                           {1: 10, 2: 7, 3: 11, 4: 2}, 100.0, "m²", sample_unit)


def test_rows_carry_counts_areas_and_scores_per_class():
    rows = {row["value"]: row for row in summary().class_rows()}
    assert list(rows) == [1, 2, 3, 4, 9]
    assert set(rows[1]) == {name for name, _ in TABLE_COLUMNS}
    assert rows[1]["reference_count"] == 5 and rows[1]["classified_count"] == 6 and rows[1]["correct"] == 4
    assert rows[1]["reference_area"] == 500.0 and rows[1]["classified_area"] == 600.0
    assert rows[4]["mapped_area"] == 200.0 and rows[4]["reference_count"] == 0
    assert rows[4]["producers_accuracy"] is None and rows[4]["users_accuracy"] is None
    assert rows[9]["name"] == "class 9" and rows[9]["producers_accuracy"] == 0.0


def test_reference_only_and_unreferenced_classes_are_named():
    result = summary()
    assert result.reference_only_values == (9,)
    assert result.unreferenced_values == (4,)
    document = result.to_dict()
    assert document["reference_only_classes"] == [{"value": 9, "name": "class 9"}]
    assert document["confusion_matrix"]["names"][:4] == ["farm", "meadow", "forest", "water"]
    assert document["samples"] == 21


def test_point_samples_have_no_reference_or_classified_area():
    row = summary(POINT_SAMPLES).class_rows()[0]
    assert row["reference_area"] is None and row["classified_area"] is None and row["mapped_area"] == 1000.0
