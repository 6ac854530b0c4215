"""Networks: the zoo, control models, your own nn.Module, training, features, and the surrogate
behind the simulated recordings."""
