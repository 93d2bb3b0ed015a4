"""``python -m groupvae``."""

from groupvae.cli import main

main()
