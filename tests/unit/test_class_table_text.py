"""Class names and colours typed into seamless:train's CLASSES parameter (no QGIS needed to read them)."""
from __future__ import annotations

import pytest

from plugin.processing.train.class_table import ClassTextError, parse_class_table


def test_text_lines_semicolons_and_separators():
    text = "1 farm #E6C364\n2=meadow; 3: built-up area #d73027\n\n  4 forest  "
    assert parse_class_table(text) == [{"value": 1, "name": "farm", "color": "#E6C364"},
                                       {"value": 2, "name": "meadow"},
                                       {"value": 3, "name": "built-up area", "color": "#d73027"},
                                       {"value": 4, "name": "forest"}]
    assert parse_class_table("7 #123456") == [{"value": 7, "color": "#123456"}]
    assert parse_class_table("  ") == []


def test_json_lists_and_objects_as_in_a_configuration_file():
    listed = '[{"value": 1, "name": "farm", "color": "#e6c364"}, {"value": "2", "name": "meadow"}]'
    assert parse_class_table(listed) == [{"value": 1, "name": "farm", "color": "#e6c364"},
                                         {"value": 2, "name": "meadow"}]
    assert parse_class_table('{"1": "farm", "2": {"name": "meadow", "color": "#d9ef8b"}}') == [
        {"value": 1, "name": "farm"}, {"value": 2, "name": "meadow", "color": "#d9ef8b"}]


@pytest.mark.parametrize("text, message", [
    ("farm 1", "Cannot read the class entry 'farm 1'"),
    ("1 farm #e6c36", "Colour '#e6c36' of class 1 is not #RRGGBB"),
    ("1 farm; 2 meadow; 1 forest", r"Class value\(s\) \[1\] appear more than once"),
    ("-3 farm", "negative"),
    ('[{"value": 1, "label": "farm"}]', "may have only 'name' and 'color'"),
    ('[{"value": 1,', "not valid JSON"),
    ('[1, 2]', "JSON list of objects"),
])
def test_bad_class_tables_say_how_to_write_them(text, message):
    with pytest.raises(ClassTextError, match=message):
        parse_class_table(text)
