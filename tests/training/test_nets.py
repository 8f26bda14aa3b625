"""Networks, spectral-index layer, encoder weights from local files, receptive-field measurement."""
from __future__ import annotations

import fractions

import numpy as np
import pytest
import torch

from plugin.core.errors import InputError
from training.config import ModelConfig
from training.nets import build_model, build_network, size_multiple
from training.nets.indices import SpectralIndices, band_positions
from training.nets.weights import load_encoder_weights
from training.receptive_field import measure_context_margin, radius_holding

SMALL = {"unet": {"depth": 3, "width": 8}, "resnet18_fcn": {"width": 16}, "resnet34_fcn": {"width": 16},
         "resnet50_fcn": {"width": 16}, "mobilenetv2_unet": {"width": 16}}


@pytest.mark.parametrize("architecture", sorted(SMALL))
def test_output_keeps_the_input_size_for_multiples_of_the_stride(architecture):
    config = ModelConfig(architecture=architecture, **SMALL[architecture])
    model = build_model(config, bands=5, classes=3).eval()
    multiple = size_multiple(config)
    assert model.size_multiple == multiple == (8 if architecture == "unet" else 32)
    with torch.no_grad():
        output = model(torch.randn(2, 5, 2 * multiple, 3 * multiple))
    assert output.shape == (2, 3, 2 * multiple, 3 * multiple)


def test_resnet_depths_differ_and_have_their_block_counts():
    sizes = {depth: sum(p.numel() for p in build_network(ModelConfig(architecture=f"resnet{depth}_fcn"), 4, 6)
                        .encoder.parameters()) for depth in (18, 34, 50)}
    assert sizes[18] < sizes[34] < sizes[50]
    assert 11_000_000 < sizes[18] < 11_300_000  # a ResNet-18 body without its classifier
    network = build_network(ModelConfig(architecture="resnet50_fcn"), 4, 6)
    assert [len(getattr(network.encoder, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]


def test_encoder_weights_load_from_a_local_file_and_adapt_the_first_layer(tmp_path):
    rgb = build_network(ModelConfig(architecture="resnet18_fcn", width=16), 3, 6)
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in rgb.encoder.state_dict().items()}}, path)
    target = build_network(ModelConfig(architecture="resnet18_fcn", width=16), 4, 6)
    loaded, total = load_encoder_weights(target.encoder, path)
    assert loaded == total
    torch.testing.assert_close(target.encoder.layer3[0].conv1.weight, rgb.encoder.layer3[0].conv1.weight)
    first = target.encoder.conv1.weight
    assert first.shape[1] == 4
    torch.testing.assert_close(first.sum(dim=1), rgb.encoder.conv1.weight.sum(dim=1))  # same response to flat input


def test_encoder_weights_refuse_pickled_objects_and_foreign_tensors(tmp_path):
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"conv1.weight": fractions.Fraction(1, 3)}, unsafe)
    encoder = build_network(ModelConfig(architecture="mobilenetv2_unet", width=16), 4, 3).features
    with pytest.raises(InputError, match="safely"):
        load_encoder_weights(encoder, unsafe)
    foreign = tmp_path / "foreign.pth"
    torch.save({"something.else": torch.zeros(3)}, foreign)
    with pytest.raises(InputError, match="No tensor"):
        load_encoder_weights(encoder, foreign)


def test_mobilenet_encoder_names_follow_the_usual_layout(tmp_path):
    reference = build_network(ModelConfig(architecture="mobilenetv2_unet"), 3, 4)
    keys = set(reference.features.state_dict())
    assert {"0.0.weight", "1.conv.0.0.weight", "2.conv.1.0.weight", "17.conv.3.running_mean"} <= keys
    path = tmp_path / "mobilenet.pt"
    torch.save({f"features.{k}": v for k, v in reference.features.state_dict().items()}, path)
    model = build_model(ModelConfig(architecture="mobilenetv2_unet", encoder_weights=str(path)), 3, 4)
    torch.testing.assert_close(model.network.features[5].conv[1][0].weight, reference.features[5].conv[1][0].weight)


def test_spectral_indices_are_computed_from_raw_values_inside_the_model():
    mean, std = [1000.0, 800.0, 700.0, 2000.0], [100.0, 90.0, 80.0, 400.0]
    raw = torch.tensor([[1100.0, 820.0, 650.0, 2600.0], [900.0, 700.0, 900.0, 1200.0]]).T.reshape(1, 4, 2, 1)
    normalised = (raw - torch.tensor(mean).view(1, 4, 1, 1)) / torch.tensor(std).view(1, 4, 1, 1)
    pairs = band_positions(["ndvi", "ndwi"], {}, ["B02", "B03", "B04", "B08"])
    assert pairs == [(3, 2), (1, 3)]
    layer = SpectralIndices(mean, std, pairs)
    values = layer.raw_indices(normalised)[0, :, :, 0].numpy()
    red, nir, green = raw[0, 2, :, 0].numpy(), raw[0, 3, :, 0].numpy(), raw[0, 1, :, 0].numpy()
    np.testing.assert_allclose(values[0], (nir - red) / (nir + red), rtol=1e-5)
    np.testing.assert_allclose(values[1], (green - nir) / (green + nir), rtol=1e-5)
    assert layer(normalised).shape == (1, 6, 2, 1)


def test_index_bands_need_a_role_and_roles_can_be_given():
    with pytest.raises(InputError, match="needs the nir band"):
        band_positions(["ndvi"], {}, ["band 1", "band 2", "band 3"])
    assert band_positions(["ndvi"], {"nir": 1, "red": 3}, ["band 1", "band 2", "band 3"]) == [(0, 2)]
    with pytest.raises(InputError, match="Unknown spectral index"):
        band_positions(["evi9"], {}, ["B04", "B08"])


def test_radius_holding_finds_the_square_that_holds_the_mass():
    magnitude = np.zeros((21, 21))
    magnitude[10, 10] = 1.0
    magnitude[10, 16] = 1.0  # six pixels to the right of the centre
    assert radius_holding(magnitude, 0.99) == 6
    assert radius_holding(magnitude, 0.4) == 0


def test_context_margin_grows_with_depth_and_is_capped():
    torch.manual_seed(0)
    sample = torch.randn(1, 4, 64, 64)
    margins = []
    for depth in (1, 4):
        model = build_model(ModelConfig(architecture="unet", depth=depth, width=8), 4, 3)
        margins.append(measure_context_margin(model, sample, 2 ** depth, tile_size=128))
    (shallow, shallow_radius), (deep, deep_radius) = margins
    assert shallow_radius < deep_radius
    assert shallow % 2 == 0 and deep % 16 == 0 and deep <= 64
    capped, radius = measure_context_margin(build_model(ModelConfig(architecture="unet", depth=4, width=8), 4, 3),
                                            sample, 16, tile_size=32)
    assert capped == 16 and radius > 16  # at most half of a 32-pixel tile


def test_unet_upsampling_choices_change_the_layers_not_the_shapes():
    torch.manual_seed(0)
    sample = torch.randn(2, 4, 48, 48)
    outputs = {}
    for mode in ("transpose", "bilinear"):
        network = build_network(ModelConfig(architecture="unet", depth=3, width=8, upsampling=mode), 4, 5).eval()
        kinds = {type(m).__name__ for m in network.modules()}
        assert ("ConvTranspose2d" in kinds) == (mode == "transpose") and ("Upsample" in kinds) == (mode == "bilinear")
        outputs[mode] = network(sample)
        assert outputs[mode].shape == (2, 5, 48, 48)
    assert not torch.allclose(outputs["transpose"], outputs["bilinear"])
