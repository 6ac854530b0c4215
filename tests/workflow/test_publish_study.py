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


# ----------------------------------------------------------------------------- summary.md
def _study(tmp_path):
    """Tables of a small simulated study, made by the functions that make them in a real one."""
    import sys

    import pandas as pd

    from goaldriven.compare.convergence import matching_summary
    from goaldriven.study.positive_control import positive_control_table
    from goaldriven.study.seed_variance import seed_variance
    from workflow_helpers import REPO

    sys.path.insert(0, str(REPO / "benchmarks"))
    import positive_control_coverage as sim

    results = tmp_path / "results"
    (results / "summary").mkdir(parents=True)
    (results / "convergence").mkdir()
    rng = np.random.default_rng(0)
    files = sim.study_files(rng, n_img=30, n_site=12, better=0.5, seed_sd=0.05)
    positive_control_table(files, n_boot=50).to_csv(results / "summary/positive_control.csv", index=False)
    models = pd.DataFrame([{"model": f"{a}/{t}_seed{s}", "arch": a, "task": t, "seed": s, "test_accuracy": 0.5,
                            "input_size": 32, "it_ev": m + rng.normal(0, 0.01), "v4_ev": 0.3 + rng.normal(0, 0.05),
                            "it_rsa_full_spearman": 0.2 + s / 100, "it_rsa_full_spearman_low": 0.1,
                            "it_rsa_full_spearman_high": 0.3, "it_rsa_full_kendall_tau_a": 0.1,
                            "it_rsa_full_kendall_tau_a_low": 0.05, "it_rsa_full_kendall_tau_a_high": 0.15,
                            "it_rsa_full_n_images": 92, "it_rsa_full_selection": "optimistic"}
                           for a, m in (("hmo", 0.2), ("vgg", 0.5)) for t in ("supervised", "untrained")
                           for s in range(3)])
    models.to_csv(results / "summary/models.csv", index=False)
    seed_variance(models).to_csv(results / "convergence/seed_variance.csv", index=False)
    pair = lambda task, v: [{"arch": "hmo", "task": task, "layer": "l1", "layer_index": 0, "seed_a": a, "seed_b": b,  # noqa: E731
                             "frac_convergent": v + a / 100, "matched_r": v, "frac_convergent_images": v,
                             "matched_r_held_out": v, "chance": "shuffle; images"} for a in range(3) for b in range(a + 1, 3)]
    matching_summary([pd.DataFrame(pair("supervised", 0.6)), pd.DataFrame(pair("untrained", 0.2))]).to_csv(
        results / "convergence/matching_summary.csv", index=False)
    pd.DataFrame([{"task": "supervised", "arch": "hmo", "other_arch": "vgg", "layer": "mean", "cross_seed": 0.9,
                   "cross_seed_low": 0.85, "cross_seed_high": 0.95, "cross_arch": 0.7, "cross_arch_low": 0.6,
                   "cross_arch_high": 0.8, "difference": 0.2, "difference_low": 0.1, "difference_high": 0.3,
                   "untrained_gap": 0.15, "difference_vs_untrained": 0.05, "difference_vs_untrained_low": -0.05,
                   "difference_vs_untrained_high": 0.15, "resampling": "networks and images"}]).to_csv(
        results / "convergence/similarity_summary.csv", index=False)
    return results, models


def test_summary_reports_both_questions_adjusted_p_seed_intervals_and_the_untrained_gap(tmp_path):
    import pandas as pd

    results, models = _study(tmp_path)
    text = "\n".join(publish.sections(models, results))
    variance = pd.read_csv(results / "convergence/seed_variance.csv")
    seed_rows = [line for line in text.splitlines() if line.startswith(("| supervised | it_ev", "| supervised | v4_ev",
                                                                          "| untrained | it_ev", "| untrained | v4_ev"))]
    assert len(seed_rows) == len(variance) == 4  # every metric of every task has its row
    for line, row in zip(seed_rows, variance.itertuples()):
        assert row.reading_fixed in line and row.reading_random in line
        assert ("**" in line) == (row.p_adjusted < 0.05)  # bold: survives Holm, nothing else
    control = pd.read_csv(results / "summary/positive_control.csv")
    rows = [line for line in text.splitlines() if "untrained (same seed)" in line]
    assert len(rows) == len(control) and all(("**" in line) == (p < 0.05) for line, p in zip(rows, control["p_adjusted"]))
    assert "over seeds, images and sites" in text and "Holm over the" in text
    assert "| supervised | hmo vs vgg |" in text and "+0.050 [-0.050, +0.150]" in text  # gap - untrained gap
    assert "units above chance (images)" in text and "| hmo · supervised | 3 |" in text
    assert "Kendall tau-a" in text and "No noise ceiling" in text


def test_main_writes_summary_md_and_leaves_out_sections_of_older_tables(tmp_path, monkeypatch, capsys):
    import sys

    import pandas as pd
    import yaml

    results, _ = _study(tmp_path)
    old = pd.read_csv(results / "summary/positive_control.csv").drop(columns=["p_adjusted"])
    old.to_csv(results / "summary/positive_control.csv", index=False)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"results": str(results), "label": "simulated"}))
    monkeypatch.setattr(sys, "argv", ["publish_study.py", "--configfile", str(config), "--out", str(tmp_path / "out")])
    publish.main()
    text = (tmp_path / "out/summary.md").read_text()
    assert "## Seed share" in text and "## Positive control" not in text
    assert "no column 'p_adjusted'" in capsys.readouterr().out
    assert (tmp_path / "out/matching_summary.csv").is_file()
