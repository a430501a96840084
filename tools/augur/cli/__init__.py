"""The `augur` command: the operator's entry point (serve, consume, train, retrain, models, keys,
health, outreach) and, where the developer tools are installed, the local stack, demo and
benchmarks."""
