"""goaldriven: goal-driven modelling of sensory cortex, reproducibly.

Data flow one way: stimuli (synthetic, stimulus_sets) -> recordings (assemblies, simulate,
importers) -> models/training (models, train, external) -> features -> mapping and RSA
(mapping, rsa, brainscore, score), similarity and unit matching (similarity, convergence) ->
summary, seed_variance, leaderboard, positive_control -> figures; provenance (lineage, crate),
api and cli sit at the edge. A module imports only modules before it in this order
(tests/test_layout.py: LAYERS). Each stage reads and writes files. Under all of them, io
(atomic writes, the input-error type) and options: one dataclass per option group
(FeatureSpec, ScoringSpec, TrainConfig) whose field names are the config keys and the
command-line options, from which the CLI builds each command's options.
"""

__version__ = "0.1.0"
