"""Stimuli and recordings: stimulus ids, the synthetic renderer, stimulus sets, labelled
assemblies of recordings and RDMs, importers of the published data sets."""
