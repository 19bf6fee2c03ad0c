"""One business day of valid events (births, deaths, moves, changes, cancels), applied to the model."""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from schemas.change_file import resident_code_check_digit, town_names
from synthetic.calibration import (
    ABROAD_SHARE,
    AUTHORITY_SHARE,
    BUSINESS_DAYS_PER_YEAR,
    FIRST_STATUS,
    MOVE_DAY_EQUIVALENTS,
    NATIONALITY_WEIGHTS,
    NEXT_STATUS,
    OTHER_YEARLY,
    RARE_FLOOR,
    YEARLY,
    _move_season,
)
from synthetic.codes import _card_number, _rc
from synthetic.households import _children
from synthetic.model import CURRENT, PENDING, REMOVED, _City, _iso, _weighted
from synthetic.names import ALIAS_FAMILIES, TRADITION_OF
from synthetic.people import (
    _abroad,
    _address_line,
    _dependant_status,
    _expiry,
    _foreign_fields,
    _foreign_name,
    _head_status,
    _honseki,
    _jp_name,
    _name,
    _person,
    _pick_town,
    _record,
    _stay_period,
)


@dataclass
class _Day:
    """One business day being written: its rows and who already has a row in it."""

    c: _City
    day: int
    tag: str
    rows: list[dict] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    seq: int = 0

    def next_id(self) -> str:
        """A new event_id, unique forever (business date and sequence)."""
        self.seq += 1
        return f"E{self.tag}-{self.seq:06d}"

    def row(self, pid: int | None, event_type: str, effective: int, code: str | None = None,
            notified: int | None = None, **cols: str) -> dict:
        """A new row (not yet in the file) with the common columns filled."""
        row = {"event_id": self.next_id(), "event_type": event_type, "effective_date": _iso(effective),
               "notified_date": _iso(self.day if notified is None else notified),
               "resident_code": code if code is not None else _rc(self.c.code[pid])}
        row.update(cols)
        return row

    def emit(self, pid: int, event_type: str, effective: int, **cols: str) -> dict:
        """Append a valid row; the person's latest applied event becomes this one."""
        row = self.row(pid, event_type, effective, **cols)
        self.rows.append(row)
        self.touched.add(pid)
        self.c.last[pid] = max(self.c.last[pid], effective)
        self.c.last_id[pid] = row["event_id"]
        return row

    def age(self, pid: int, on: int | None = None) -> float:
        """Age in years on a day (the business date by default)."""
        return ((self.day if on is None else on) - self.c.birth[pid]) / 365.2425

    def free(self, pid: int) -> bool:
        """Current, with no row yet in this file."""
        return self.c.state[pid] == CURRENT and pid not in self.touched and self.c.last[pid] <= self.day

    def pick(self, pool: list[int] | None = None, accept: Callable[[int], bool] | None = None,
             tries: int = 60) -> int | None:
        """A random free person (from a pool, else from everyone) that `accept` takes."""
        c = self.c
        size = len(pool) if pool is not None else len(c.code)
        if size == 0:
            return None
        for _ in range(tries):
            i = c.rr.randrange(size)
            pid = pool[i] if pool is not None else i
            if self.free(pid) and (accept is None or accept(pid)):
                return pid
        return None

    def effective(self, pids: list[int], window: int) -> int:
        """An effective date up to `window` days back, not before any of the persons' latest events."""
        c = self.c
        e = self.day - c.rr.randint(0, window)
        return max([e, c.baseline_day + 1] + [c.last[p] for p in pids])


def _leave_household(c: _City, pid: int) -> None:
    """Take a removed person out of their household's members."""
    members = c.h_members[c.hh[pid]]
    if pid in members:
        members.remove(pid)


def _remove(c: _City, pid: int, effective: int, kind: str) -> None:
    """A removal in effect: the person is no longer current."""
    c.state[pid] = REMOVED
    c.out_day[pid] = effective
    c.out_kind[pid] = kind
    _leave_household(c, pid)
    c.removed.append(pid)
    if kind == "MOVE_OUT":
        c.move_outs.append(pid)


def _remap_to_spouse(rel: str, old_head_term: str) -> str:
    """続柄 of a member when the head's spouse becomes 世帯主 (old_head_term: 夫 or 妻)."""
    if rel in ("同居人", "縁故者") or rel.startswith("子"):
        return rel
    for prefix in ("妻の", "夫の"):
        if rel.startswith(prefix):
            return rel[len(prefix):]
    new = f"{old_head_term}の{rel}"
    return new if new.count("の") <= 3 else "縁故者"


SPOUSES = ("妻", "夫", "妻(未届)", "夫(未届)")


def _head_change(d: _Day, h: int, after: int, old_head: int | None) -> None:
    """世帯主変更: the head's spouse becomes 世帯主 (the old head left, died or steps down)."""
    c = d.c
    stays = [m for m in c.h_members[h] if m != old_head]
    spouse = next((m for m in stays if c.rel[m] in SPOUSES), None)
    if spouse is None:
        return
    involved = stays + ([old_head] if old_head is not None else [])
    if not all(d.free(m) for m in involved):
        return
    e = max([after] + [c.last[m] for m in involved])
    if e > d.day:
        return
    unregistered = "(未届)" in c.rel[spouse]
    old_term = "夫" if c.rel[spouse].startswith("妻") else "妻"
    for m in stays:
        if m == spouse:
            new = "世帯主"
        elif unregistered and not c.rel[m].startswith(("子", "同居人", "縁故者")):
            new = "縁故者"
        else:
            new = _remap_to_spouse(c.rel[m], old_term)
        if new != c.rel[m]:
            c.rel[m] = new
            d.emit(m, "HOUSEHOLD_CHANGE", e, household_id=c.h_id[h], relationship=new)
    if old_head is not None:
        c.rel[old_head] = old_term + ("(未届)" if unregistered else "")
        d.emit(old_head, "HOUSEHOLD_CHANGE", e, household_id=c.h_id[h], relationship=c.rel[old_head])



def _ev_birth(d: _Day, group: str, _max: int) -> int:
    """出生: a baby in an existing household, as 子 or 子の子."""
    c = d.c
    parent_rels = ("世帯主", "妻", "夫", "妻(未届)", "夫(未届)", "子", "子の妻", "子の夫")
    pid = d.pick(c.foreign if group == "F" else None,
                 lambda p: 20 <= d.age(p) <= 45 and c.rel[p] in parent_rels
                 and (c.nat[p] != "JP") == (group == "F"))
    if pid is None:
        return 0
    h = c.hh[pid]
    rel = "子" if not c.rel[pid].startswith("子") else "子の子"
    japanese = [m for m in c.h_members[h] if c.nat[m] == "JP" and c.state[m] == CURRENT]
    nat = "JP" if c.nat[pid] == "JP" or (japanese and c.rel[pid] in parent_rels[:5]) else c.nat[pid]
    e = max(d.day - c.rr.randint(0, 13), c.baseline_day + 1)
    sex = c.rr.choice("12")
    if nat == "JP":
        source = pid if c.nat[pid] == "JP" else japanese[0]
        names = _jp_name(c, sex, (c.fam[source], c.famk[source]))
        extra = dict(honseki=c.honseki[source], hittousha=c.hittousha[source])
        fields = None
    else:
        names = _foreign_name(c, nat, sex, (c.fam[pid], c.famk[pid]))
        extra = {}
        fields = _foreign_fields(c, "BIRTH_TRANSITION", "", e)
    p = _person(c, hh=h, rel=rel, nat=nat, sex=sex, birth=e, since=e, names=names, foreign=fields, **extra)
    baby = c.add_person(p)
    d.emit(baby, "BIRTH", e, **_record(c, baby))
    return 1


def _mortality(age: float) -> float:
    """Relative chance of dying at an age (Gompertz-like, 1 at 105)."""
    return min(1.0, math.exp(0.085 * (age - 105))) if age >= 30 else 0.0005


def _ev_death(d: _Day, group: str, _max: int) -> int:
    """死亡, often notified a few days late; a head's spouse may become 世帯主."""
    c = d.c
    pid = d.pick(c.foreign if group == "F" else None,
                 lambda p: (c.nat[p] != "JP") == (group == "F") and c.rr.random() < _mortality(d.age(p)),
                 tries=3000)
    if pid is None:
        return 0
    e = d.effective([pid], 6)
    d.emit(pid, "DEATH", e)
    h = c.hh[pid]
    was_head = c.rel[pid] == "世帯主"
    _remove(c, pid, e, "DEATH")
    if was_head and c.rr.random() < 0.6:
        _head_change(d, h, e, None)
    return 1


def _mover_members(c: _City, size: int) -> list[tuple[str, float, str]]:
    """(relationship, age, sex) of a household moving in together."""
    rr = c.rr
    if size == 1:
        v = rr.random()
        age = rr.uniform(18, 35) if v < 0.7 else rr.uniform(35, 60) if v < 0.92 else rr.uniform(60, 92)
        return [("世帯主", age, "1" if rr.random() < 0.55 else "2")]
    hs, ss, spouse = ("1", "2", "妻") if rr.random() < 0.85 else ("2", "1", "夫")
    age = rr.uniform(22, 45) if size == 2 and rr.random() < 0.8 else rr.uniform(27, 48)
    if size == 2 and rr.random() < 0.2:
        age = rr.uniform(45, 80)
    out = [("世帯主", age, hs), (spouse, max(18.0, age - rr.gauss(2.5, 3)), ss)]
    return out + _children(rr, age, size - 2)


def _ev_move_in(d: _Day, group: str, event_type: str, max_size: int) -> int:
    """転入 / 国外からの転入 / 職権記載: a new household, a joining person, or a former resident back."""
    c = d.c
    rr = c.rr
    window = 30 if event_type == "ENTRY_BY_AUTHORITY" else 13
    e = max(d.day - rr.randint(0, window), c.baseline_day + 1)
    foreign = group == "F"
    if event_type == "MOVE_IN" and rr.random() < 0.03:
        back = _pick_removed(d, lambda p: c.out_kind[p] in ("MOVE_OUT", "MOVE_ABROAD", "MOVE_OUT_CONFIRMED")
                             and c.out_day[p] < e and (c.nat[p] != "JP") == foreign)
        if back is not None:
            return _return_resident(d, back, e)
    size = 1
    if event_type != "ENTRY_BY_AUTHORITY":
        size = min(max_size, rr.choices((1, 2, 3, 4), (52, 20, 14, 14))[0])
    if size == 1 and not foreign and event_type == "MOVE_IN" and rr.random() < 0.15:
        if _join_household(d, e):
            return 1
    nat = _weighted(rr, NATIONALITY_WEIGHTS) if foreign else "JP"
    town = _pick_town(c, foreign)
    h = c.new_household(town, _address_line(c, town, foreign))
    members = _mover_members(c, size)
    family = rr.choice(c.pools.jp_family) if nat == "JP" else None
    if nat != "JP":
        f = _foreign_name(c, nat, "1")
        family = (f[0], f[2])
    special = nat == "XC" or (nat == "KR" and members[0][1] > 35 and rr.random() < 0.35)
    if event_type == "RETURN_FROM_ABROAD":
        special = False
    honseki = _honseki(c) if nat == "JP" else ""
    head_status = ""
    head_name = ""
    if event_type == "ENTRY_BY_AUTHORITY":
        prev = rr.choice(c.pools.domestic) if rr.random() < 0.5 else ""
    elif event_type == "RETURN_FROM_ABROAD":
        prev = _abroad(c, nat)
    else:
        prev = rr.choice(c.pools.domestic)
    for idx, (rel, age, sex) in enumerate(members):
        birth = min(e - 1, e - int(age * 365.2425) - rr.randrange(0, 30))
        keeps_own = nat != "JP" and idx > 0 and rel != "子" and TRADITION_OF.get(nat) in ("CN", "KR", "VN")
        names = _name(c, nat, sex, None if keeps_own else family)
        fields = None
        alias = ""
        if nat != "JP":
            if special:
                fields = _foreign_fields(c, "SPECIAL_PERMANENT", "", e)
                if rr.random() < 0.5:
                    alias = f"{rr.choice(ALIAS_FAMILIES)}　{_jp_name(c, sex)[1]}"
            else:
                if idx == 0:
                    status = head_status = _head_status(c, nat, age, size > 1)
                else:
                    status = _dependant_status(c, head_status, False)
                if event_type == "RETURN_FROM_ABROAD":
                    status = FIRST_STATUS.get(status, status)
                fields = _foreign_fields(c, "MID_LONG", status, e)
        hitt = ""
        if nat == "JP":
            hitt = head_name or f"{names[0]}　{names[1]}"
            head_name = hitt
        p = _person(c, hh=h, rel=rel, nat=nat, sex=sex, birth=birth, since=e, names=names,
                    honseki=honseki, hittousha=hitt, foreign=fields, alias=alias, prev=prev)
        pid = c.add_person(p)
        row = _record(c, pid)
        if prev:
            row["prev_address"] = prev
        d.emit(pid, event_type, e, **row)
    return size


def _pick_removed(d: _Day, accept: Callable[[int], bool]) -> int | None:
    """A removed (former) resident with no row in this file."""
    c = d.c
    for _ in range(20):
        if not c.removed:
            return None
        pid = c.removed[c.rr.randrange(len(c.removed))]
        if c.state[pid] == REMOVED and pid not in d.touched and accept(pid):
            return pid
    return None


def _return_resident(d: _Day, pid: int, e: int) -> int:
    """A former resident moves back into the city (same codes, a new household)."""
    c = d.c
    foreign = c.nat[pid] != "JP"
    town = _pick_town(c, foreign)
    h = c.new_household(town, _address_line(c, town, foreign))
    c.state[pid] = CURRENT
    c.hh[pid] = h
    c.h_members[h].append(pid)
    c.rel[pid] = "世帯主"
    c.town[pid], c.addr[pid] = town, c.h_addr[h]
    c.since[pid] = e
    c.prev[pid] = c.rr.choice(c.pools.domestic)
    if c.fcat[pid] == "MID_LONG" and c.expiry[pid] <= e:
        c.expiry[pid] = _expiry(c, c.rstatus[pid], e)
        c.card[pid] = _card_number(c.rr)
    row = _record(c, pid)
    row["prev_address"] = c.prev[pid]
    d.emit(pid, "MOVE_IN", e, **row)
    return 1


def _join_household(d: _Day, e: int) -> bool:
    """A person moving in to live with an existing household (as 妻, 母 or 同居人)."""
    c = d.c
    rr = c.rr
    head = d.pick(None, lambda p: c.rel[p] == "世帯主" and c.nat[p] == "JP" and 25 <= d.age(p) <= 60
                  and len(c.h_members[c.hh[p]]) <= 4)
    if head is None:
        return False
    h = c.hh[head]
    has_spouse = any(c.rel[m].startswith(("妻", "夫")) and "の" not in c.rel[m] for m in c.h_members[h])
    age_head = d.age(head)
    v = rr.random()
    if not has_spouse and c.sex[head] == "1" and v < 0.5:
        rel, age, sex, family = "妻", max(18.0, age_head - rr.uniform(-3, 6)), "2", (c.fam[head], c.famk[head])
    elif v < 0.75 and age_head + 25 < 100:
        rel, age, sex, family = "母", age_head + rr.uniform(25, 35), "2", (c.fam[head], c.famk[head])
    else:
        rel, age, sex, family = "同居人", rr.uniform(20, 60), rr.choice("12"), None
    birth = e - int(age * 365.2425) - rr.randrange(0, 30)
    names = _jp_name(c, sex, family)
    same_register = rel == "妻"
    p = _person(c, hh=h, rel=rel, nat="JP", sex=sex, birth=birth, since=e, names=names,
                honseki=c.honseki[head] if same_register else _honseki(c),
                hittousha=c.hittousha[head] if same_register else f"{names[0]}　{names[1]}",
                prev=rr.choice(c.pools.domestic))
    pid = c.add_person(p)
    row = _record(c, pid)
    row["prev_address"] = c.prev[pid]
    d.emit(pid, "MOVE_IN", e, **row)
    return True


def _mobility(age: float) -> float:
    """Relative chance of moving at an age (young adults move most)."""
    if 18 <= age < 40:
        return 1.0
    if age < 18:
        return 0.5
    if age < 65:
        return 0.4
    return 0.15


def _ev_move_out(d: _Day, group: str, event_type: str, max_size: int) -> int:
    """転出 / 国外転出 (often planned, notified up to 14 days ahead) / 職権消除."""
    c = d.c
    rr = c.rr
    pid = d.pick(c.foreign if group == "F" else None,
                 lambda p: (c.nat[p] != "JP") == (group == "F") and rr.random() < _mobility(d.age(p)))
    if pid is None:
        return 0
    h = c.hh[pid]
    if event_type == "REMOVAL_BY_AUTHORITY":
        e = d.effective([pid], 30)
        d.emit(pid, event_type, e)
        _remove(c, pid, e, event_type)
        return 1
    members = c.h_members[h]
    whole = (len(members) <= min(5, max_size) and rr.random() < 0.6
             and all(d.free(m) for m in members))
    movers = list(members) if whole else [pid]
    v = rr.random()
    if v < 0.55:
        e = d.day + rr.randint(1, 14)
    elif v < 0.65:
        e = max([d.day] + [c.last[m] for m in movers])
    else:
        e = d.effective(movers, 13)
    if event_type == "MOVE_ABROAD":
        dest = _abroad(c, c.nat[pid])
    else:
        dest = rr.choice(c.pools.domestic)
    group_id = rr.randrange(1 << 30)
    was_head = c.rel[pid] == "世帯主"
    for m in movers:
        prev_last, prev_id = c.last[m], c.last_id[m]
        row = d.emit(m, event_type, e, dest_address=dest)
        if e > d.day:
            c.state[m] = PENDING
            c.pending.append((e, m, row["event_id"], prev_last, prev_id, group_id, d.day, event_type))
        else:
            _remove(c, m, e, event_type)
    if not whole and was_head and e <= d.day and rr.random() < 0.5:
        _head_change(d, h, e, None)
    return len(movers)


def _ev_move_within(d: _Day, _group: str, max_size: int) -> int:
    """転居: a whole household to a new address, or one member to a household of their own."""
    c = d.c
    rr = c.rr
    pid = d.pick(None, lambda p: rr.random() < _mobility(d.age(p)))
    if pid is None:
        return 0
    h = c.hh[pid]
    members = c.h_members[h]
    foreign = c.nat[pid] != "JP"
    town = c.town[pid] if rr.random() < 0.3 else _pick_town(c, foreign)
    addr = _address_line(c, town, foreign)
    split = (len(members) >= 2 and c.rel[pid] != "世帯主" and d.age(pid) >= 18 and rr.random() < 0.3)
    if not split and (len(members) > max_size or not all(d.free(m) for m in members)):
        return 0
    if split:
        movers = [pid]
        new_h = c.new_household(town, addr)
    else:
        movers = list(members)
        new_h = h
        c.h_town[h], c.h_addr[h] = town, addr
    e = d.effective(movers, 13)
    for m in movers:
        undo = (c.town[m], c.addr[m], c.hh[m], c.rel[m], c.last[m], c.last_id[m])
        c.town[m], c.addr[m] = town, addr
        cols = {"town_code": town, "address_line": addr}
        if split:
            _leave_household(c, m)
            c.hh[m], c.rel[m] = new_h, "世帯主"
            c.h_members[new_h].append(m)
            cols.update(household_id=c.h_id[new_h], relationship="世帯主")
        row = d.emit(m, "MOVE_WITHIN", e, **cols)
        c.recent_moves.append((row["event_id"], m, d.day, undo))
    return len(movers)


def _ev_household_change(d: _Day, _group: str, _max: int) -> int:
    """世帯分離 at the same address, or 世帯主変更 to the head's spouse."""
    c = d.c
    rr = c.rr
    if rr.random() < 0.4:
        pid = d.pick(None, lambda p: c.rel[p] != "世帯主" and d.age(p) >= 18 and len(c.h_members[c.hh[p]]) >= 2)
        if pid is None:
            return 0
        h = c.hh[pid]
        new_h = c.new_household(c.h_town[h], c.h_addr[h])
        e = d.effective([pid], 13)
        _leave_household(c, pid)
        c.hh[pid], c.rel[pid] = new_h, "世帯主"
        c.h_members[new_h].append(pid)
        d.emit(pid, "HOUSEHOLD_CHANGE", e, household_id=c.h_id[new_h], relationship="世帯主")
        return 1
    head = d.pick(None, lambda p: c.rel[p] == "世帯主" and len(c.h_members[c.hh[p]]) >= 2)
    if head is None:
        return 0
    before = len(d.rows)
    _head_change(d, c.hh[head], d.effective([head], 13), head)
    return len(d.rows) - before


def _ev_name_change(d: _Day, _group: str, _max: int) -> int:
    """氏名の変更: a new family name (marriage, divorce); for a foreign resident a new 通称."""
    c = d.c
    rr = c.rr
    pid = d.pick(None, lambda p: 20 <= d.age(p) <= 65)
    if pid is None:
        return 0
    e = d.effective([pid], 13)
    if c.nat[pid] == "JP":
        fam = rr.choice(c.pools.jp_family)
        if fam[0] == c.fam[pid]:
            return 0
        c.fam[pid], c.famk[pid] = fam
        d.emit(pid, "NAME_CHANGE", e, family_name=c.fam[pid], given_name=c.giv[pid],
               family_name_kana=c.famk[pid], given_name_kana=c.givk[pid])
        return 1
    c.alias[pid] = "　".join(_jp_name(c, c.sex[pid])[:2])
    d.emit(pid, "NAME_CHANGE", e, family_name=c.fam[pid], given_name=c.giv[pid],
           family_name_kana=c.famk[pid], given_name_kana=c.givk[pid], alias_name=c.alias[pid])
    return 1


def _ev_status_change(d: _Day, _group: str, _max: int) -> int:
    """在留資格等の変更 (法務省通知): renewals, new statuses, and babies leaving 経過滞在."""
    c = d.c
    rr = c.rr
    pid = d.pick(c.transition, lambda p: c.fcat[p] == "BIRTH_TRANSITION" and d.day - c.birth[p] >= 14, tries=10)
    if pid is None:
        pid = d.pick(c.foreign, lambda p: c.fcat[p] == "MID_LONG" and c.expiry[p] <= d.day + 90, tries=40)
    if pid is None:
        pid = d.pick(c.foreign, lambda p: c.fcat[p] in ("MID_LONG", "PROVISIONAL_STAY", "TEMPORARY_REFUGE",
                                                        "NATIONALITY_LOSS_TRANSITION"))
    if pid is None:
        return 0
    e = d.effective([pid], 7)
    if c.fcat[pid] == "MID_LONG":
        status = c.rstatus[pid]
        if status in NEXT_STATUS and rr.random() < 0.25:
            status = NEXT_STATUS[status]
        fields = _foreign_fields(c, "MID_LONG", status, max(c.expiry[pid], e))
    elif c.fcat[pid] == "BIRTH_TRANSITION":
        head = c.head(c.hh[pid])
        head_status = c.rstatus[head] if head is not None and c.rstatus[head] else "永住者"
        fields = _foreign_fields(c, "MID_LONG", _dependant_status(c, head_status, False), e)
    else:
        fields = _foreign_fields(c, "MID_LONG", rr.choice(("定住者", "特定活動", "日本人の配偶者等")), e)
    c.fcat[pid], c.rstatus[pid], c.card[pid], c.expiry[pid] = (
        fields["fcat"], fields["rstatus"], fields["card"], fields["expiry"])
    d.emit(pid, "STATUS_CHANGE", e, foreign_resident_category=c.fcat[pid],
           residence_status=c.rstatus[pid], residence_card_no=c.card[pid],
           stay_expiry_date=_iso(c.expiry[pid]), stay_period=_stay_period(c.rstatus[pid], c.expiry[pid], e))
    return 1


def _ev_nationality_change(d: _Day, _group: str, _max: int) -> int:
    """帰化 (to JP, clearing the foreign-only columns, often with a new name) or, rarely, 国籍喪失."""
    c = d.c
    rr = c.rr
    if rr.random() < 0.08:
        pid = d.pick(None, lambda p: c.nat[p] == "JP" and d.age(p) >= 20)
        if pid is None:
            return 0
        e = d.effective([pid], 13)
        c.nat[pid] = rr.choice(("US", "KR", "CN", "BR", "PH", "GB", "AU"))
        c.honseki[pid] = c.hittousha[pid] = ""
        c.fcat[pid] = "NATIONALITY_LOSS_TRANSITION"
        c.foreign.append(pid)
        d.emit(pid, "NATIONALITY_CHANGE", e, nationality=c.nat[pid],
               foreign_resident_category=c.fcat[pid])
        return 1
    pid = d.pick(c.foreign, lambda p: c.nat[p] != "JP" and d.age(p) >= 20
                 and (c.fcat[p] == "SPECIAL_PERMANENT" or c.rstatus[p] in ("永住者", "日本人の配偶者等", "定住者")
                      or rr.random() < 0.2))
    if pid is None:
        return 0
    e = d.effective([pid], 13)
    rename = rr.random() < 0.7
    names = _jp_name(c, c.sex[pid]) if rename else (c.fam[pid], c.giv[pid], c.famk[pid], c.givk[pid])
    c.nat[pid] = "JP"
    c.alias[pid] = c.fcat[pid] = c.rstatus[pid] = c.card[pid] = ""
    c.expiry[pid] = 0
    c.honseki[pid] = f"{c.city_name}{town_names()[c.town[pid]]}{rr.randint(1, 3000)}番地" \
        if rr.random() < 0.7 else _honseki(c)
    c.hittousha[pid] = f"{names[0]}　{names[1]}" if rename else f"{names[2]}　{names[3]}"
    d.emit(pid, "NATIONALITY_CHANGE", e, nationality="JP", honseki=c.honseki[pid], hittousha=c.hittousha[pid])
    if rename:
        c.fam[pid], c.giv[pid], c.famk[pid], c.givk[pid] = names
        d.emit(pid, "NAME_CHANGE", e, family_name=names[0], given_name=names[1],
               family_name_kana=names[2], given_name_kana=names[3])
    return 1


def _ev_support(d: _Day, start: bool) -> int:
    """DV等支援措置: start for an adult, or end for someone protected."""
    c = d.c
    if start:
        pid = d.pick(None, lambda p: c.support[p] != "1" and 18 <= d.age(p) <= 65
                     and (c.sex[p] == "2" or c.rr.random() < 0.3))
        value = "1"
    else:
        pid = d.pick(c.supported, lambda p: c.support[p] == "1", tries=20)
        value = "0"
    if pid is None:
        return 0
    c.support[pid] = value
    if start:
        c.supported.append(pid)
    d.emit(pid, "SUPPORT_MEASURE", d.effective([pid], 3), support_measure=value)
    return 1


def _ev_correction(d: _Day, _group: str, _max: int) -> int:
    """職権修正 of one or two record columns."""
    c = d.c
    rr = c.rr
    pid = d.pick()
    if pid is None:
        return 0
    e = d.effective([pid], 5)
    v = rr.random()
    cols: dict[str, str] = {}
    if c.nat[pid] == "JP" and v < 0.35:
        c.honseki[pid] = _honseki(c)
        cols["honseki"] = c.honseki[pid]
        if rr.random() < 0.4:
            c.hittousha[pid] = cols["hittousha"] = f"{c.fam[pid]}　{c.giv[pid]}"
    elif c.nat[pid] == "JP" and v < 0.6:
        fam = rr.choice(c.pools.jp_family)
        c.fam[pid], c.famk[pid] = fam
        cols.update(family_name=fam[0], family_name_kana=fam[1])
    elif c.nat[pid] != "JP" and v < 0.6 and c.card[pid]:
        c.card[pid] = _card_number(rr)
        cols["residence_card_no"] = c.card[pid]
    elif v < 0.95 and c.since[pid] - c.birth[pid] > 30:
        new = c.birth[pid] + rr.choice((-1, 1)) * rr.randint(1, 15)
        if new > c.since[pid] or new > e:
            return 0
        c.birth[pid] = new
        cols["birth_date"] = _iso(new)
    else:
        c.sex[pid] = "2" if c.sex[pid] == "1" else "1"
        cols["sex"] = c.sex[pid]
    d.emit(pid, "CORRECTION_BY_AUTHORITY", e, **cols)
    return 1


def _ev_cancel(d: _Day, _group: str, _max: int) -> int:
    """取消: 転出取消 of a planned move-out not yet in effect, or of a recent 転居."""
    c = d.c
    rr = c.rr
    if rr.random() < 0.75:
        open_moves = [p for p in c.pending if p[0] > d.day and p[6] < d.day and c.state[p[1]] == PENDING
                      and c.last_id[p[1]] == p[2] and p[1] not in d.touched]
        if open_moves:
            target = rr.choice(open_moves)
            group = [p for p in open_moves if p[5] == target[5]]
            for _e, pid, eid, prev_last, prev_id, _g, _day, _type in group:
                c.state[pid] = CURRENT
                c.last[pid], c.last_id[pid] = prev_last, prev_id
                row = d.emit(pid, "CANCEL", max(d.day, prev_last), cancels_event_id=eid)
                c.cancel_log.append((row["event_id"], pid, eid))
            c.pending = [p for p in c.pending if p not in group]
            return len(group)
    recent = [m for m in c.recent_moves if m[2] < d.day and c.last_id[m[1]] == m[0] and d.free(m[1])]
    if not recent:
        return 0
    eid, pid, _day, (town, addr, hh, rel, prev_last, prev_id) = rr.choice(recent)
    if c.hh[pid] != hh:
        _leave_household(c, pid)
        c.h_members[hh].append(pid)
    c.town[pid], c.addr[pid], c.hh[pid], c.rel[pid] = town, addr, hh, rel
    c.last[pid], c.last_id[pid] = prev_last, prev_id
    row = d.emit(pid, "CANCEL", d.day, cancels_event_id=eid)
    c.cancel_log.append((row["event_id"], pid, eid))
    return 1



def _ev_move_out_confirmed(d: _Day, rr: random.Random) -> int:
    """転出確定: the new municipality's 転入通知 says the person moved a few days after the planned date."""
    c = d.c
    # a head's move-out may have made the spouse head on the planned date: a later date would give two heads
    c.move_outs = [p for p in c.move_outs if c.state[p] == REMOVED and c.out_kind[p] == "MOVE_OUT"
                   and d.day - c.out_day[p] <= 30]
    open_ = [p for p in c.move_outs if p not in d.touched and c.rel[p] != "世帯主" and c.out_day[p] < d.day]
    if not open_:
        return 0
    pid = rr.choice(open_)
    actual = min(d.day, c.out_day[pid] + rr.randint(1, 5))
    d.emit(pid, "MOVE_OUT_CONFIRMED", actual, dest_address=rr.choice(c.pools.domestic))
    c.out_day[pid], c.out_kind[pid] = actual, "MOVE_OUT_CONFIRMED"
    return 1


def _ev_resident_code_change(d: _Day, rr: random.Random) -> int:
    """住民票コードの変更請求: a current resident is given a fresh code; their later rows use it."""
    c = d.c
    for _ in range(60):
        pid = rr.randrange(len(c.code))
        if d.free(pid):
            break
    else:
        return 0
    while True:  # a code never handed out, nor waiting in the buffer of fresh codes (both are in used_resident)
        body = rr.randrange(10**10)
        if not np.isin(body, c.codes.used_resident):
            break
    c.codes.used_resident = np.union1d(c.codes.used_resident, np.array([body], dtype=np.int64))
    new = body * 10 + resident_code_check_digit(f"{body:010d}")
    d.emit(pid, "RESIDENT_CODE_CHANGE", d.day, new_resident_code=_rc(new))
    c.code[pid] = new
    return 1


def _start_of_day(c: _City, day: int) -> None:
    """Planned move-outs whose date has come take effect; old 転居 stop being cancellable."""
    still = []
    for entry in c.pending:
        e, pid, eid, *_rest, event_type = entry
        if e <= day:
            if c.state[pid] == PENDING and c.last_id[pid] == eid:
                _remove(c, pid, e, event_type)
        else:
            still.append(entry)
    c.pending = still
    c.recent_moves = [m for m in c.recent_moves if day - m[2] <= 10]


def _day_plan(c: _City, day: datetime.date, scale: float) -> dict[tuple, int]:
    """How many persons (or rows) of each kind of event the day gets (Poisson draws)."""
    season = _move_season(day)
    lam: dict[tuple, float] = {}
    for g in ("JP", "F"):
        lam[("birth", g)] = YEARLY[(g, "births")] * scale / BUSINESS_DAYS_PER_YEAR
        lam[("death", g)] = YEARLY[(g, "deaths")] * scale / BUSINESS_DAYS_PER_YEAR
        for way, kinds in (("in", ("MOVE_IN", "RETURN_FROM_ABROAD", "ENTRY_BY_AUTHORITY")),
                           ("out", ("MOVE_OUT", "MOVE_ABROAD", "REMOVAL_BY_AUTHORITY"))):
            total = YEARLY[(g, way)] * scale * season / MOVE_DAY_EQUIVALENTS
            abroad, authority = ABROAD_SHARE[(g, way)], AUTHORITY_SHARE[(g, way)]
            lam[(kinds[0], g)] = total * (1 - abroad - authority)
            lam[(kinds[1], g)] = total * abroad
            lam[(kinds[2], g)] = max(total * authority, RARE_FLOOR / 2)
    lam[("MOVE_WITHIN", "")] = OTHER_YEARLY["move_within"] * scale * season / MOVE_DAY_EQUIVALENTS
    for key, kind in (("household_change", "HOUSEHOLD_CHANGE"), ("name_change", "NAME_CHANGE"),
                      ("status_change", "STATUS_CHANGE"), ("naturalisation", "NATIONALITY_CHANGE"),
                      ("support_start", "SUPPORT_START"), ("support_end", "SUPPORT_END"),
                      ("correction", "CORRECTION_BY_AUTHORITY"), ("cancel", "CANCEL")):
        lam[(kind, "")] = max(OTHER_YEARLY[key] * scale / BUSINESS_DAYS_PER_YEAR, RARE_FLOOR)
    return {k: int(c.np_rng.poisson(v)) for k, v in lam.items()}


HANDLERS: dict[str, Callable[[_Day, str, int], int]] = {
    "birth": _ev_birth,
    "death": _ev_death,
    "MOVE_IN": lambda d, g, n: _ev_move_in(d, g, "MOVE_IN", n),
    "RETURN_FROM_ABROAD": lambda d, g, n: _ev_move_in(d, g, "RETURN_FROM_ABROAD", n),
    "ENTRY_BY_AUTHORITY": lambda d, g, n: _ev_move_in(d, g, "ENTRY_BY_AUTHORITY", n),
    "MOVE_OUT": lambda d, g, n: _ev_move_out(d, g, "MOVE_OUT", n),
    "MOVE_ABROAD": lambda d, g, n: _ev_move_out(d, g, "MOVE_ABROAD", n),
    "REMOVAL_BY_AUTHORITY": lambda d, g, n: _ev_move_out(d, g, "REMOVAL_BY_AUTHORITY", n),
    "MOVE_WITHIN": _ev_move_within,
    "HOUSEHOLD_CHANGE": _ev_household_change,
    "NAME_CHANGE": _ev_name_change,
    "STATUS_CHANGE": _ev_status_change,
    "NATIONALITY_CHANGE": _ev_nationality_change,
    "SUPPORT_START": lambda d, g, n: _ev_support(d, True),
    "SUPPORT_END": lambda d, g, n: _ev_support(d, False),
    "CORRECTION_BY_AUTHORITY": _ev_correction,
    "CANCEL": _ev_cancel,
}


def _simulate_day(c: _City, day: datetime.date, scale: float) -> _Day:
    """The valid rows of one business day, applied to the model in file order."""
    d = _Day(c, day.toordinal(), day.strftime("%Y%m%d"))
    _start_of_day(c, d.day)
    plan = _day_plan(c, day, scale)
    tokens = [key for key, n in plan.items() for _ in range(n)]
    c.rr.shuffle(tokens)
    remaining = dict(plan)
    skip = dict.fromkeys(plan, 0)
    for key in tokens:
        remaining[key] -= 1
        if skip[key]:
            skip[key] -= 1
            continue
        used = HANDLERS[key[0]](d, key[1], remaining[key] + 1)
        # A household moving together uses up the tokens of its other members.
        skip[key] += max(used - 1, 0)
    # 転出確定 come last, from their own random stream, so the rest of the city keeps its draws
    rr = random.Random(f"{c.rr_seed}-{d.day}-move-out-confirmed")
    rate = max(OTHER_YEARLY["move_out_confirmed"] * scale / BUSINESS_DAYS_PER_YEAR, RARE_FLOOR)
    for _ in range(int(rate) + (rr.random() < rate - int(rate))):
        _ev_move_out_confirmed(d, rr)
    # 住民票コードの変更 likewise, from a stream of its own
    rr = random.Random(f"{c.rr_seed}-{d.day}-resident-code-change")
    if rr.random() < OTHER_YEARLY["resident_code_change"] * scale / BUSINESS_DAYS_PER_YEAR:
        _ev_resident_code_change(d, rr)
    return d
