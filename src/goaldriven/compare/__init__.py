"""Models against recordings and against each other: ridge and PLS mappings (scoring methods),
RSA, scores per layer, model x model similarity, unit matching."""
