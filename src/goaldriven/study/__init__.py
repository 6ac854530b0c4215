"""The study: tables over models, the seed question, the leaderboard, the positive control, the
trajectory along training, statistics across models, and the figures."""
