"""goaldriven: goal-driven modelling of sensory cortex, reproducibly.

Stages (one module each, data flowing one way):
stimuli -> neural -> models/train -> features -> compare, convergence -> figures;
lineage and cli sit at the edge. Each stage reads and writes files.
"""

__version__ = "0.1.0"
