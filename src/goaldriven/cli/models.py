"""Commands that run networks: train, simulate, features, external-model."""

from __future__ import annotations

import logging

from ..core.io import InputError
from ..core.options import FeatureSpec, TrainConfig, from_args


def train(a):
    from ..models.train import train as run

    m = run(from_args(TrainConfig, a), a.dataset, a.out, test_dataset=a.test_dataset, device=a.device,
            keep_epochs=a.keep_epochs)
    logging.info("done: test accuracy %s", m["test_accuracy"])


def simulate(a):
    from ..data.assemblies import save_assembly
    from ..models.simulate import simulate_recordings

    da = simulate_recordings(a.weights, a.stimuli, n_v4=a.n_v4, n_it=a.n_it, v4_layer=a.v4_layer,
                             it_layer=a.it_layer, n_reps=a.reps, seed=a.seed)
    save_assembly(da, a.out)


def features(a):
    from ..data.stimulus_sets import load_stimulus_set
    from ..models.features import extract_to_netcdf

    spec = from_args(FeatureSpec, a)
    layers = a.layers.split(",") if a.layers else None
    net = a.weights
    if a.model:  # an external nn.Module: weights optional, layers by module name
        from ..models.external import load_external

        net = load_external(a.model, layers, input_size=a.image_size, preprocessing=a.preprocessing,
                            weights=a.weights, name=a.model_id)
    elif not a.weights:
        raise InputError("--weights: needed for a zoo model (or name an external one with --model)")
    extract_to_netcdf(net, load_stimulus_set(a.stimuli), a.out, model_id=a.model_id, spec=spec,
                      layers=layers, batch_size=a.batch_size, image_size=a.image_size, device=a.device)


def external_model(a):
    from ..core.io import write_json
    from ..models.external import describe, load_external

    layers = a.layers.split(",")
    model = load_external(a.model, layers, input_size=a.image_size, preprocessing=a.preprocessing,
                          weights=a.weights, name=a.name)
    write_json(describe(model, a.name, a.model, layers, a.weights), a.out)
    logging.info("%s: %s, layers %s checked", a.name, a.model, layers)
