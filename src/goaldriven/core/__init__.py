"""Layer 0: file helpers and the input-error type, option groups, numerics, and the registry
of everything goaldriven offers (standard library only, but io's netCDF helpers)."""
