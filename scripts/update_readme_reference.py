"""Replace the config reference table in README.md with the output of `rnn config reference`."""

from __future__ import annotations

from pathlib import Path

from rnncli.config import config_reference_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("| key | type | default |"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    table = config_reference_markdown().strip().split("\n")
    README.write_text("\n".join(lines[:start] + table + lines[end:]), encoding="utf-8")


if __name__ == "__main__":
    main()
