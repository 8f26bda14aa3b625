"""What the QGIS desktop shows after a run: Processing loads the outputs itself (skipping their default styles),
so the class raster must come in with exactly the model's classes (not the 256 entries of its colour table)
and the polygons with the model's colours. ``processing.runAndLoadResults`` runs the algorithm with a context
that loads the outputs on completion and hands them to Processing's own loader, as the dialog does."""
from __future__ import annotations

import pytest

from tests.support.data import BUNDLED_MODEL, S2_IMAGE

EXTENT = "335000,337000,5815000,5817000 [EPSG:32633]"


@pytest.fixture()
def loaded(provider):
    """Runs classify with its outputs loaded into the project; the layers loaded, removed afterwards."""
    from qgis.core import QgsProject

    project = QgsProject.instance()
    before = set(project.mapLayers())

    def run(parameters: dict) -> tuple[dict, dict]:
        import processing

        results = processing.runAndLoadResults("seamless:classify", {"INPUT": str(S2_IMAGE),
                                                                     "MODEL": str(BUNDLED_MODEL), "EXTENT": EXTENT,
                                                                     **parameters})
        layers = {layer.source(): layer for key, layer in project.mapLayers().items() if key not in before}
        return results, layers

    yield run
    project.removeMapLayers([key for key in project.mapLayers() if key not in before])


def model_classes() -> list[tuple[int, str, str]]:
    from plugin.core.model.loading import load_model

    return [(c.value, c.name, c.color) for c in load_model(str(BUNDLED_MODEL), "cpu").contract.outputs[0].classes]


@pytest.mark.parametrize("destination", ["file", "TEMPORARY_OUTPUT"])
def test_the_loaded_class_raster_and_polygons_show_exactly_the_model_classes(loaded, tmp_path, destination):
    from qgis.core import QgsCategorizedSymbolRenderer, QgsPalettedRasterRenderer

    outputs = ({"OUTPUT": str(tmp_path / "classes.tif"), "OUTPUT_VECTOR": str(tmp_path / "regions.gpkg")}
               if destination == "file" else {"OUTPUT": "TEMPORARY_OUTPUT", "OUTPUT_VECTOR": "TEMPORARY_OUTPUT"})
    results, layers = loaded(outputs)
    assert sorted(layers) == sorted([results["OUTPUT"], results["OUTPUT_VECTOR"]])
    expected = model_classes()
    raster = layers[results["OUTPUT"]]
    renderer = raster.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    assert [(c.value, c.label, c.color.name()) for c in renderer.classes()] == expected
    assert raster.name().startswith("Classes (")
    polygons = layers[results["OUTPUT_VECTOR"]]
    categories = polygons.renderer()
    assert isinstance(categories, QgsCategorizedSymbolRenderer) and categories.classAttribute() == "class_value"
    assert [(int(c.value()), c.label(), c.symbol().color().name()) for c in categories.categories()] == expected
    assert polygons.featureCount() > 10 and polygons.name().startswith("Class polygons (")


def test_polygons_loaded_from_a_geopackage_with_other_layers_are_the_new_layer(loaded, tmp_path):
    from osgeo import ogr

    project = tmp_path / "project.gpkg"
    data = ogr.GetDriverByName("GPKG").CreateDataSource(str(project))
    data.CreateLayer("aaa_first", None, ogr.wkbPoint)  # the layer QGIS would open for the plain path
    data = None
    results, layers = loaded({"OUTPUT": str(tmp_path / "c.tif"), "OUTPUT_VECTOR": str(project)})
    assert results["OUTPUT_VECTOR"] == f"{project}|layername=project"
    polygons = layers[results["OUTPUT_VECTOR"]]
    assert polygons.featureCount() > 10 and "class_value" in polygons.fields().names()


def test_the_provider_and_every_algorithm_have_the_plugins_icon(provider):
    from pathlib import Path

    assert Path(provider.svgIconPath()).is_file() and not provider.icon().isNull()
    assert all(not algorithm.icon().isNull() for algorithm in provider.algorithms())
