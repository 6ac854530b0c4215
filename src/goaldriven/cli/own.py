"""Your own model, scored in one call: score-model (features, scores and a table, through
goaldriven.api)."""

from __future__ import annotations

from ..core.options import FeatureSpec, ScoringSpec, from_args


def score_model(a):
    from ..api import score as run

    table = run(a.model, a.layers, a.benchmark, input_size=a.input_size, preprocessing=a.preprocessing,
                weights=a.weights, name=a.name, spec=from_args(FeatureSpec, a), scoring=from_args(ScoringSpec, a),
                out=a.out, device=a.device, config=a.configfile)
    print(printed(table).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for line in legend(table):
        print(line)
    print(f"wrote {a.out}/scores.csv, scores.nc, features.nc")


def printed(table):
    """The table as printed: ``ev`` split by what it is, so that a raw r² never reads as a
    ceiling-normalised explained variance."""
    table = table.copy()
    if "ceiling_normalised" in table:
        ceiled = table["ceiling_normalised"].astype(bool)
        table.insert(table.columns.get_loc("ev"), "ev_ceiled", table["ev"].where(ceiled))
        table.insert(table.columns.get_loc("ev"), "r2_raw", table["ev"].where(~ceiled))
    shown = [c for c in ("layer", "area", "ev_ceiled", "r2_raw", "r", "rsa", "rsa_low", "rsa_high") if c in table]
    return table[[c for c in shown if not table[c].isna().all()]]


def legend(table) -> list[str]:
    """One line per column printed: what the number is."""
    lines = []
    if "ceiling_normalised" in table:
        if table["ceiling_normalised"].astype(bool).any():
            lines.append("ev_ceiled: median over sites of r^2 / noise ceiling (ceiling-normalised explained variance)")
        if (~table["ceiling_normalised"].astype(bool)).any():
            lines.append("r2_raw: median over sites of the signed r^2 of held-out predictions, NOT ceiling-normalised "
                         "(the benchmark has no single trials, so no noise ceiling)")
        lines.append("r: median over sites of Pearson r of held-out predictions")
    if "rsa" in table:
        lines.append("rsa: Spearman correlation of the layer's RDM with the area's RDM"
                     + (" (rsa_low, rsa_high: 95% interval over images)" if "rsa_low" in table else ""))
    return lines
