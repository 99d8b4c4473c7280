"""Default configurations (TOML) of the scoring models, read with :mod:`importlib.resources`."""
