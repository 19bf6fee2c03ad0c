"""The baseline city: households of Japanese, foreign and mixed residents, and their BASELINE rows."""

from __future__ import annotations

import random
from collections import Counter

from synthetic.calibration import (
    CALIBRATION_POPULATION,
    FIRST_FOREIGN_RESIDENT_DAY,
    FOREIGN_SHARE,
    MIXED_HOUSEHOLDS,
    NATIONALITY_WEIGHTS,
    SPOUSE_OF_JAPANESE_WEIGHTS,
)
from synthetic.codes import _rc
from synthetic.model import _City, _iso, _ordinal_or, _weighted
from synthetic.names import ALIAS_FAMILIES, TRADITION_OF
from synthetic.people import (
    _abroad,
    _address_line,
    _birth_from_age,
    _dependant_status,
    _foreign_fields,
    _foreign_name,
    _head_status,
    _honseki,
    _jp_name,
    _person,
    _pick_town,
    _record,
)


def _members_japanese(rr: random.Random) -> list[tuple[str, float, str]]:
    """(relationship, age, sex) of a Japanese household, from 川口市-like household kinds."""
    u = rr.random()
    male_head = rr.random() < 0.85
    hs, ss = ("1", "2") if male_head else ("2", "1")
    spouse = "妻" if male_head else "夫"
    if rr.random() < 0.02:
        spouse += "(未届)"
    if u < 0.47:  # one person
        v = rr.random()
        if v < 0.32:
            return [("世帯主", rr.uniform(18, 35), "1" if rr.random() < 0.55 else "2")]
        if v < 0.62:
            return [("世帯主", rr.triangular(35, 72, 56), "1" if rr.random() < 0.6 else "2")]
        return [("世帯主", rr.triangular(65, 107, 77), "1" if rr.random() < 0.35 else "2")]
    if u < 0.665:  # couple
        v = rr.random()
        age = (rr.uniform(24, 40) if v < 0.12 else rr.triangular(40, 70, 60) if v < 0.44
               else rr.triangular(62, 95, 76))
        return [("世帯主", age, hs), (spouse, max(18.0, age - rr.gauss(2.5, 3)), ss)]
    if u < 0.875:  # couple and children
        age = rr.triangular(28, 62, 50) if rr.random() < 0.75 else rr.triangular(60, 88, 75)
        out = [("世帯主", age, hs), (spouse, max(20.0, age - rr.gauss(2.5, 3)), ss)]
        out += _children(rr, age, rr.choices((1, 2, 3), (40, 45, 15))[0])
        return out
    if u < 0.945:  # one parent and children
        age = rr.uniform(30, 85)
        out = [("世帯主", age, "2" if rr.random() < 0.7 else "1")]
        return out + _children(rr, age, rr.choices((1, 2), (60, 40))[0])
    if u < 0.978:  # three generations
        if rr.random() < 0.5:
            age = rr.uniform(38, 60)
            out = [("世帯主", age, hs), (spouse, max(20.0, age - rr.gauss(2.5, 3)), ss)]
            out += _children(rr, age, rr.choices((1, 2), (50, 50))[0])
            p = min(104.0, age + rr.uniform(25, 35))
            out.append(("母", p, "2"))
            if rr.random() < 0.35:
                out.append(("父", min(104.0, p + rr.uniform(0, 5)), "1"))
            return out
        age = rr.uniform(62, 88)
        out = [("世帯主", age, hs)]
        if rr.random() < 0.7:
            out.append((spouse, max(40.0, age - rr.gauss(2.5, 3)), ss))
        child = age - rr.uniform(26, 36)
        son = rr.random() < 0.75
        out.append(("子", child, "1" if son else "2"))
        out.append(("子の妻" if son else "子の夫", max(20.0, child - rr.gauss(2, 3)), "2" if son else "1"))
        for _ in range(rr.choices((0, 1, 2), (15, 45, 40))[0]):
            out.append(("子の子", max(0.0, child - rr.uniform(25, 36)), rr.choice("12")))
        return out
    age = rr.uniform(20, 80)  # other: siblings, 縁故者, 同居人
    out = [("世帯主", age, hs)]
    for _ in range(rr.choice((1, 1, 2))):
        v = rr.random()
        if v < 0.4:
            other = max(18.0, age + rr.uniform(-8, 8))
            sex = rr.choice("12")
            older = other > age
            out.append(({("1", True): "兄", ("2", True): "姉", ("1", False): "弟", ("2", False): "妹"}[sex, older],
                        other, sex))
        elif v < 0.8:
            out.append(("同居人", max(18.0, age + rr.uniform(-10, 10)), rr.choice("12")))
        else:
            out.append(("縁故者", rr.uniform(5, 90), rr.choice("12")))
    return out


def _children(rr: random.Random, parent_age: float, n: int) -> list[tuple[str, float, str]]:
    """Children of a parent of the given age (ages 0 to the parent's age minus 24)."""
    out = []
    first = parent_age - rr.uniform(25, 38)
    for i in range(n):
        age = first - i * rr.uniform(1.5, 4)
        if age < 0:
            age = rr.uniform(0, max(0.1, parent_age - 24))
        out.append(("子", age, rr.choice("12")))
    return out


def _members_foreign(rr: random.Random) -> list[tuple[str, float, str]]:
    """(relationship, age, sex) of a foreign-only household: younger, more single."""
    u = rr.random()
    hs, ss, spouse = ("1", "2", "妻") if rr.random() < 0.8 else ("2", "1", "夫")
    if u < 0.49:
        v = rr.random()
        age = rr.uniform(19, 35) if v < 0.75 else rr.uniform(35, 60) if v < 0.95 else rr.uniform(60, 88)
        return [("世帯主", age, "1" if rr.random() < 0.55 else "2")]
    if u < 0.65:
        age = rr.uniform(24, 62)
        return [("世帯主", age, hs), (spouse, max(19.0, age - rr.gauss(2.5, 3)), ss)]
    if u < 0.94:
        age = rr.uniform(27, 52)
        out = [("世帯主", age, hs), (spouse, max(20.0, age - rr.gauss(2.5, 3)), ss)]
        return out + _children(rr, age, rr.choices((1, 2, 3), (45, 42, 13))[0])
    if u < 0.97:
        age = rr.uniform(28, 55)
        return [("世帯主", age, "2")] + _children(rr, age, rr.choice((1, 2)))
    age = rr.uniform(20, 35)  # trainees or students sharing a flat
    return [("世帯主", age, rr.choice("12"))] + [("同居人", rr.uniform(19, 35), rr.choice("12"))
                                               for _ in range(rr.randint(1, 3))]


def _members_mixed(rr: random.Random) -> list[tuple[str, float, str, bool]]:
    """(relationship, age, sex, foreign) of a household of Japanese and foreign residents."""
    japanese_head = rr.random() < 0.7
    male_head = rr.random() < (0.75 if japanese_head else 0.6)
    hs, ss, spouse = ("1", "2", "妻") if male_head else ("2", "1", "夫")
    age = rr.uniform(26, 68)
    out = [("世帯主", age, hs, not japanese_head),
           (spouse, max(20.0, age - rr.uniform(-3, 12)), ss, japanese_head)]
    out += [(r, a, s, False) for r, a, s in _children(rr, age, rr.choices((0, 1, 2), (35, 40, 25))[0])]
    if japanese_head and rr.random() < 0.1:
        out.append((spouse + "の母", min(100.0, age + rr.uniform(20, 30)), "2", True))
    return out


def _settle_dates(c: _City, birth: int, moved_here: int, foreign: bool) -> tuple[int, str, bool]:
    """(since, address_since or '', moved in from outside) for a baseline member."""
    rr = c.rr
    if birth >= moved_here:
        return birth, "", False
    if rr.random() < 0.3:  # moved within the city at moved_here, resident since earlier
        since = moved_here - int(rr.expovariate(1 / (5 * 365)))
    else:
        since = moved_here
    if rr.random() < (0.05 if foreign else 0.2) or since <= birth:
        since = birth  # born in the city
    if foreign and since < FIRST_FOREIGN_RESIDENT_DAY:
        since = min(max(birth, FIRST_FOREIGN_RESIDENT_DAY), moved_here)
    return since, (_iso(moved_here) if moved_here > since else ""), since > birth


def _build_baseline(c: _City, residents: int) -> None:
    """Create the city's households and persons (households in random order of kind)."""
    rr = c.rr
    scale = residents / CALIBRATION_POPULATION
    n_mixed = round(MIXED_HOUSEHOLDS * scale)
    n_foreign = round(FOREIGN_SHARE * residents)
    plans: list[tuple[str, str, list]] = []
    foreign_count = total = 0
    by_nationality: Counter[str] = Counter()
    for _ in range(n_mixed):
        m = _members_mixed(rr)
        nat = _weighted(rr, SPOUSE_OF_JAPANESE_WEIGHTS)
        plans.append(("mixed", nat, m))
        by_nationality[nat] += sum(1 for x in m if x[3])
        total += len(m)
    foreign_count = sum(by_nationality.values())
    # Foreign-only households make up what the mixed ones leave of each nationality's share.
    weight_total = sum(NATIONALITY_WEIGHTS.values())
    rest = {n: max(w / weight_total * n_foreign - by_nationality[n], 0.02 * w / weight_total * n_foreign)
            for n, w in NATIONALITY_WEIGHTS.items()}
    while foreign_count < n_foreign:
        m = [(r, a, s, True) for r, a, s in _members_foreign(rr)]
        plans.append(("foreign", _weighted(rr, rest), m))
        foreign_count += len(m)
        total += len(m)
    while total < residents:
        m = [(r, a, s, False) for r, a, s in _members_japanese(rr)]
        if total + len(m) > residents:
            m = m[: residents - total]
        plans.append(("japanese", "JP", m))
        total += len(m)
    rr.shuffle(plans)
    towns_first = list(c.towns)
    rr.shuffle(towns_first)
    i = -1
    while plans:  # popping frees each plan once its persons exist (memory at full size)
        kind, nat, members = plans.pop()
        i += 1
        foreign_household = kind == "foreign"
        town = towns_first[i] if i < len(towns_first) else _pick_town(c, foreign_household)
        h = c.new_household(town, _address_line(c, town, foreign_household))
        _populate(c, h, kind, nat, members)


def _populate(c: _City, h: int, kind: str, nat_household: str, members: list) -> None:
    """Persons of one baseline household: names, dates, nationality, 在留資格, 本籍."""
    rr = c.rr
    head_age = members[0][1]
    years_here = min(max(head_age - 18, 0.1), rr.expovariate(1 / 9))
    moved_here = c.baseline_day - max(1, int(years_here * 365.2425))
    family_jp = rr.choice(c.pools.jp_family)
    family_f = None
    if kind != "japanese":
        family_f = _foreign_name(c, nat_household, "1")
        family_f = (family_f[0], family_f[2])
    special = nat_household == "XC" and rr.random() < 0.95 or (
        nat_household == "KR" and head_age > 35 and rr.random() < 0.45) or (
        nat_household in ("CN", "TW") and rr.random() < 0.003)
    provisional = nat_household == "TR" and rr.random() < 0.06
    honseki = _honseki(c)
    head_status = ""
    head_name = ""
    is_family = len(members) > 1 and members[1][0] != "同居人"
    for idx, (rel, age, sex, foreign) in enumerate(members):
        nat = nat_household if foreign else "JP"
        if foreign and kind == "foreign" and idx > 0 and rr.random() < 0.05 and rel in ("妻", "夫"):
            nat = _weighted(rr, NATIONALITY_WEIGHTS)
        birth = _birth_from_age(c, age)
        since, address_since, moved_in = _settle_dates(c, birth, moved_here, foreign)
        if nat == "JP":
            shared = rel not in ("同居人", "縁故者") and not (kind == "mixed" and rel.endswith("の母"))
            names = _jp_name(c, sex, family_jp if shared else None)
        else:
            # Spouses keep their own family name (and in CN/KR/VN traditions everyone but children).
            keeps_own = (rel in ("妻", "夫", "同居人") or kind == "mixed"
                         or (TRADITION_OF.get(nat) in ("CN", "KR", "VN") and rel != "子"))
            names = _foreign_name(c, nat, sex, None if keeps_own and idx > 0 else family_f)
        fields: dict = {}
        alias = ""
        if nat != "JP":
            if c.baseline_day - birth < 60:
                fields = _foreign_fields(c, "BIRTH_TRANSITION", "", c.baseline_day)
            elif special and nat in ("KR", "XC", "CN", "TW"):
                fields = _foreign_fields(c, "SPECIAL_PERMANENT", "", c.baseline_day)
                if rr.random() < 0.6:
                    alias = f"{rr.choice(ALIAS_FAMILIES)}　{_jp_name(c, sex)[1]}"
            elif provisional:
                fields = _foreign_fields(c, "PROVISIONAL_STAY", "", c.baseline_day)
            elif rr.random() < 0.0005:
                fields = _foreign_fields(c, "TEMPORARY_REFUGE", "", c.baseline_day)
            else:
                if idx == 0:
                    status = head_status = _head_status(c, nat, age, is_family)
                elif rel == "同居人" or not head_status:
                    status = _head_status(c, nat, age, False)
                else:
                    status = _dependant_status(c, head_status, kind == "mixed" and rel in ("妻", "夫"))
                if kind == "mixed" and rel.endswith("の母"):
                    status = "特定活動"
                fields = _foreign_fields(c, "MID_LONG", status, c.baseline_day)
            if not alias and rr.random() < 0.03:
                alias = "　".join(_jp_name(c, sex)[:2])
        person_honseki = hitt = ""
        if nat == "JP":
            person_honseki = honseki if names[0] == family_jp[0] or kind == "mixed" else _honseki(c)
            own = f"{names[0]}　{names[1]}"
            if rel in ("同居人", "縁故者") or (names[0] != family_jp[0] and kind != "mixed"):
                hitt = own
            else:
                hitt = head_name = head_name or own
            if rr.random() < 0.01:
                person_honseki = hitt = ""
        prev = ""
        if moved_in and rr.random() < 0.85:
            prev = _abroad(c, nat) if nat != "JP" and rr.random() < 0.6 else rr.choice(c.pools.domestic)
        support = "1" if rr.random() < 0.0015 and age >= 18 else ""
        last = max(since, _ordinal_or(address_since, since))
        p = _person(c, hh=h, rel=rel, nat=nat, sex=sex, birth=birth, since=since, names=names,
                    honseki=person_honseki, hittousha=hitt, foreign=fields or None, alias=alias,
                    prev=prev, support=support, last=last)
        p["addr_since"] = address_since
        c.add_person(p)


def _baseline_row(c: _City, pid: int, event_id: str) -> dict:
    """The BASELINE row of a person: the full record, since when, and from where."""
    row = _record(c, pid)
    row.update(event_id=event_id, event_type="BASELINE", effective_date=_iso(c.since[pid]),
               notified_date=_iso(min(c.last[pid] + c.rr.randint(0, 13), c.baseline_day)),
               resident_code=_rc(c.code[pid]), address_since=c.addr_since[pid], prev_address=c.prev[pid])
    return row
