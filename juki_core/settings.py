"""The one place that binds storage and settings for an environment (a store and its folders)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from schemas.change_file import DEFAULT_MAX_REFUSED_SHARE, MUNICIPALITY_CODE, MUNICIPALITY_PREFIX

DEFAULT_STORE = Path("data") / "registry.duckdb"


@dataclass(frozen=True)
class Settings:
    """One city: the DuckDB store and the folders beside it (inbox, archive, stats, outbox)."""

    store: Path
    municipality_code: str = MUNICIPALITY_CODE
    max_refused_share: float = DEFAULT_MAX_REFUSED_SHARE
    inbox: str = field(default="")
    archive: str = field(default="")
    stats: str = field(default="")
    outbox: str = field(default="")
    subscribers: str = field(default="")  # the subscribers YAML; empty: schemas/subscribers.yaml
    max_days_ahead: int = 0  # a file may be dated this many days after today (Asia/Tokyo); later ones are refused
    city_name: str = MUNICIPALITY_PREFIX  # 都道府県 + 市区町村 as a 本籍 is written: decides 管内本籍人 for the 附票 feeds

    def __post_init__(self) -> None:
        if not isinstance(self.max_days_ahead, int) or self.max_days_ahead < 0:
            raise ValueError(f"the days ahead a file may be dated must be a whole number, at least 0, "
                             f"not {self.max_days_ahead!r}")
        root = self.store.resolve().parent
        for name in ("inbox", "archive", "stats", "outbox"):
            if not getattr(self, name):
                object.__setattr__(self, name, str(root / name))

    @property
    def root(self) -> Path:
        return self.store.resolve().parent

    @classmethod
    def resolve(cls, store: str | os.PathLike | None = None, **overrides) -> "Settings":
        """--store PATH, else $JUKI_STORE, else data/registry.duckdb; --subscribers, else $JUKI_SUBSCRIBERS;
        --max-days-ahead, else $JUKI_MAX_DAYS_AHEAD, else 0; the city's name: $JUKI_CITY_NAME, else 埼玉県川口市;
        its 団体コード: $JUKI_MUNICIPALITY_CODE, else 112038."""
        if overrides.get("municipality_code") is None and os.environ.get("JUKI_MUNICIPALITY_CODE", "").strip():
            overrides["municipality_code"] = os.environ["JUKI_MUNICIPALITY_CODE"].strip()
        if overrides.get("city_name") is None and os.environ.get("JUKI_CITY_NAME", "").strip():
            overrides["city_name"] = os.environ["JUKI_CITY_NAME"].strip()
        if overrides.get("subscribers") is None:
            overrides["subscribers"] = os.environ.get("JUKI_SUBSCRIBERS")
        if overrides.get("max_days_ahead") is None and os.environ.get("JUKI_MAX_DAYS_AHEAD"):
            value = os.environ["JUKI_MAX_DAYS_AHEAD"]
            try:
                overrides["max_days_ahead"] = int(value)
            except ValueError:
                raise ValueError(f"$JUKI_MAX_DAYS_AHEAD is {value!r}, not a whole number of days") from None
        chosen = store or os.environ.get("JUKI_STORE") or DEFAULT_STORE
        return cls(store=Path(chosen), **{k: v for k, v in overrides.items() if v is not None})
