"""Stimulus sets from files: image folders, .tar.gz of them, BrainIO CSVs, and the real CIFAR-10."""

import tarfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from PIL import Image

from goaldriven.core.io import InputError
from goaldriven.data.stimulus_sets import (import_image_folder, load_stimulus_set, read_image_folder, save_stimulus_set,
                                      save_stimulus_set_csv)
from goaldriven.data.synthetic import generate_stimulus_set

from workflow_helpers import SHARED

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _image(seed, size=12, grey=False):
    """A smooth seeded picture (a colour gradient): JPEG keeps it close to the original."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size)
    img = rng.uniform(20, 120, 3) + rng.uniform(40, 120, 3) * (ramp[:, None, None] + ramp[None, :, None]) / 2
    img = img.astype(np.uint8)
    return img[..., 0] if grey else img


def _write_tree(root: Path, size=12):
    """Two classes, each with an RGB and a greyscale image, as PNG and JPEG; plus non-images."""
    images = {"cats/a.png": _image(0, size), "cats/b.jpg": _image(1, size, grey=True),
              "dogs/c.png": _image(2, size, grey=True), "dogs/d.jpg": _image(3, size)}
    for name, pixels in images.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / name, quality=95)
    (root / "README.txt").write_text("not an image")
    (root / "cats" / ".DS_Store").write_bytes(b"\0junk")
    return images


def test_image_folder_reads_png_jpeg_grey_and_rgb(tmp_path):
    images = _write_tree(tmp_path / "set")
    da = read_image_folder(tmp_path / "set")
    assert da.dims == ("presentation", "y", "x", "channel") and da.shape == (4, 12, 12, 3) and da.dtype == np.uint8
    assert list(da["stimulus_id"].values) == ["cats/a", "cats/b", "dogs/c", "dogs/d"]
    assert list(da["label"].values) == [0, 0, 1, 1] and da.attrs["categories"] == "cats,dogs"
    assert list(da["category_name"].values) == ["cats", "cats", "dogs", "dogs"]
    assert list(da["object_name"].values) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(da.values[0], images["cats/a.png"])  # PNG is lossless
    grey = da.values[2]
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    np.testing.assert_array_equal(grey[..., 0], images["dogs/c.png"])
    assert np.abs(da.values[3].astype(int) - images["dogs/d.jpg"]).max() < 8  # JPEG is lossy
    assert np.abs(da.values[1, ..., 0].astype(int) - images["cats/b.jpg"]).max() < 8
    assert (da.values[1, ..., 0] == da.values[1, ..., 2]).all()
    assert load_stimulus_set(tmp_path / "set").identical(da)


def test_images_of_different_sizes_fail_unless_resized(tmp_path):
    _write_tree(tmp_path / "set")
    Image.fromarray(_image(9, size=20)).save(tmp_path / "set" / "dogs" / "big.png")
    with pytest.raises(InputError, match=r"dogs/big.png: image is 20x20 but .* is 12x12; pass size="):
        read_image_folder(tmp_path / "set")
    da = read_image_folder(tmp_path / "set", size=16)
    assert da.shape == (5, 16, 16, 3)
    flat = np.full((20, 20, 3), 77, np.uint8)  # antialiased resizing keeps a flat image flat
    Image.fromarray(flat).save(tmp_path / "set" / "dogs" / "big.png")
    assert (read_image_folder(tmp_path / "set", size=16).sel(presentation=2).values == 77).all()


def test_tarball_with_splits_reads_like_the_folder_without_extracting(tmp_path):
    for split in ("train", "test"):
        _write_tree(tmp_path / "cifar-like" / split)
    tar_path = tmp_path / "cifar-like.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(tmp_path / "cifar-like", arcname="cifar-like")  # a wrapper folder, as `tar czf` makes
    before = sorted(p.name for p in tmp_path.iterdir())
    da = read_image_folder(tar_path, subdir="train")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list(da["stimulus_id"].values) == ["train/cats/a", "train/cats/b", "train/dogs/c", "train/dogs/d"]
    folder = read_image_folder(tmp_path / "cifar-like", subdir="train")
    np.testing.assert_array_equal(da.values, folder.values)
    assert da.attrs["identifier"] == "cifar-like/train"
    with pytest.raises(InputError, match=r"no images in a <class>/<image> layout; .*\['test', 'train'\]: pick one"):
        read_image_folder(tar_path)
    with pytest.raises(InputError, match="no folder 'val' in it"):
        read_image_folder(tar_path, subdir="val")


def test_per_class_subset_is_seeded_and_import_is_byte_identical(tmp_path):
    for cls in ("a", "b", "c"):
        for i in range(6):
            (tmp_path / "set" / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(_image(i, size=8)).save(tmp_path / "set" / cls / f"{i}.png")
    pick = read_image_folder(tmp_path / "set", per_class=2, seed=0)
    assert pick.sizes["presentation"] == 6 and list(pick["label"].values) == [0, 0, 1, 1, 2, 2]
    again = read_image_folder(tmp_path / "set", per_class=2, seed=0)
    assert list(again["stimulus_id"].values) == list(pick["stimulus_id"].values)
    other = read_image_folder(tmp_path / "set", per_class=2, seed=1)
    assert list(other["stimulus_id"].values) != list(pick["stimulus_id"].values)
    with pytest.raises(InputError, match="class 'a' has 6 images, fewer than per_class=7"):
        read_image_folder(tmp_path / "set", per_class=7)
    import_image_folder(tmp_path / "set", tmp_path / "one.nc", per_class=2, seed=0)
    import_image_folder(tmp_path / "set", tmp_path / "two.nc", per_class=2, seed=0)
    assert (tmp_path / "one.nc").read_bytes() == (tmp_path / "two.nc").read_bytes()
    assert load_stimulus_set(tmp_path / "one.nc").identical(pick)
    assert xr.open_dataarray(tmp_path / "one.nc").sizes == pick.sizes


def test_bad_image_folders_fail_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no images"):
        read_image_folder(tmp_path / "empty")
    (tmp_path / "one" / "cats").mkdir(parents=True)
    Image.fromarray(_image(0)).save(tmp_path / "one" / "cats" / "a.png")
    with pytest.raises(InputError, match=r"only one class folder \('cats'\)"):
        read_image_folder(tmp_path / "one")
    _write_tree(tmp_path / "corrupt")
    (tmp_path / "corrupt" / "dogs" / "bad.jpg").write_bytes(b"this is no JPEG")
    with pytest.raises(InputError, match=r"corrupt/dogs/bad.jpg: not a readable image"):
        read_image_folder(tmp_path / "corrupt")
    _write_tree(tmp_path / "truncated")
    whole = (tmp_path / "truncated" / "cats" / "b.jpg").read_bytes()
    (tmp_path / "truncated" / "cats" / "b.jpg").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"truncated/cats/b.jpg: not a readable image"):
        read_image_folder(tmp_path / "truncated")
    (tmp_path / "broken.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match="broken.tar.gz: not a readable .tar.gz"):
        read_image_folder(tmp_path / "broken.tar.gz")


def test_brainio_csv_round_trip(tmp_path):
    da = generate_stimulus_set(seed=0, split="test", images_per_variation={0: 1, 3: 1}, size=24,
                               objects_per_category=1)
    save_stimulus_set_csv(da, tmp_path / "brainio" / "hvm.csv")
    assert len(list((tmp_path / "brainio" / "hvm").glob("*.png"))) == da.sizes["presentation"]
    back = load_stimulus_set(tmp_path / "brainio" / "hvm.csv")
    np.testing.assert_array_equal(back.values, da.values)
    for name in da.coords:
        np.testing.assert_array_equal(back[name].values, da[name].values)
    assert back.attrs["categories"] == da.attrs["categories"] and back.attrs["identifier"] == "hvm"
    save_stimulus_set(back, tmp_path / "back.nc")  # a CSV set is a stimulus set like any other
    assert load_stimulus_set(tmp_path / "back.nc").identical(back)


def test_brainio_csv_variants_and_errors(tmp_path):
    for i in range(3):
        Image.fromarray(_image(i, grey=i == 1)).save(tmp_path / f"n{i}.png")
    # An older BrainIO CSV: image_id instead of stimulus_id, ids that look like numbers, no labels.
    (tmp_path / "old.csv").write_text("image_id,filename,contrast\n001,n0.png,0.5\n002,n1.png,1.0\n003,n2.png,\n")
    da = load_stimulus_set(tmp_path / "old.csv")
    assert list(da["stimulus_id"].values) == ["001", "002", "003"] and "label" not in da.coords
    assert np.isnan(da["contrast"].values[2]) and "categories" not in da.attrs
    (tmp_path / "nofile.csv").write_text("stimulus_id,contrast\na,1\n")
    with pytest.raises(InputError, match=r"nofile.csv: .* needs the column\(s\) \['filename'\]"):
        load_stimulus_set(tmp_path / "nofile.csv")
    (tmp_path / "gone.csv").write_text("stimulus_id,filename\na,n0.png\nb,missing.png\n")
    with pytest.raises(InputError, match=r"gone.csv: 1 image file\(s\) not found \(e.g. .*missing.png\)"):
        load_stimulus_set(tmp_path / "gone.csv")
    (tmp_path / "dup.csv").write_text("stimulus_id,filename\na,n0.png\na,n1.png\n")
    with pytest.raises(InputError, match=r"dup.csv: duplicate stimulus_id values \(e.g. 'a'\)"):
        load_stimulus_set(tmp_path / "dup.csv")


@pytest.mark.real_data
def test_real_cifar10_tarball_subset():
    tarball = SHARED / "cifar10" / "cifar10-images.tar.gz"
    da = read_image_folder(tarball, subdir="train", per_class=2, seed=0)
    assert da.shape == (20, 32, 32, 3) and da.dtype == np.uint8
    assert da.attrs["categories"].split(",") == CIFAR_CLASSES
    assert list(da["label"].values) == [k for k in range(10) for _ in range(2)]
    assert all(s.startswith(f"train/{CIFAR_CLASSES[k]}/") for s, k in zip(da["stimulus_id"].values, da["label"].values))
    assert da.values.std() > 20  # real photographs, not blank
