import hashlib

import pytest
import torch

from goaldriven.models.zoo import ARCHITECTURES, MIN_INPUT_SIZE, Decoder, build_model, top_spatial_layer


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_names_its_layers_and_takes_any_input_size(arch):
    model = build_model(arch, n_out=8, width=0.25).eval()
    for hw in ((MIN_INPUT_SIZE, MIN_INPUT_SIZE), (64, 64), (45, 37)):
        feats = model.features(torch.zeros(2, 3, *hw))
        assert list(feats) == model.layer_names and len(feats) >= 4
        assert model(torch.zeros(2, 3, *hw)).shape == (2, 8)


def test_new_architectures_have_their_published_layer_names():
    assert build_model("resnet18", 8, 0.25).layer_names == ["conv1", "layer1", "layer2", "layer3", "layer4", "avgpool"]
    assert build_model("vgg", 8, 0.25).layer_names == ["block1", "block2", "block3", "block4", "avgpool"]


def test_resnet18_at_full_width_is_the_standard_resnet18():
    # torchvision's resnet18 (1000 classes) has 11,689,512 parameters (He et al. 2016).
    model = build_model("resnet18", n_out=1000, width=1.0)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    feats = model.eval().features(torch.zeros(1, 3, 224, 224))
    assert [tuple(feats[n].shape[1:]) for n in ("conv1", "layer4", "avgpool")] == [(64, 56, 56), (512, 7, 7), (512,)]


def test_vgg_blocks_halve_the_image_and_width_scales_channels():
    feats = build_model("vgg", 8, 0.5).eval().features(torch.zeros(1, 3, 64, 64))
    assert [tuple(feats[f"block{i}"].shape[1:]) for i in (1, 2, 3, 4)] == [
        (16, 32, 32), (32, 16, 16), (64, 8, 8), (128, 4, 4)]
    for arch in ("vgg", "resnet18"):
        n = [sum(p.numel() for p in build_model(arch, 8, w).parameters()) for w in (0.25, 0.5)]
        assert n[1] > 3 * n[0]  # convolutions grow with the square of the width


# sha256 of the (name, shape) list of each legacy network's parameters and buffers at width
# 1.0, taken before the zoo grew: weights files written by earlier versions must still load.
LEGACY_LAYOUTS = {"hmo": "e81dd7851bc5030c", "alexnet": "77ffa32ffd71f687", "brainnet": "f53e9c02068cdeaf"}


@pytest.mark.parametrize("arch", sorted(LEGACY_LAYOUTS))
def test_legacy_architectures_keep_their_parameter_layout(arch):
    state = build_model(arch, 8, 1.0).state_dict()
    layout = ";".join(f"{k}:{tuple(v.shape)}" for k, v in state.items())
    assert hashlib.sha256(layout.encode()).hexdigest()[:16] == LEGACY_LAYOUTS[arch]


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown architecture 'vgg99'; choose from \['alexnet', 'brainnet', 'hmo', 'resnet18', 'vgg'\]"):
        build_model("vgg99", 8)


@pytest.mark.parametrize("arch", ["hmo", "alexnet", "vgg", "resnet18"])
def test_decoder_reads_the_top_spatial_layer_and_restores_the_image_size(arch):
    model = build_model(arch, 8, 0.25)
    for hw in ((32, 32), (48, 48), (45, 37)):
        name, channels, side = top_spatial_layer(model, hw)
        top = model.eval().features(torch.zeros(2, 3, *hw), [name])[name]
        assert top.dim() == 4 and top.shape[1] == channels and min(top.shape[-2:]) == side
        later = model.layer_names[model.layer_names.index(name) + 1:]
        assert all(model.features(torch.zeros(2, 3, *hw), [n])[n].dim() == 2 for n in later)
        assert Decoder(channels, side, hw)(top).shape == (2, 3, *hw)
