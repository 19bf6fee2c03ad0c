"""`juki generate`: a seeded, deterministic synthetic city (川口市 by default) written as change files.

The generator keeps its own model of the register (residents, households, pending
move-outs, cancellable events) so that every row it means to be valid is valid against
the register, and every row it breaks breaks one known rule (listed in `truth/`).
"""

from __future__ import annotations

import datetime
import random
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
from faker import Faker

from schemas.business_calendar import is_business_day as _is_business_day
from schemas.change_file import MUNICIPALITY_CODE, MUNICIPALITY_PREFIX, town_names
from synthetic.broken import _break_baseline, _break_day
from synthetic.calibration import CALIBRATION_POPULATION
from synthetic.codes import _Codes
from synthetic.events import _simulate_day
from synthetic.files import _encodings, _merged, _place, _write_day
from synthetic.households import _baseline_row, _build_baseline
from synthetic.model import _City, _build_pools, _town_weights


def _business_dates(start: datetime.date, days: int) -> tuple[datetime.date, list[datetime.date]]:
    """The baseline business date and the business days among the `days` calendar days after it (the city's
    calendar: no file on a national holiday or on 12/29-1/3)."""
    baseline = start
    while not _is_business_day(baseline):
        baseline += datetime.timedelta(days=1)
    later = [baseline + datetime.timedelta(days=i) for i in range(1, days + 1)]
    return baseline, [d for d in later if _is_business_day(d)]


@lru_cache(maxsize=4)
def _pools(seed: int):
    """Faker's name and address pools for a seed; read only, so cities laid out together share them (they
    take most of a small city's time)."""
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    return _build_pools(fake)


def generate_city(out_dir: str | Path, residents: int = 607_000, days: int = 20,
                  start: datetime.date = datetime.date(2026, 4, 1), seed: int = 1,
                  progress: Callable[[str], None] | None = None,
                  municipality_code: str = MUNICIPALITY_CODE, city_name: str = MUNICIPALITY_PREFIX,
                  pool_seed: int | None = None) -> list[Path]:
    """Write a BASELINE file and one change file per business day after it; return the paths in order.

    Every city has the project's town list (data/reference/towns.csv, the only one the row rules accept);
    `municipality_code` names the files and `city_name` (都道府県 + 市区町村) begins the 本籍 written in the
    city itself. `pool_seed` (default: `seed`) seeds the Faker pools of names and addresses."""
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    baseline_date, business_days = _business_dates(start, days)
    rr = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    scale = residents / CALIBRATION_POPULATION
    codes = _Codes(np_rng)
    codes.refill(int(residents * 1.01) + int(days * scale * 400) + 1_000)
    towns, cum, fcum = _town_weights(rr, town_names())
    c = _City(rr=rr, codes=codes, pools=_pools(seed if pool_seed is None else pool_seed),
              baseline_day=baseline_date.toordinal(), towns=towns, town_cum=cum, foreign_town_cum=fcum,
              np_rng=np_rng, rr_seed=seed, city_name=city_name)
    _build_baseline(c, residents)
    tag = baseline_date.strftime("%Y%m%d")
    order = [pid for members in c.h_members for pid in members]
    # Baseline events are never cancelled, so their ids are not kept per person (memory).
    c.baseline_ids = [(f"E{tag}-{i + 1:06d}", order[i]) for i in range(0, len(order), max(1, len(order) // 200))]
    c.past_ids = [eid for eid, _pid in c.baseline_ids]
    placed, truth = _place(rr, len(order), _break_baseline(c, len(order), tag),
                           id_before=lambda k: f"E{tag}-{k + 1:06d}")
    valid = (_baseline_row(c, pid, f"E{tag}-{i + 1:06d}") for i, pid in enumerate(order))
    encodings = _encodings(rr, 1 + len(business_days))
    paths = [_write_day(out, baseline_date, _merged(valid, placed), truth, encodings[0], municipality_code)]
    say(f"{paths[0].name}: BASELINE of {len(order):,} residents in "
        f"{sum(1 for m in c.h_members if m):,} households ({len(truth)} broken rows)")
    for day in business_days:
        d = _simulate_day(c, day, scale)
        placed, truth = _place(rr, len(d.rows), _break_day(d))
        c.past_ids.extend(r["event_id"] for r in d.rows[:20])
        paths.append(_write_day(out, day, _merged(d.rows, placed), truth, encodings[len(paths)], municipality_code))
        counts = Counter(r["event_type"] for r in d.rows)
        say(f"{paths[-1].name}: {len(d.rows) + len(placed):,} rows ({len(placed)} broken): "
            + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    return paths
