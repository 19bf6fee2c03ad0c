"""The generator's model of the register: residents by index, households, Faker pools, towns."""

from __future__ import annotations

import datetime
import random
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from faker import Faker

from schemas.change_file import MUNICIPALITY_PREFIX
from synthetic.codes import _Codes, _household_number
from synthetic.names import ORIGINS


CURRENT, PENDING, REMOVED = 0, 1, 2



_ISO: dict[int, str] = {}


def _iso(ordinal: int) -> str:
    """ISO text of a date ordinal (cached: the baseline formats millions of dates)."""
    text = _ISO.get(ordinal)
    if text is None:
        text = _ISO[ordinal] = datetime.date.fromordinal(ordinal).isoformat()
    return text


def _weighted(rr: random.Random, weights: dict[str, float]) -> str:
    """One key drawn with the given weights."""
    keys = list(weights)
    return rr.choices(keys, weights=[weights[k] for k in keys])[0]


def _cp932_safe(text: str) -> bool:
    """True when the text can be written on a CP932 day."""
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


@dataclass
class _Pools:
    """Names, addresses and buildings drawn once from Faker; rows sample from them."""

    jp_family: list[tuple[str, str]]
    jp_male: list[tuple[str, str]]
    jp_female: list[tuple[str, str]]
    domestic: list[str]          # addresses elsewhere in Japan (前住所, 転出先)
    outside_towns: list[str]
    buildings: list[str]


def _build_pools(fake: Faker) -> _Pools:
    """Seeded pools: Faker's ja_JP kanji/kana name pairs (weighted as Faker weights them)."""
    def ok(pair: tuple[str, str, str]) -> bool:
        return _cp932_safe(pair[0] + pair[1]) and all("ァ" <= c <= "ヶ" or c == "ー" for c in pair[1])

    family = [p for p in (fake.last_name_pair() for _ in range(3000)) if ok(p)]
    male = [p for p in (fake.first_name_male_pair() for _ in range(1000)) if ok(p)]
    female = [p for p in (fake.first_name_female_pair() for _ in range(1000)) if ok(p)]
    towns = [t for t in (fake.town() for _ in range(600)) if _cp932_safe(t) and "川口" not in t]
    buildings = []
    for _ in range(800):
        town = fake.town()
        name = f"{town}{fake.building_name()}" if fake.boolean(60) else f"{fake.building_name()}{town}"
        if _cp932_safe(name) and len(town) <= 5:
            buildings.append(name)
    origins = OrderedDict((o, o[2]) for o in ORIGINS)
    domestic = []
    for _ in range(4000):
        pref, city, _w = fake.random_element(origins)
        town = fake.random_element(towns)
        domestic.append(f"{pref}{city}{town}{fake.random_int(1, 5)}丁目"
                        f"{fake.random_int(1, 30)}番{fake.random_int(1, 20)}号")
    return _Pools([(p[0], p[1]) for p in family], [(p[0], p[1]) for p in male],
                  [(p[0], p[1]) for p in female], domestic, towns, buildings)



@dataclass
class _City:
    """The generator's model of the register: residents by index, households, open events."""

    rr: random.Random
    codes: _Codes
    pools: _Pools
    baseline_day: int
    towns: list[str]
    town_cum: list[float]
    foreign_town_cum: list[float]
    np_rng: np.random.Generator
    # residents (one entry per person ever known)
    code: array = field(default_factory=lambda: array("q"))
    mynum: array = field(default_factory=lambda: array("q"))
    hh: array = field(default_factory=lambda: array("q"))
    rel: list[str] = field(default_factory=list)
    fam: list[str] = field(default_factory=list)
    giv: list[str] = field(default_factory=list)
    famk: list[str] = field(default_factory=list)
    givk: list[str] = field(default_factory=list)
    alias: list[str] = field(default_factory=list)
    birth: array = field(default_factory=lambda: array("q"))
    sex: list[str] = field(default_factory=list)
    nat: list[str] = field(default_factory=list)
    town: list[str] = field(default_factory=list)
    addr: list[str] = field(default_factory=list)
    honseki: list[str] = field(default_factory=list)
    hittousha: list[str] = field(default_factory=list)
    fcat: list[str] = field(default_factory=list)
    rstatus: list[str] = field(default_factory=list)
    card: list[str] = field(default_factory=list)
    expiry: array = field(default_factory=lambda: array("q"))
    support: list[str] = field(default_factory=list)
    prev: list[str] = field(default_factory=list)
    since: array = field(default_factory=lambda: array("q"))
    last: array = field(default_factory=lambda: array("q"))  # effective date of the latest event
    last_id: list[str] = field(default_factory=list)
    state: array = field(default_factory=lambda: array("q"))
    out_day: array = field(default_factory=lambda: array("q"))    # effective date of the removal
    out_kind: list[str] = field(default_factory=list)
    addr_since: list[str] = field(default_factory=list)  # BASELINE address_since
    # households
    h_id: list[str] = field(default_factory=list)
    h_members: list[list[int]] = field(default_factory=list)
    h_town: list[str] = field(default_factory=list)
    h_addr: list[str] = field(default_factory=list)
    # bookkeeping across days
    foreign: list[int] = field(default_factory=list)
    transition: list[int] = field(default_factory=list)
    supported: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    pending: list[tuple] = field(default_factory=list)  # planned move-outs not yet in effect
    recent_moves: list[tuple[str, int, int, tuple]] = field(default_factory=list)
    move_outs: list[int] = field(default_factory=list)  # persons removed by a MOVE_OUT, a 転出確定 may follow
    rr_seed: int = 0  # the seed of the city, for the streams of draws kept apart (転出確定)
    city_name: str = MUNICIPALITY_PREFIX  # 都道府県 + 市区町村 as the city's own 本籍 are written
    past_ids: list[str] = field(default_factory=list)              # applied event ids, a sample
    baseline_ids: list[tuple[str, int]] = field(default_factory=list)  # (event_id, person), a sample
    cancel_log: list[tuple[str, int, str]] = field(default_factory=list)  # (CANCEL id, person, target)
    household_seq: int = 0

    def new_household(self, town: str, addr: str) -> int:
        """Open a household at an address; returns its index."""
        self.household_seq += 1
        self.h_id.append(_household_number(self.household_seq))
        self.h_members.append([])
        self.h_town.append(town)
        self.h_addr.append(addr)
        return len(self.h_id) - 1

    def add_person(self, p: dict) -> int:
        """Append a person (a dict of the model's fields) and join their household."""
        pid = len(self.code)
        for key, value in p.items():
            getattr(self, key).append(value)
        self.h_members[p["hh"]].append(pid)
        if p["nat"] != "JP":
            self.foreign.append(pid)
            if p["fcat"] == "BIRTH_TRANSITION":
                self.transition.append(pid)
        if p["support"] == "1":
            self.supported.append(pid)
        return pid

    def head(self, h: int) -> int | None:
        """The 世帯主 of a household, if it has one."""
        for m in self.h_members[h]:
            if self.rel[m] == "世帯主":
                return m
        return None


def _town_weights(rr: random.Random, towns: dict[str, str]) -> tuple[list[str], list[float], list[float]]:
    """Cumulative population weights per town, and a second set for foreign households."""
    codes = list(towns)
    base, foreign = [], []
    for c in codes:
        name = towns[c]
        w = rr.lognormvariate(0, 0.5) * (0.35 if name.startswith("大字") else 1.0)
        boost = 1.0
        if name.startswith("芝園町"):
            boost = 25.0  # 芝園団地: over half of its residents are foreign
        elif name.startswith("西川口"):
            boost = 3.0
        elif name.startswith(("芝", "並木", "川口", "青木")):
            boost = 1.8
        base.append(w)
        foreign.append(w * boost)
    cum = list(np.cumsum(base))
    fcum = list(np.cumsum(foreign))
    return codes, cum, fcum


def _ordinal_or(text: str, default: int) -> int:
    """The ordinal of an ISO date text, or the default when empty."""
    return datetime.date.fromisoformat(text).toordinal() if text else default
