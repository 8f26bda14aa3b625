"""Web maps that cannot be reached, through qgis_process as a user runs it: real local HTTP servers started by the
test (connection refused, HTTP 404 on every tile, a server that accepts and never answers) behind an XYZ layer
given by its source. Each run fails with exit status 1, the URL and the cause, writes nothing and changes no
input; the same tiles served for real are classified."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.hostile.helpers import only_outputs, refused, succeeded
from tests.support.http_servers import not_found_server, refusing_port, silent_server, tile_server, xyz_uri
from tests.support.qgis_process import QGIS_PROCESS, QgisProcessResult, enable_plugin, qgis_process_environment

pytestmark = pytest.mark.slow

EXTENT = "335400,337400,5817200,5819200 [EPSG:32633]"  # inside the hostile tiles' coverage
TIMEOUT_MS = 2000


@pytest.fixture(scope="module")
def short_timeout_process(tmp_path_factory):
    """qgis_process with its own profile, whose network timeout (Settings > Options > Network) is 2 s."""
    root = tmp_path_factory.mktemp("qgis_process_timeout")
    env = qgis_process_environment(root)
    enable_plugin(env)
    settings = Path(env["QGIS_CUSTOM_CONFIG_PATH"]) / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    text = settings.read_text() if settings.exists() else ""
    line = f"networkAndProxy\\networkTimeout={TIMEOUT_MS}\n"
    settings.write_text(text.replace("[qgis]\n", "[qgis]\n" + line, 1) if "[qgis]\n" in text else
                        text + "\n[qgis]\n" + line)

    def run(parameters: dict) -> QgisProcessResult:
        arguments = [QGIS_PROCESS, "--json", "run", "seamless:classify", "--"]
        arguments += [f"{key}={value}" for key, value in parameters.items()]
        return QgisProcessResult(subprocess.run(arguments, env=env, capture_output=True, text=True, timeout=600))

    return run


def _parameters(url: str, hostile: dict, output: Path) -> dict:
    return {"INPUT": xyz_uri(url, 14), "MODEL": hostile["model_identity"], "BANDS": "1,2,3,3", "RESOLUTION": 10,
            "TARGET_CRS": "EPSG:32633", "EXTENT": EXTENT, "OUTPUT": output}


@pytest.mark.parametrize("server, cause", [
    (refusing_port, "Connection refused"),
    (not_found_server, "HTTP 404 no such tile"),
], ids=["connection refused", "404 on every tile"])
def test_an_unreachable_web_map_is_an_error_with_its_url(qgis_process, hostile, tmp_path, server, cause):
    with server() as url:
        result = qgis_process("seamless:classify", _parameters(url, hostile, tmp_path / "classes.tif"))
    refused(result, f"{url.split('{')[0]}14/", cause, "Settings > Options > Network")
    only_outputs(tmp_path)


def test_a_web_map_that_never_answers_times_out(short_timeout_process, hostile, tmp_path):
    with silent_server() as url:
        result = short_timeout_process(_parameters(url, hostile, tmp_path / "classes.tif"))
    refused(result, "cannot be reached", f"{url.split('{')[0]}14/", "no answer within 2 s")
    only_outputs(tmp_path)


def test_tiles_served_over_http_are_classified(qgis_process, hostile, tmp_path):
    with tile_server(hostile["tiles"]) as url:
        result = qgis_process("seamless:classify", _parameters(url, hostile, tmp_path / "classes.tif"))
    succeeded(result)
    only_outputs(tmp_path, "classes.tif", "classes.qml", "classes.tif.aux.xml")
