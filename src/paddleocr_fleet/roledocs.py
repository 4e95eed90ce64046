"""Keep each role's README in step with its contract: the part between the markers is written from the role's
meta/argument_specs.yml (every entry point and variable: type, default, description), the defaults shown as
defaults/main.yml sets them.

    paddleocr-role-docs roles            # rewrite the variables section of every roles/*/README.md
    paddleocr-role-docs --check roles    # exit 1 naming the READMEs that are out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

BEGIN = "<!-- BEGIN variables: written by `make role-docs` from meta/argument_specs.yml; do not edit -->"
END = "<!-- END variables -->"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def shown(value: Any) -> str:
    """A default as it reads in YAML, on one line."""
    if isinstance(value, str):
        return f"`{cell(' '.join(value.split()))}`" if value else '`""`'
    return f"`{cell(json.dumps(value))}`"


def described(option: dict[str, Any]) -> str:
    text = option.get("description", "")
    text = " ".join(text) if isinstance(text, list) else str(text)
    if option.get("choices"):
        text += " One of: " + ", ".join(f"`{choice}`" for choice in option["choices"]) + "."
    if option.get("no_log"):
        text += " Kept out of logs (`no_log`)."
    return cell(text)


def variables_section(specs: dict[str, Any], defaults: dict[str, Any]) -> str:
    lines = [BEGIN]
    for entry, spec in specs["argument_specs"].items():
        how = "the role" if entry == "main" else f"`tasks_from: {entry}`"
        lines += ["", f"### `{entry}` ({how}): {cell(spec.get('short_description', ''))}", ""]
        options = spec.get("options") or {}
        if not options:
            lines.append("No variables.")
            continue
        lines += ["| variable | type | default | description |", "|---|---|---|---|"]
        for name, option in sorted(options.items()):
            if name in defaults:
                default = shown(defaults[name])
            elif "default" in option:
                default = shown(option["default"])
            else:
                default = "**required**" if option.get("required") else "unset"
            kind = option.get("type", "str")
            if option.get("elements"):
                kind += f" of {option['elements']}"
            lines.append(f"| `{name}` | {kind} | {default} | {described(option)} |")
    lines += ["", END]
    return "\n".join(lines)


def rendered(role: Path) -> tuple[str, str]:
    """The README as it is, and as it should be."""
    readme = role / "README.md"
    current = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if BEGIN not in current or END not in current:
        raise ValueError(f"{readme}: no variables section (the lines {BEGIN!r} ... {END!r})")
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text(encoding="utf-8")) or {} if defaults_file.exists() else {}
    head, rest = current.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return current, head + variables_section(specs, defaults) + tail


def roles_in(path: Path) -> list[Path]:
    return sorted(role for role in path.iterdir() if (role / "meta" / "argument_specs.yml").exists())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roles", type=Path, help="the directory of the roles")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a README is out of date")
    args = parser.parse_args(argv)
    stale = []
    for role in roles_in(args.roles):
        current, wanted = rendered(role)
        if current != wanted:
            stale.append(role / "README.md")
            if not args.check:
                (role / "README.md").write_text(wanted, encoding="utf-8")
    if args.check and stale:
        sys.exit("out of date (run make role-docs): " + ", ".join(map(str, stale)))
    for readme in stale:
        print(f"{readme}: variables rewritten")


if __name__ == "__main__":
    main()
