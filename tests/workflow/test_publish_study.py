"""workflow/scripts/publish_study.py keeps every committed figure under git's 2 MB limit."""

import numpy as np
import pytest
from PIL import Image

from workflow_helpers import load_script

publish = load_script("publish_study")


def _noise_png(path, side):
    pixels = np.random.default_rng(0).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_a_small_figure_is_copied_as_it_is(tmp_path):
    src = _noise_png(tmp_path / "a.png", 64)
    publish.copy_figure(src, tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes() == src.read_bytes()


def test_a_large_figure_is_saved_with_256_colours_under_the_limit(tmp_path):
    src = _noise_png(tmp_path / "a.png", 400)  # about 480 kB: noise does not compress
    limit = 300_000
    assert src.stat().st_size > limit
    publish.copy_figure(src, tmp_path / "b.png", limit=limit)
    with Image.open(tmp_path / "b.png") as out, Image.open(src) as before:
        assert out.mode == "P" and out.size == before.size
        assert np.abs(np.asarray(out.convert("RGB"), float) - np.asarray(before, float)).mean() < 40
    assert (tmp_path / "b.png").stat().st_size <= limit


def test_a_figure_too_large_even_with_256_colours_is_refused(tmp_path):
    src = _noise_png(tmp_path / "a.png", 400)
    with pytest.raises(SystemExit, match=r"a\.png: .* bytes even with 256 colours"):
        publish.copy_figure(src, tmp_path / "b.png", limit=100_000)
