"""A cities file (YAML, `cities: [...]`) for the many-cities flow, and the keys.env laid out beside it."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml

PATHS = ("store", "inbox", "subscribers", "stats", "wards", "keys_file")  # taken from the YAML's folder when relative


class CitiesError(ValueError):
    """A cities file that cannot be used."""


def _beside(folder: Path, value: str) -> str:
    return value if "://" in value or os.path.isabs(value) else str(folder / value)


def load_cities(path: str | os.PathLike) -> list[dict]:
    """Every city of the file, its relative paths made paths from the file's folder."""
    source = Path(path)
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CitiesError(f"cannot read the cities file {source}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise CitiesError(f"{source} is not YAML: {exc}") from None
    entries = document.get("cities") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise CitiesError(f"{source}: expected `cities:` with a list of cities")
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise CitiesError(f"{source}: city {i} is not a mapping")
    folder = source.resolve().parent
    return [{k: (_beside(folder, str(v)) if k in PATHS and v else v) for k, v in entry.items()}
            | _code(source, i, entry) for i, entry in enumerate(entries, 1)]


def _code(source: Path, i: int, entry: dict) -> dict:
    """The entry's municipality_code as text: YAML reads an unquoted 112038 as a number, 011002 as octal 4610."""
    code = entry.get("municipality_code")
    if not isinstance(code, int) or isinstance(code, bool):
        return {}
    if code < 100000:  # its leading zero is lost, and an octal reading changed its digits
        raise CitiesError(f"{source}: city {i} ({entry.get('name') or 'no name'}): municipality_code {code} is "
                          f"not the code written: YAML reads digits with a leading 0 as a number; write it in "
                          f"quotes, e.g. municipality_code: '011002'")
    return {"municipality_code": str(code)}


def load_keys(path: str | os.PathLike) -> dict[str, str]:
    """NAME=value lines of a keys.env (comments, blank lines and a leading `export` allowed)."""
    keys = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise CitiesError(f"{Path(path).name}: a line without NAME=value")
        keys[name.strip()] = value.strip().strip("'\"")
    return keys


@functools.lru_cache(maxsize=8)
def _keys_of(path: str, changed: int) -> dict[str, str]:
    return load_keys(path)


def city_keys(path: str | os.PathLike) -> dict[str, str]:
    """A keys file's variables, read once per change of the file (every city of a nation shares one file)."""
    return _keys_of(str(path), Path(path).stat().st_mtime_ns)


def keys_beside(cities_file: str | os.PathLike) -> Path:
    """keys.env in the cities file's folder (where `juki nation layout` writes it)."""
    return Path(cities_file).resolve().parent / "keys.env"
