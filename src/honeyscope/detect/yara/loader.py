"""Compile YARA rule files with yara-x: one namespace per file, one clear line per error.

Every file is added to the same compiler under its own namespace (its stem), so two packs may reuse a
rule name and a match names its file: ``apt_hafnium:WEBSHELL_ASPX_SimpleSeeSharp``. A file that
fails to compile is reported as ``file:line: message``; yara-x then leaves out what failed (the rule,
or the whole file for a syntax error) and every other file still loads.

signature-base and THOR/LOKI rules read the externals ``filename filepath extension filetype owner``:
they are defined here as empty strings and set per scan by the scanner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yara_x

#: Externals that signature-base (THOR/LOKI) rules use.
EXTERNALS: Final = ("filename", "filepath", "extension", "filetype", "owner")
RULE_SUFFIXES: Final = (".yar", ".yara")
_NOT_IDENTIFIER: Final = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class CompiledRules:
    """The compiled rules, what was loaded, and what went wrong (one ``file:line: message`` each)."""

    rules: yara_x.Rules
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def builtin_yara_paths() -> list[Path]:
    """honeyscope's own YARA rules (the Exchange web-shell and exploit-payload pack)."""
    return [Path(str(resources.files("honeyscope") / "rules" / "yara"))]


def rule_files(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """``*.yar``/``*.yara`` files of the given files and directories (recursively, sorted), and one error
    line per path that does not exist."""
    files: list[Path] = []
    errors: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            errors.append(f"{path}: no such file or directory — pass an existing YARA file or directory")
    return files, errors


def compile_files(paths: Sequence[Path]) -> CompiledRules:
    """Compile every rule file below ``paths``; bad files are reported, never fatal."""
    files, errors = rule_files(paths)
    compiler = yara_x.Compiler()
    for name in EXTERNALS:
        compiler.define_global(name, "")
    loaded: list[Path] = []
    namespaces: set[str] = set()
    for path in files:
        source, problem = _read_source(path)
        if source is None:
            errors.append(problem or f"{path}: unreadable")
            continue
        if problem:
            errors.append(problem)
        compiler.new_namespace(_namespace(path, namespaces))
        before = len(compiler.errors())
        try:
            compiler.add_source(source, origin=str(path))
        except yara_x.CompileError as error:
            found = compiler.errors()[before:]
            errors.extend([_format(item, path) for item in found] or [f"{path}: {error}"])
            continue
        loaded.append(path)
    warnings = [_format(item, None) for item in compiler.warnings()]
    return CompiledRules(compiler.build(), loaded, errors, warnings)


def _read_source(path: Path) -> tuple[str | None, str | None]:
    """The file as text; rule files are UTF-8, a file that is not is read as latin-1 with a warning."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, f"{path}: cannot read ({error.strerror}) — check the path and its permissions"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return data.decode("latin-1"), f"{path}: not UTF-8 (byte {error.start}); read as latin-1"


def _namespace(path: Path, taken: set[str]) -> str:
    base = _NOT_IDENTIFIER.sub("_", path.stem) or "rules"
    if base[0].isdigit():
        base = "_" + base
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


def _format(item: dict[str, Any], path: Path | None) -> str:
    """``file:line: title: detail`` from yara-x's structured error or warning."""
    labels = item.get("labels") or [{}]
    label = labels[0]
    origin = label.get("code_origin") or (str(path) if path else "<rules>")
    line = label.get("line") or item.get("line") or 0
    title = str(item.get("title") or item.get("code") or "error")
    detail = str(label.get("text") or "").strip()
    return f"{origin}:{line}: {title}" + (f": {detail}" if detail and detail != title else "")
