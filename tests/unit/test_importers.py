"""The importers of the real datasets, run on the real files in ../shared/data."""

import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import xarray as xr
from PIL import Image
from scipy.spatial.distance import squareform

from goaldriven import cli
from goaldriven.data.importers import (IMPORTERS, cowley_sessions, import_cowley_v4, import_kalfas_it,
                                  import_kriegeskorte92, read_matlab_table)
from goaldriven.core.io import InputError
from goaldriven.data.assemblies import load_assembly

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("GOALDRIVEN_SHARED_DATA", REPO.parent / "shared" / "data"))
COWLEY = DATA / "cowley2023_v4"
K92 = DATA / "kriegeskorte2008_92images"
KALFAS = DATA / "kalfas2017_it"
SMALL_SESSIONS = ("210224", "210325")  # the two smallest; 210325 has single trials
pytestmark = pytest.mark.real_data  # every test here reads a real data set (except the registry check)


def open_da(path) -> xr.DataArray:
    """Open with plain xarray, as any reader of our files would."""
    with xr.open_dataarray(path) as da:
        return da.load()


def leftovers(folder: Path, expected: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - expected


# --- Cowley et al. 2023, V4 ---------------------------------------------------------------

@pytest.fixture(scope="module")
def cowley(tmp_path_factory):
    out = tmp_path_factory.mktemp("cowley") / "v4"
    import_cowley_v4(COWLEY, out)
    return out


@pytest.fixture(scope="module")
def cowley_stimuli(cowley):
    return open_da(cowley / "stimuli.nc")  # 6240 images: read once


def copy_cowley(dest: Path, sessions=SMALL_SESSIONS) -> Path:
    """A copy of the Cowley layout holding only ``sessions``."""
    for sub in ("images", "responses_repeat_averaged", "responses_raw"):
        (dest / sub).mkdir(parents=True)
    for s in sessions:
        shutil.copy(COWLEY / "images" / f"images_{s}.zip", dest / "images")
        shutil.copy(COWLEY / "responses_repeat_averaged" / f"responses_{s}.npy", dest / "responses_repeat_averaged")
        raw = COWLEY / "responses_raw" / f"responses_{s}.npy"
        if raw.exists():
            shutil.copy(raw, dest / "responses_raw")
    return dest


def jpeg(zip_path: Path, member: str) -> np.ndarray:
    with zipfile.ZipFile(zip_path) as z:
        return np.asarray(Image.open(io.BytesIO(z.read(member))).convert("RGB"))


def test_cowley_finds_every_session_from_the_file_names():
    sessions = cowley_sessions(COWLEY)
    assert [s.name for s in sessions] == sorted(p.name[len("images_"):-len(".zip")]
                                                for p in (COWLEY / "images").glob("images_*.zip"))
    assert [s.name for s in sessions if s.raw is not None] == ["210325"]


def test_cowley_merges_the_sessions_block_by_block(cowley, cowley_stimuli):
    assembly, stimuli = open_da(cowley / "assembly.nc"), cowley_stimuli
    published = {s.name: np.load(s.averaged) for s in cowley_sessions(COWLEY)}
    assert assembly.dims == ("presentation", "neuroid")
    assert assembly.sizes == {"presentation": sum(r.shape[1] for r in published.values()),
                              "neuroid": sum(r.shape[0] for r in published.values())}
    assert set(assembly["region"].values) == {"V4"}
    for session, responses in published.items():
        block = assembly.isel(presentation=assembly["session"].values == session,
                              neuroid=assembly["neuroid_session"].values == session)
        np.testing.assert_array_equal(block.values, responses.T)
        assert list(block["image_index"].values) == list(range(responses.shape[1]))
    # Neurons of one session never saw another session's images.
    assert np.isfinite(assembly.values).sum() == sum(r.size for r in published.values())
    assert assembly.attrs["stimulus_set_identifier"] == stimuli.attrs["identifier"]
    assert "f4552ad9d34a466ebc66658f72a08a8e5038f1cf" in assembly.attrs["source"]
    assert "NaN" in assembly.attrs["block_layout"]
    # The same presentations, in the same order, in the stimulus set.
    assert list(stimuli["stimulus_id"].values) == list(assembly["stimulus_id"].values)
    assert stimuli.dtype == np.uint8 and stimuli.shape[1:] == (112, 112, 3)
    load_assembly(cowley / "assembly.nc", stimuli=stimuli)


@pytest.mark.parametrize("session, k", [("190923", 0), ("190923", 1199), ("190925", 17), ("210325", 639)])
def test_cowley_image_k_is_the_jpeg_numbered_k_plus_1(cowley_stimuli, session, k):
    # 190923 keeps its JPEGs in a sub-folder; 190925 lists them out of order in the zip.
    stimuli = cowley_stimuli
    image = stimuli.isel(presentation=int(np.flatnonzero(stimuli["stimulus_id"].values == f"{session}-{k:04d}")[0]))
    zip_path = COWLEY / "images" / f"images_{session}.zip"
    with zipfile.ZipFile(zip_path) as z:
        member = next(n for n in z.namelist() if n.endswith(f"image{k + 1:04d}.jpg"))
    np.testing.assert_array_equal(image.values, jpeg(zip_path, member))
    assert int(image["image_index"]) == k and str(image["session"].values) == session


def test_cowley_single_trials_average_to_the_published_means(cowley, cowley_stimuli):
    trials, assembly = open_da(cowley / "trials.nc"), open_da(cowley / "assembly.nc")
    raw = np.load(COWLEY / "responses_raw" / "responses_210325.npy")
    n_neurons, n_images, n_reps = raw.shape
    assert trials.sizes == {"presentation": n_images * n_reps, "neuroid": n_neurons}
    assert sorted(set(trials["repetition"].values)) == list(range(n_reps))
    assert np.isnan(trials.values).sum() == np.isnan(raw).sum() > 0  # the padding is kept as NaN
    mean = trials.groupby("stimulus_id").mean("presentation")
    block = assembly.isel(presentation=assembly["session"].values == "210325",
                          neuroid=assembly["neuroid_session"].values == "210325")
    np.testing.assert_allclose(mean.sel(stimulus_id=block["stimulus_id"].values).values, block.values)
    assert list(trials["neuroid_id"].values) == list(block["neuroid_id"].values)
    load_assembly(cowley / "trials.nc", stimuli=cowley_stimuli)


def test_cowley_two_session_copy_imports_byte_identically_twice(tmp_path):
    source = copy_cowley(tmp_path / "src")
    first, second = tmp_path / "first", tmp_path / "second"
    import_cowley_v4(source, first)
    import_cowley_v4(source, second)
    names = {"stimuli.nc", "assembly.nc", "trials.nc"}
    assert {p.name for p in first.iterdir()} == names | {".goaldriven-output"}
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assembly = open_da(first / "assembly.nc")
    assert assembly.attrs["sessions"] == ",".join(SMALL_SESSIONS)
    assert set(assembly["session"].values) == set(SMALL_SESSIONS)
    assert leftovers(tmp_path, {"src", "first", "second"}) == set()


def _truncate_zip(source: Path, session: str) -> Path:
    path = source / "images" / f"images_{session}.zip"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _extra_column(source: Path, session: str) -> Path:
    path = source / "responses_repeat_averaged" / f"responses_{session}.npy"
    responses = np.load(path)
    np.save(path, np.hstack([responses, responses[:, :1]]))
    return path


def _changed_trial(source: Path, session: str) -> Path:
    path = source / "responses_raw" / f"responses_{session}.npy"
    raw = np.load(path)
    raw[3, 5, 0] += 1.0
    np.save(path, raw)
    return path


@pytest.mark.parametrize("damage, session", [(_truncate_zip, "210224"), (_extra_column, "210224"),
                                             (_changed_trial, "210325")])
def test_cowley_damaged_session_fails_naming_it_and_leaves_nothing(tmp_path, damage, session):
    source = copy_cowley(tmp_path / "src")
    damaged = damage(source, session)
    out = tmp_path / "out"
    with pytest.raises(InputError) as error:
        import_cowley_v4(source, out)
    assert f"session {session}" in str(error.value) and damaged.name in str(error.value)
    assert not out.exists()
    assert leftovers(tmp_path, {"src"}) == set()


# --- Kriegeskorte et al. 2008, 92 images ---------------------------------------------------

@pytest.fixture(scope="module")
def k92(tmp_path_factory):
    out = tmp_path_factory.mktemp("k92") / "k92"
    import_kriegeskorte92(K92, out)
    return out


def test_kriegeskorte_stimuli_carry_the_category_flags(k92):
    stimuli = open_da(k92 / "stimuli.nc")
    mat = scipy.io.loadmat(K92 / "Kriegeskorte_Neuron2008_supplementalData.mat")
    assert stimuli.shape == (92, 175, 175, 3) and stimuli.dtype == np.uint8
    np.testing.assert_array_equal(stimuli.values[5], mat["stimuli_92objs"][0, 5]["image"])
    flags = mat["categoryVectors"].astype(bool)
    for j, name in enumerate(stimuli.attrs["category_flags"].split(",")):
        np.testing.assert_array_equal(stimuli[name].values, flags[:, j])
    assert {"animate", "inanimate", "human", "face", "body"} <= set(stimuli.coords)
    # Faces are animate, and every human face is both human and a face.
    assert not (stimuli["face"] & ~stimuli["animate"]).any()
    assert ((stimuli["category_name"] == "human face") == (stimuli["human"] & stimuli["face"])).all()


def test_kriegeskorte_rdms_are_valid_and_labelled(k92):
    rdms, stimuli = open_da(k92 / "rdms.nc"), open_da(k92 / "stimuli.nc")
    assert rdms.dims == ("source", "stimulus_a", "stimulus_b")
    assert list(rdms["source"].values) == ["monkey_IT", "human_IT", "V1_model", "HMAX"]
    assert list(rdms["n_neuroids"].values[:2]) == [674, 316]  # Kiani et al. 2007 neurons, fMRI voxels
    assert (rdms.attrs["n_neurons_monkey_IT"], rdms.attrs["n_voxels_human_IT"]) == (674, 316)
    assert list(rdms["kind"].values) == ["neural", "neural", "model", "model"]
    assert list(rdms["region"].values) == ["IT", "IT", "none", "none"]
    assert list(rdms["species"].values[:2]) == ["macaque", "human"]
    for ids in (rdms["stimulus_a"].values, rdms["stimulus_b"].values):
        assert list(ids) == list(stimuli["stimulus_id"].values)
    values = rdms.values
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values, values.transpose(0, 2, 1), atol=1e-12)
    assert (np.diagonal(values, axis1=1, axis2=2) == 0).all()
    published = scipy.io.loadmat(K92 / "Kriegeskorte_Neuron2008_supplementalData.mat")["RDMs_mIT_hIT_fig1"][0]
    monkey = next(e for e in published if "mIT" in str(e["name"].item()))
    np.testing.assert_array_equal(values[0], squareform(monkey["RDM"].ravel()))
    hmax = scipy.io.loadmat(K92 / "rdm92_HMAXnatImPatch.mat")["rdm92_HMAXnatImPatch"]
    np.testing.assert_array_equal(values[3], hmax)


# --- Kalfas & Vogels 2017, IT shapes -------------------------------------------------------

def copy_kalfas(dest: Path) -> Path:
    shutil.copytree(KALFAS, dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared data is read-only
    return dest


def test_kalfas_assembly_and_bitmaps_match(tmp_path):
    out = import_kalfas_it(KALFAS, tmp_path / "kalfas")
    assembly, stimuli = open_da(out / "assembly.nc"), open_da(out / "stimuli.nc")
    table = read_matlab_table(KALFAS / "regular_irregular_SPIKES_yannis.mat")
    shapes = list(table.columns[2:])
    assert assembly.sizes == {"presentation": 64, "neuroid": 119}
    assert list(assembly["stimulus_id"].values) == shapes == list(stimuli["stimulus_id"].values)
    np.testing.assert_array_equal(assembly.values, table[shapes].to_numpy().T)
    assert set(assembly["monkey"].values) == {"Yelko", "Joeri"}
    np.testing.assert_array_equal(assembly["cell_id"].values, table["cell"].to_numpy().astype(int))
    assert set(assembly["region"].values) == {"IT"}
    assert sorted(set(assembly["shape_group"].values)) == ["IC", "ISC", "ISS", "R"]
    assert (assembly["regular"] == (assembly["shape_group"] == "R")).all()
    assert stimuli.shape == (64, 350, 350, 3)
    bitmap = np.asarray(Image.open(KALFAS / "regularIrregular" / "ISC3b.bmp"))
    np.testing.assert_array_equal(stimuli.values[shapes.index("ISC3b"), :, :, 1], bitmap)
    load_assembly(out / "assembly.nc", stimuli=stimuli)


def test_kalfas_missing_bitmap_fails_naming_it_and_keeps_the_old_import(tmp_path):
    source = copy_kalfas(tmp_path / "src")
    out = import_kalfas_it(source, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (source / "regularIrregular" / "ISS3b.bmp").unlink()
    with pytest.raises(InputError, match="ISS3b"):
        import_kalfas_it(source, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert leftovers(tmp_path, {"src", "out"}) == set()


# --- command line --------------------------------------------------------------------------

def test_cli_imports_into_a_folder_and_reports_errors(tmp_path, capsys):
    argv = ["import", "kriegeskorte92", str(K92), str(tmp_path / "k92")]
    assert cli.main(argv) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "k92").iterdir()}
    assert set(first) == {"stimuli.nc", "rdms.nc", ".goaldriven-output"}
    assert cli.main(argv) == 0  # replaces the earlier import, with the same bytes
    assert {p.name: p.read_bytes() for p in (tmp_path / "k92").iterdir()} == first
    assert cli.main(["import", "kalfas-it", str(K92), str(tmp_path / "bad")]) == 2
    assert "goaldriven import: error:" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert cli.main(["import", "kalfas-it", str(KALFAS), str(tmp_path / "bad"), "--size", "32"]) == 2
    assert "--size" in capsys.readouterr().err


def test_cli_image_folder_writes_one_stimulus_file(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "src" / cls).mkdir(parents=True)
        for k in range(3):
            pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "src" / cls / f"{k}.png")
    out = tmp_path / "set.nc"
    argv = ["import", "image-folder", str(tmp_path / "src"), str(out), "--per-class", "2", "--size", "16"]
    assert cli.main(argv) == 0
    stimuli = open_da(out)
    assert stimuli.shape == (4, 16, 16, 3)
    assert sorted(set(stimuli["category_name"].values)) == ["cats", "dogs"]


def test_cli_lists_exactly_the_registered_importers():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    dataset = next(a for a in sub.choices["import"]._actions if a.dest == "dataset")
    assert set(dataset.choices) == set(IMPORTERS)
