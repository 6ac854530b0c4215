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
    with pytest.raises(ValueError, match=r"unknown architecture 'vgg99'; choose from \['alexnet', 'brainnet', "
                                         r"'convmixer', 'cornet', 'hmo', 'resnet', 'resnet18', 'vgg'\]"):
        build_model("vgg99", 8)


# ---------------------------------------------------------------- the families added for the CPU study
# The width each has in config/real_cpu.yaml, its layers' (channels, side) at 32 and 64 px, and its
# parameter count there with 10 outputs (a change of any is a change of the architecture: retrain).
NEW_FAMILIES = {
    "resnet": (1.0, {"conv1": (16, 32), "layer1": (32, 16), "layer2": (64, 8), "layer3": (128, 4), "avgpool": (128,)},
               304_154),
    "cornet": (1.0, {"V1": (16, 32), "V2": (32, 16), "V4": (64, 8), "IT": (128, 4), "avgpool": (128,)}, 171_162),
    "convmixer": (0.75, {"stem": (96, 8), "stage1": (96, 8), "stage2": (96, 8), "stage3": (96, 8), "stage4": (96, 8),
                         "avgpool": (96,)}, 91_114),
}


def _shapes(model, size):
    feats = model.eval().features(torch.zeros(2, 3, size, size))
    return {name: tuple(a.shape[1:]) for name, a in feats.items()}


@pytest.mark.parametrize("arch", sorted(NEW_FAMILIES))
def test_new_families_have_their_declared_layers_in_depth_order_at_32_and_64_px(arch):
    from goaldriven.core.registry import ARCHITECTURES as DECLARED

    width, layers, _ = NEW_FAMILIES[arch]
    model = build_model(arch, 10, width)
    assert tuple(model.layer_names) == DECLARED[arch].layers == tuple(layers)
    for size, scale in ((32, 1), (64, 2)):
        expected = {n: (s[0], s[1] * scale, s[1] * scale) if len(s) == 2 else s for n, s in layers.items()}
        assert _shapes(model, size) == expected
        assert model(torch.zeros(2, 3, size, size)).shape == (2, 10)
    # Asking for one layer gives that layer alone, the same as in the full pass.
    x = torch.randn(2, 3, 32, 32)
    one = model.features(x, [model.layer_names[2]])
    assert list(one) == [model.layer_names[2]] and torch.equal(one[model.layer_names[2]],
                                                                 model.features(x)[model.layer_names[2]])


@pytest.mark.parametrize("arch", sorted(NEW_FAMILIES))
def test_new_families_initialise_from_the_seed_and_have_their_parameter_counts(arch):
    width, _, n_params = NEW_FAMILIES[arch]

    def init(seed):
        torch.manual_seed(seed)
        return build_model(arch, 10, width).state_dict()

    a, b, c = init(0), init(0), init(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point() and a[k].dim() > 1)
    model = build_model(arch, 10, width)
    assert sum(p.numel() for p in model.parameters()) == n_params
    # BatchNorm-based like the rest of the zoo (the training loop checks its statistics).
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    # Width scales the channels, in multiples of 8 (never the 2-7 input channels of a strided 1x1
    # convolution, which crash oneDNN on channels-last maps under the AVX2 cap).
    wider = sum(p.numel() for p in build_model(arch, 10, 2 * width).parameters())
    assert wider > 2.5 * n_params
    tiny = build_model(arch, 10, 0.05)
    assert all(m.in_channels % 8 == 0 for m in tiny.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 3)


def test_cornet_areas_are_recurrent_with_shared_weights_and_a_batchnorm_per_time_step():
    model = build_model("cornet", 10, 1.0)
    for area, times in (("V2", 2), ("V4", 4), ("IT", 2)):
        block = model.stages[area]
        assert block.times == times and len(block.norm1) == len(block.norm2) == len(block.norm3) == times
        calls = []
        hook = block.conv1.register_forward_hook(lambda m, i, o: calls.append(o.shape[-1]))
        model.eval().features(torch.zeros(1, 3, 32, 32), [area])
        hook.remove()
        # One 1x1 convolution, its weights applied at every time step.
        assert len(calls) == times
    # More time steps add BatchNorms, not convolution weights.
    from goaldriven.models.zoo import cornet

    convs = [sum(p.numel() for n, p in cornet(10, 0.5, times=t).named_parameters() if "conv" in n or "skip" in n)
             for t in ((2, 4, 2), (1, 1, 1))]
    assert convs[0] == convs[1]


def test_convmixer_is_isotropic_and_resnet_halves_the_map_at_each_stage():
    assert set(_shapes(build_model("convmixer", 10, 0.75), 32).values()) == {(96, 8, 8), (96,)}
    sides = [s[-1] for s in _shapes(build_model("resnet", 10, 1.0), 32).values() if len(s) == 3]
    assert sides == [32, 16, 8, 4]


@pytest.mark.parametrize("arch", ["hmo", "alexnet", "vgg", "resnet18", "resnet", "cornet", "convmixer"])
def test_decoder_reads_the_top_spatial_layer_and_restores_the_image_size(arch):
    model = build_model(arch, 8, 0.25)
    for hw in ((32, 32), (48, 48), (45, 37)):
        name, channels, side = top_spatial_layer(model, hw)
        top = model.eval().features(torch.zeros(2, 3, *hw), [name])[name]
        assert top.dim() == 4 and top.shape[1] == channels and min(top.shape[-2:]) == side
        later = model.layer_names[model.layer_names.index(name) + 1:]
        assert all(model.features(torch.zeros(2, 3, *hw), [n])[n].dim() == 2 for n in later)
        assert Decoder(channels, side, hw)(top).shape == (2, 3, *hw)
