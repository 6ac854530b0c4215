"""Where a result came from, at the edge of the package: ``lineage`` traces a file through
dvc.lock and the run manifests down to raw-data hashes; ``crate`` exports that provenance as
a Workflow Run RO-Crate. Both need the ``workflow`` extra (dvc, rocrate); nothing in the
engine imports them."""
