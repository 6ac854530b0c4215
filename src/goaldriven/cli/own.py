"""Your own model, scored in one call: score-model (features, scores and a table, through
goaldriven.api)."""

from __future__ import annotations

from ..core.options import FeatureSpec, ScoringSpec, from_args


def score_model(a):
    from ..api import score as run

    table = run(a.model, a.layers, a.benchmark, input_size=a.input_size, preprocessing=a.preprocessing,
                weights=a.weights, name=a.name, spec=from_args(FeatureSpec, a), scoring=from_args(ScoringSpec, a),
                out=a.out, device=a.device, config=a.configfile)
    shown = [c for c in ("layer", "area", "ev", "r", "rsa", "rsa_low", "rsa_high") if c in table]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {a.out}/scores.csv, scores.nc, features.nc")
