"""The click command behind groupvae's Typer app, for mkdocs-click (docs/guide/cli.md)."""

import typer.main

from groupvae.cli import app

command = typer.main.get_command(app)
