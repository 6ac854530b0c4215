"""goaldriven: goal-driven modelling of sensory cortex, reproducibly.

Subpackages in the order data flow through them, each importing only those before it
(tests/workflow/test_layout.py: LAYERS): core (file helpers, option groups, numerics, and the
registry declaring every command, architecture, task, figure and importer) -> data (stimuli,
recordings, importers) -> models (the zoo, your own nn.Module, training, features, the
simulated recordings' surrogate) -> compare (mappings as scoring methods, RSA, scores,
similarity, unit matching) -> study (tables, the seed question, leaderboard, positive control,
trajectory, statistics, figures) -> provenance (run manifests, lineage, reproduce, crate); api
and cli sit at the edge. Each stage reads and writes files.
"""

__version__ = "0.1.0"
