"""Class 7: absurd sizes. A window, tile size or size multiple that would need hundreds of gigabytes is
refused up front with the memory it would need, never a MemoryError traceback; so are absurd chip sizes."""
from __future__ import annotations

import json
import re

import pytest

from tests.hostile.helpers import BUNDLED_MODEL, only_outputs, refused, training_cli

pytestmark = pytest.mark.slow


def test_a_huge_window_is_refused_with_the_memory_it_needs(qgis_process, hostile, tmp_path):
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL,
                                                "WINDOW_SIZE": 262144, "OUTPUT": tmp_path / "classes.tif"})
    log = refused(result, "A 262144 px window with BATCH_SIZE 1 needs at least", "Lower WINDOW_SIZE")
    needed, available = (float(v) for v in re.search(r"at least ([\d.]+) GiB .* and ([\d.]+) GiB", log).groups())
    assert needed > available
    assert "MemoryError" not in log
    only_outputs(tmp_path)


@pytest.mark.parametrize("fields, message", [
    ({"tile_size": 400000}, "'tile_size' must be a whole number from 1 to 16384"),
    ({"size_multiple": 65536}, "'size_multiple' must be a whole number from 1 to 1024"),
    ({"input": {"bands": 4, "scale": 1e-300}}, "'input.scale' must be non-zero"),
])
def test_absurd_contract_sizes_are_refused_with_the_field(qgis_process, hostile, tmp_path, fields, message):
    contract = tmp_path / "contract.json"
    contract.write_text(json.dumps(fields))
    result = qgis_process("seamless:classify", {"INPUT": hostile["s2"], "MODEL": BUNDLED_MODEL, "CONTRACT": contract,
                                                "OUTPUT": tmp_path / "classes.tif"})
    refused(result, message)
    only_outputs(tmp_path, "contract.json")


@pytest.mark.parametrize("chip, message", [("100000", "data.chip_size must be from 16 to 4096, got 100000"),
                                           ("512", "The chip size 512 is larger than the image (256 x 256 pixels)")])
def test_absurd_chip_sizes_are_refused_first(hostile, tmp_path, chip, message):
    result = training_cli("train", "--image", str(hostile["s2"]), "--label-raster",
                          str(hostile["labels_without_nodata"]), "--chip-size", chip, "--output", str(tmp_path / "r"))
    assert result.returncode == 2
    refused(result, message)
    only_outputs(tmp_path)
