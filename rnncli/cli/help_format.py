"""How every command's --help reads on an 80-column terminal (or any width).

- Prose paragraphs of a docstring are reflowed: Typer keeps the docstring's line breaks, so at a
  width a little below the source's a line wrapped in the middle and the paragraph turned ragged.
  Indented lines (the examples) keep their breaks, so each stays one line to paste.
- A flag shows no type: `--json <bool>` suggested a value (`--json true`) the flag refuses.
- The usage line names arguments as their help does: `rnn predict [OPTIONS] WEIGHTS [INPUT]`,
  not Typer's `{WEIGHTS}` / `[[WEIGHTS]]`.
"""

from __future__ import annotations

from typer.core import TyperArgument, TyperCommand, TyperGroup

__all__ = ["HelpGroup", "RnnCommand", "reflow", "valueless_flags"]


def reflow(text: str | None) -> str | None:
    """Join the lines of each prose paragraph; paragraphs with indented lines stay as written."""
    if not text:
        return text
    paragraphs = text.split("\n\n")
    out = []
    for p in paragraphs:
        lines = p.split("\n")
        block = any(line[:1].isspace() for line in lines[1:]) or lines[0].rstrip().endswith(":")
        out.append(p if block else " ".join(line.strip() for line in lines))
    return "\n\n".join(out)


def valueless_flags(params) -> None:
    """Flags show no type in --help: `--json <bool>` suggested a value the flag refuses."""
    for param in params:
        if getattr(param, "is_flag", False) and not isinstance(param, TyperArgument):
            param.metavar = ""


class HelpGroup(TyperGroup):
    """A command group whose --help shows no `<bool>` either (the root group adds the error
    boundary on top: cli/__init__.RnnGroup)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)  # completion and help options included
        valueless_flags(params)
        return params


class RnnCommand(TyperCommand):
    """A Typer command whose help fits the terminal (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)

    def get_params(self, ctx):
        params = super().get_params(ctx)  # the help option included
        valueless_flags(params)
        return params

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = (param.metavar or param.name or "").strip("[]").removesuffix("...").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces
