import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from goaldriven.figures import make
from goaldriven.io import InputError


def _profiles(tmp_path, seeds=(0, 1)):
    rows = [{"model": f"hmo/{t}_seed{s}", "arch": "hmo", "task": t, "seed": s, "layer": f"layer{i + 1}",
             "layer_index": i, "region": g, "ev_median": 0.1 * i + 0.05 * s, "r_median": 0.5}
            for t in ("supervised", "untrained") for s in seeds for i in range(4) for g in ("V4", "IT")]
    path = tmp_path / "pred.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("seeds", [(0, 1, 2), (0,)])
def test_layer_profiles_png_and_pdf(tmp_path, seeds):
    out = tmp_path / "fig.png"
    make("layer_profiles", [_profiles(tmp_path, seeds)], out, data_label="simulated recordings")
    img = mpimg.imread(out)
    assert img.shape[0] > 300 and img.std() > 0.01
    assert out.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


def test_missing_column_names_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"arch": ["hmo"], "task": ["supervised"]}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"bad.csv: missing column\(s\) \['seed'"):
        make("layer_profiles", [path], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_performance_vs_it_reports_the_correlation(tmp_path):
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.2, 0.9, 8)
    df = pd.DataFrame({"model": [f"m{i}" for i in range(8)], "arch": ["hmo", "alexnet"] * 4,
                       "task": ["supervised"] * 8, "seed": range(8), "test_accuracy": acc,
                       "it_ev": acc * 0.5 + rng.normal(0, 0.01, 8), "v4_ev": acc})
    df.to_csv(tmp_path / "models.csv", index=False)
    make("performance_vs_it", [tmp_path / "models.csv"], tmp_path / "p.png")
    assert mpimg.imread(tmp_path / "p.png").shape[1] > 300


def test_unknown_figure_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown figure 'nope'"):
        make("nope", [], tmp_path / "x.png")
