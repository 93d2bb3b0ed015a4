"""The command line reference, generated from groupvae's Typer app (``groupvae.cli:app``).

``<!-- cli-reference -->`` in a page (``docs/guide/cli.md``) becomes one section per
command: its help, usage, arguments and options, walking the command tree as
``groupvae COMMAND --help`` does. Typer builds its commands with a click of its own
(``typer._click``), so this reads them by their attributes rather than through
``click``'s classes (mkdocs-click does not see their options).
"""

from __future__ import annotations

import inspect
from typing import Any

import typer.main

from groupvae.cli import app

command = typer.main.get_command(app)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(param: Any) -> str:
    if getattr(param, "required", False):
        return "required"
    default = getattr(param, "default", None)
    if default is None or callable(default) or default == () or default == []:
        return ""
    if isinstance(default, bool):
        names = [*param.opts, *getattr(param, "secondary_opts", [])]
        flag = next((n for n in names if (not default) == n.startswith("--no-")), None)
        return f"`{flag}`" if flag else f"`{default}`"
    return f"`{default}`"


def _type(param: Any) -> str:
    """The annotation Typer read the parameter from (``int``, ``Path``, ``list[str]``)."""
    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", None)
    if annotation is None:
        return ""
    name = getattr(annotation, "__name__", None)
    text = name if name and not getattr(annotation, "__args__", None) else str(annotation)
    text = text.replace("typing.", "").replace("pathlib.", "")
    return f"`{text}`"


def _section(cmd: Any, path: list[str], parent_ctx: Any, depth: int) -> list[str]:
    ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent_ctx)
    title = " ".join(path)
    help_text = inspect.cleandoc(cmd.help or "").split("\n\n")
    lines = ["#" * min(depth, 6) + f" `{title}`", ""]
    if help_text and help_text[0]:
        lines += [" ".join(p.split()) + "\n" for p in help_text if p.strip()]
    pieces = " ".join(cmd.collect_usage_pieces(ctx))
    lines += ["```text", f"{title} {pieces}".rstrip(), "```", ""]
    params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option"]
    if arguments:
        lines += ["| argument | type | what it is |", "|---|---|---|"]
        for p in arguments:
            req = " (required)" if p.required else ""
            lines.append(f"| `{p.name.upper()}`{req} | {_type(p)} | {_cell(p.help or '')} |")
        lines.append("")
    if options:
        lines += ["| option | type | what it is | default |", "|---|---|---|---|"]
        for p in options:
            names = ", ".join(f"`{n}`" for n in [*p.opts, *p.secondary_opts])
            kind = "" if p.is_flag else _type(p)
            lines.append(f"| {names} | {kind} | {_cell(p.help or '')} | {_default(p)} |")
        lines.append("")
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            lines += _section(sub, [*path, name], ctx, depth + 1)
    return lines


def reference(depth: int = 2) -> str:
    """The Markdown of the whole command tree, headings from level ``depth``."""
    return "\n".join(_section(command, ["groupvae"], None, depth))
