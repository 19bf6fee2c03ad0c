"""One person: name, address, 本籍, 在留資格 and the full-record columns the model holds."""

from __future__ import annotations

import bisect
import random

from schemas.change_file import town_names
from synthetic.calibration import NO_FAMILY_STATUSES, STATUS_WEIGHTS
from synthetic.codes import _card_number, _mn
from synthetic.model import CURRENT, _City, _iso, _weighted
from synthetic.names import COUNTRY_JA, JAPANESE_ABROAD, NAME_TRADITIONS, ORIGINS, TRADITION_OF, VN_MIDDLE


# 在留期間 a status may be granted (入管法施行規則 別表第二), longest first; 永住者 has none (無期限)
STAY_PERIODS = {
    "留学": ("4年3月", "4年", "3年3月", "3年", "2年3月", "2年", "1年3月", "1年", "6月", "3月"),
    "家族滞在": ("5年", "4年3月", "4年", "3年3月", "3年", "2年3月", "2年", "1年3月", "1年", "6月", "3月"),
}
TRAINEE_PERIODS = ("2年", "1年", "6月")  # 技能実習: 1号 up to 1年, 2号 and 3号 up to 2年
OTHER_PERIODS = ("5年", "3年", "1年", "6月", "3月")
# 旧氏 is recorded only on request (since 2019): a small share of married Japanese residents (a guess; few
# ask for it). Drawn from a stream of its own per person, so the rest of the city keeps its draws.
FORMER_SURNAME_SHARE = 0.02
FORMER_SURNAME_RELATIONSHIPS = ("妻", "夫")


def _period_days(period: str) -> int:
    years = int(period.split("年")[0]) if "年" in period else 0
    months = int(period.split("年")[-1].split("月")[0]) if "月" in period else 0
    return years * 365 + months * 30


def _stay_period(status: str, expiry: int, granted: int) -> str:
    """在留期間 of a 中長期在留者: the shortest period the status allows that reaches the expiry from the day it
    was granted (the longest when none does); none for 永住者."""
    if not status or status == "永住者" or not expiry:
        return ""
    periods = STAY_PERIODS.get(status) or (TRAINEE_PERIODS if status.startswith("技能実習") else OTHER_PERIODS)
    return next((p for p in reversed(periods) if _period_days(p) >= expiry - granted), periods[0])


def _former_surname(c: _City, pid: int) -> str:
    """旧氏 of a married Japanese resident who asked for it: a family name other than theirs."""
    if c.nat[pid] != "JP" or c.rel[pid] not in FORMER_SURNAME_RELATIONSHIPS:
        return ""
    rr = random.Random(f"{c.rr_seed}-{c.code[pid]}-former-surname")
    if rr.random() >= FORMER_SURNAME_SHARE:
        return ""
    return next((f for f, _kana in rr.sample(c.pools.jp_family, min(5, len(c.pools.jp_family)))
                 if f != c.fam[pid]), "")


def _pick_town(c: _City, foreign: bool) -> str:
    """A town drawn with its population weight."""
    cum = c.foreign_town_cum if foreign else c.town_cum
    return c.towns[bisect.bisect_right(cum, c.rr.random() * cum[-1])]


def _address_line(c: _City, town: str, foreign: bool) -> str:
    """番地・方書: `12-3`, `1234-5` (大字), optionally with a building and room."""
    rr = c.rr
    if town_names()[town].startswith("大字"):
        line = f"{rr.randint(1, 3500)}" + (f"-{rr.randint(1, 30)}" if rr.random() < 0.6 else "")
    else:
        line = f"{rr.randint(1, 30)}-{rr.randint(1, 25)}"
    if rr.random() < (0.6 if foreign else 0.35):
        line += f" {rr.choice(c.pools.buildings)}{rr.randint(1, 12)}{rr.randint(1, 12):02d}"
    return line


def _jp_name(c: _City, sex: str, family: tuple[str, str] | None = None) -> tuple[str, str, str, str]:
    """(family, given, family kana, given kana) in kanji and katakana."""
    rr = c.rr
    f = family or rr.choice(c.pools.jp_family)
    g = rr.choice(c.pools.jp_male if sex == "1" else c.pools.jp_female)
    return f[0], g[0], f[1], g[1]


def _foreign_name(c: _City, nat: str, sex: str, family: tuple[str, str] | None = None) -> tuple[str, str, str, str]:
    """(family, given, family kana, given kana) in capital Latin letters and katakana."""
    rr = c.rr
    fams, males, females = NAME_TRADITIONS[TRADITION_OF.get(nat, "WE")]
    f = family or rr.choice(fams)
    if TRADITION_OF.get(nat) == "CN":
        parts = [rr.choice(males)] if rr.random() < 0.35 else [rr.choice(males), rr.choice(males)]
        g = ("".join(p[0] for p in parts), "".join(p[1] for p in parts))
    elif nat == "VN":
        m = rr.choice(VN_MIDDLE[0 if sex == "1" else 1])
        n = rr.choice(males if sex == "1" else females)
        g = (f"{m[0]} {n[0]}", f"{m[1]}　{n[1]}")
    else:
        g = rr.choice(males if sex == "1" else females)
    return f[0], g[0], f[1], g[1]


def _name(c: _City, nat: str, sex: str, family: tuple[str, str] | None = None) -> tuple[str, str, str, str]:
    """A name fitting the nationality."""
    return _jp_name(c, sex, family) if nat == "JP" else _foreign_name(c, nat, sex, family)


def _honseki(c: _City) -> str:
    """本籍: often in the city itself, else an address elsewhere in Japan."""
    rr = c.rr
    if rr.random() < 0.4:
        return f"{c.city_name}{town_names()[rr.choice(c.towns)]}{rr.randint(1, 3000)}番地"
    pref, city, _w = rr.choice(ORIGINS)
    return f"{pref}{city}{rr.choice(c.pools.outside_towns)}{rr.randint(1, 3000)}番地"


def _abroad(c: _City, nat: str) -> str:
    """A country as written in 前住所 / 転出先 for a move from or to abroad."""
    if nat == "JP" or nat not in COUNTRY_JA or c.rr.random() < 0.05:
        return COUNTRY_JA[c.rr.choice(JAPANESE_ABROAD)]
    return COUNTRY_JA[nat]


def _head_status(c: _City, nat: str, age: float, family: bool) -> str:
    """在留資格 of a foreign household head or single resident."""
    weights = dict(STATUS_WEIGHTS.get(nat, STATUS_WEIGHTS[""]))
    if family:
        weights = {k: v for k, v in weights.items() if k not in NO_FAMILY_STATUSES}
    elif age < 30:
        for k in ("留学", "技能実習1号ロ", "技能実習2号ロ", "特定技能1号"):
            if k in weights:
                weights[k] *= 2.5
    if age < 18:
        return "家族滞在"
    return _weighted(c.rr, weights)


def _dependant_status(c: _City, head_status: str, spouse_of_japanese: bool) -> str:
    """在留資格 of a spouse or child, following the head's."""
    rr = c.rr
    if spouse_of_japanese:
        return "日本人の配偶者等" if rr.random() < 0.6 else "永住者"
    if head_status == "永住者":
        return "永住者" if rr.random() < 0.55 else "永住者の配偶者等"
    if head_status in ("定住者", "日本人の配偶者等"):
        return "定住者"
    if head_status == "特定活動":
        return "特定活動"
    return "家族滞在"


def _expiry(c: _City, status: str, from_day: int) -> int:
    """在留期間の満了日 (for 永住者 the card's validity, which the agreement requires too)."""
    rr = c.rr
    if status == "永住者":
        return from_day + rr.randint(30, 7 * 365)
    if status.startswith("技能実習1号"):
        return from_day + rr.randint(30, 365)
    return from_day + rr.randint(30, 3 * 365)


def _foreign_fields(c: _City, category: str, status: str, from_day: int) -> dict:
    """The category and exactly what it carries (CATEGORY_CARRIES)."""
    rr = c.rr
    d = {"fcat": category, "rstatus": "", "card": "", "expiry": 0}
    if category == "MID_LONG":
        d.update(rstatus=status, card=_card_number(rr), expiry=_expiry(c, status, from_day))
    elif category == "SPECIAL_PERMANENT":
        d.update(card=_card_number(rr))
    elif category in ("TEMPORARY_REFUGE", "PROVISIONAL_STAY"):
        d.update(expiry=from_day + rr.randint(30, 180))
    return d


def _person(c: _City, *, hh: int, rel: str, nat: str, sex: str, birth: int, since: int,
            names: tuple[str, str, str, str], honseki: str = "", hittousha: str = "",
            foreign: dict | None = None, alias: str = "", prev: str = "", support: str = "",
            last: int | None = None, last_id: str = "") -> dict:
    """A new person's fields for the model (codes drawn now)."""
    code, mynum = c.codes.take()
    f = foreign or {"fcat": "", "rstatus": "", "card": "", "expiry": 0}
    return {
        "code": code, "mynum": mynum, "hh": hh, "rel": rel, "fam": names[0], "giv": names[1],
        "famk": names[2], "givk": names[3], "alias": alias, "birth": birth, "sex": sex, "nat": nat,
        "town": c.h_town[hh], "addr": c.h_addr[hh], "honseki": honseki, "hittousha": hittousha,
        "fcat": f["fcat"], "rstatus": f["rstatus"], "card": f["card"], "expiry": f["expiry"],
        "support": support, "prev": prev, "since": since, "last": since if last is None else last,
        "last_id": last_id, "state": CURRENT, "out_day": 0, "out_kind": "", "addr_since": "",
    }


def _birth_from_age(c: _City, age: float) -> int:
    """A birth date ordinal for an age (years, fractional) on the baseline date."""
    return min(c.baseline_day - 1, c.baseline_day - int(min(age, 109.5) * 365.2425) - c.rr.randrange(0, 30))


def _record(c: _City, pid: int) -> dict:
    """The full-record columns of a person as the model holds them."""
    exp = c.expiry[pid]
    return {
        "my_number": _mn(c.mynum[pid]), "household_id": c.h_id[c.hh[pid]], "relationship": c.rel[pid],
        "family_name": c.fam[pid], "given_name": c.giv[pid], "family_name_kana": c.famk[pid],
        "given_name_kana": c.givk[pid], "alias_name": c.alias[pid], "birth_date": _iso(c.birth[pid]),
        "sex": c.sex[pid], "nationality": c.nat[pid], "town_code": c.town[pid],
        "address_line": c.addr[pid], "honseki": c.honseki[pid], "hittousha": c.hittousha[pid],
        "residence_status": c.rstatus[pid], "residence_card_no": c.card[pid],
        "stay_expiry_date": _iso(exp) if exp else "", "foreign_resident_category": c.fcat[pid],
        "support_measure": c.support[pid] if c.support[pid] == "1" else "",
        "former_surname": _former_surname(c, pid),
        "stay_period": _stay_period(c.rstatus[pid], exp, c.last[pid]) if c.fcat[pid] == "MID_LONG" else "",
    }
