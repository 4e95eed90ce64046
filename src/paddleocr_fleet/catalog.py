"""Load and validate the catalog of PaddleOCR model sets: roles/paddleocr_models/files/models.yml, shipped in
the package as data/models.yml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from paddleocr_fleet import CATALOG_PATH

MODEL_ROLES = ("det", "cls", "rec")
RUNTIMES = ("paddleocr2", "paddleocr3", "onnxruntime")
OCR_VERSIONS = {"paddleocr2": ("PP-OCR", "PP-OCRv2", "PP-OCRv3", "PP-OCRv4"), "paddleocr3": ("PP-OCRv4", "PP-OCRv5"),
                "onnxruntime": ("PP-OCRv6",)}
SET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


class CatalogError(ValueError):
    """The catalog is malformed; the message names the set and field."""


@dataclass(frozen=True)
class Archive:
    source: str
    path: str
    dir: str

    @property
    def key(self) -> str:
        """Lock-file key: the archive's path under its source, prefixed by the source name."""
        return f"{self.source}/{self.path}"


@dataclass(frozen=True)
class ModelSet:
    name: str
    runtime: str
    ocr_version: str
    lang: str
    # The catalog's `dict` key: the character dictionary file of the paddleocr 2.x wheel, None inside the model.
    dictionary: str | None
    size_mb: float
    models: dict[str, Archive]


@dataclass(frozen=True)
class Catalog:
    sources: dict[str, str]
    default_set: str
    sets: dict[str, ModelSet]

    def archives(self, set_names: list[str] | None = None) -> dict[str, Archive]:
        """Distinct archives of the given sets (all sets when None), keyed by lock key."""
        names = set_names if set_names is not None else list(self.sets)
        return {a.key: a for name in names for a in self.sets[name].models.values()}


def _require(mapping: Any, field: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(mapping, dict) or field not in mapping:
        raise CatalogError(f"{where}: missing field '{field}'")
    value = mapping[field]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CatalogError(f"{where}: field '{field}' must be {names}, got {type(value).__name__}")
    return value


def _parse_archive(raw: Any, where: str, sources: dict[str, str]) -> Archive:
    source = _require(raw, "source", where, str)
    if source not in sources:
        raise CatalogError(f"{where}: field 'source' names unknown source '{source}' (known: {sorted(sources)})")
    path = _require(raw, "path", where, str)
    if not path.endswith(".tar") or path.startswith("/") or ".." in path.split("/"):
        raise CatalogError(f"{where}: field 'path' must be a relative path to a .tar archive, got '{path}'")
    directory = _require(raw, "dir", where, str)
    if directory != Path(path).name[: -len(".tar")]:
        raise CatalogError(f"{where}: field 'dir' must be the archive's name without .tar, got '{directory}'")
    return Archive(source=source, path=path, dir=directory)


def _parse_set(name: str, raw: Any, sources: dict[str, str]) -> ModelSet:
    where = f"set '{name}'"
    if not SET_NAME.match(name):
        raise CatalogError(f"{where}: name must match {SET_NAME.pattern}")
    runtime = _require(raw, "runtime", where, str)
    if runtime not in RUNTIMES:
        raise CatalogError(f"{where}: field 'runtime' must be one of {RUNTIMES}, got '{runtime}'")
    ocr_version = _require(raw, "ocr_version", where, str)
    if ocr_version not in OCR_VERSIONS[runtime]:
        raise CatalogError(
            f"{where}: field 'ocr_version' must be one of {OCR_VERSIONS[runtime]} for {runtime}, got '{ocr_version}'"
        )
    lang = _require(raw, "lang", where, str)
    dictionary = raw.get("dict") if isinstance(raw, dict) else None
    if runtime == "paddleocr2" and not isinstance(dictionary, str):
        raise CatalogError(f"{where}: field 'dict' must name a dictionary file for runtime paddleocr2")
    size_mb = _require(raw, "size_mb", where, (int, float))
    if size_mb <= 0:
        raise CatalogError(f"{where}: field 'size_mb' must be positive")
    models_raw = _require(raw, "models", where, dict)
    missing = [role for role in MODEL_ROLES if role not in models_raw]
    if missing:
        raise CatalogError(f"{where}: field 'models' lacks {', '.join(missing)}")
    models = {role: _parse_archive(models_raw[role], f"{where} models.{role}", sources) for role in MODEL_ROLES}
    return ModelSet(name=name, runtime=runtime, ocr_version=ocr_version, lang=lang, dictionary=dictionary,
                    size_mb=float(size_mb), models=models)


def parse_catalog(raw: Any) -> Catalog:
    """Validate a loaded catalog document and return it typed; raise CatalogError naming set and field."""
    sources = _require(raw, "sources", "catalog", dict)
    for name, url in sources.items():
        if not isinstance(url, str) or not re.match(r"^https?://.+/$", url):
            raise CatalogError(f"catalog: source '{name}' must be an http(s) URL ending in '/', got '{url}'")
    sets_raw = _require(raw, "sets", "catalog", dict)
    sets = {name: _parse_set(name, body, sources) for name, body in sets_raw.items()}
    default_set = _require(raw, "default_set", "catalog", str)
    if default_set not in sets:
        raise CatalogError(f"catalog: field 'default_set' names unknown set '{default_set}'")
    return Catalog(sources=sources, default_set=default_set, sets=sets)


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """The catalog at path (default: the one shipped in the package)."""
    with open(path, encoding="utf-8") as handle:
        return parse_catalog(yaml.safe_load(handle))
