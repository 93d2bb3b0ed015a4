"""Paper benchmarks, run by ``groupvae benchmark NAME``."""
