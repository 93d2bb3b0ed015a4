"""Paper benchmarks, declared in :data:`groupvae.benchmarks.catalog.BENCHMARKS`, run by
:func:`groupvae.benchmarks.runner.run_protocol` and by ``groupvae benchmark NAME``."""
