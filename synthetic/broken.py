"""Deliberately broken rows: each breaks exactly one rule of the agreement (listed in `truth/`)."""

from __future__ import annotations

import datetime
from typing import Callable

from synthetic.calibration import BROKEN_SHARE, NATIONALITY_WEIGHTS
from synthetic.codes import _household_number, _mn, _rc
from synthetic.events import _Day, _pick_removed
from synthetic.households import _baseline_row
from synthetic.model import _City, _iso, _weighted
from synthetic.people import (
    _abroad,
    _address_line,
    _foreign_fields,
    _head_status,
    _honseki,
    _jp_name,
    _name,
    _pick_town,
    _record,
)


def _hiragana(kana: str) -> str:
    """Katakana (ァ to ン, whose hiragana CP932 can write) turned into hiragana, which the agreement refuses."""
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ン" else c for c in kana)


def _too_long(c: _City, text: str, limit: int) -> str:
    """A text just over a length limit, made of plausible address words."""
    while len(text) <= limit:
        text += f" {c.rr.choice(c.pools.buildings)}"
    return text[: limit + c.rr.randint(1, 10)]


def _bad_date(c: _City, year: int) -> str:
    """A date-shaped text that is no real date."""
    return c.rr.choice((f"{year}-02-30", f"{year}-04-31", f"{year}-13-01", f"{year - 1}-02-29"
                        if (year - 1) % 4 else f"{year}-11-31"))


# Mutations of a full-record row (BASELINE, or a made-up MOVE_IN / BIRTH): rule -> (which
# records it needs, how to break it). Each breaks exactly one rule of the agreement.
def _m_code_check(c, r, day):
    rc = r["resident_code"]
    r["resident_code"] = rc[:10] + str((int(rc[10]) + c.rr.randint(1, 9)) % 10)


def _m_code_format(c, r, day):
    r["resident_code"] = r["resident_code"][: c.rr.choice((9, 10))]


def _m_my_number_check(c, r, day):
    mn = r["my_number"]
    r["my_number"] = mn[:11] + str((int(mn[11]) + c.rr.randint(1, 9)) % 10)


def _m_my_number_format(c, r, day):
    r["my_number"] = r["my_number"][:11]


def _m_relationship(c, r, day):
    r["relationship"] = c.rr.choice(("孫", "孫", "祖母", "準世帯主", "甥"))


def _m_town(c, r, day):
    r["town_code"] = f"{c.rr.randint(300, 9999):04d}"


def _m_kana(c, r, day):
    bad = _hiragana(r["family_name_kana"])
    if bad == r["family_name_kana"]:
        return False
    r["family_name_kana"] = bad


def _m_notified_late(c, r, day):
    r["notified_date"] = _iso(day + c.rr.randint(1, 5))


def _m_birth_after(c, r, day):
    eff = datetime.date.fromisoformat(r["effective_date"]).toordinal()
    r["birth_date"] = _iso(eff + c.rr.randint(1, 300))


def _m_required(c, r, day):
    r[c.rr.choice(("given_name_kana", "sex", "town_code", "my_number", "birth_date"))] = ""


def _m_foreign_on_japanese(c, r, day):
    r["alias_name"] = "　".join(_jp_name(c, r["sex"])[:2])


def _m_japanese_on_foreigner(c, r, day):
    r["honseki"] = _honseki(c)


def _m_category_fields(c, r, day):
    r["foreign_resident_category"] = "SPECIAL_PERMANENT"  # keeps MID_LONG's status and expiry


def _m_private_use(c, r, day):
    r["given_name"] = r["given_name"][:1] + "\ue000"


def _m_too_long(c, r, day):
    r["address_line"] = _too_long(c, r["address_line"], 80)


def _m_sex(c, r, day):
    r["sex"] = c.rr.choice(("M", "F", "0", "9"))


def _m_nationality(c, r, day):
    r["nationality"] = c.rr.choice(("UK", "CHN", "EU", "ZZ"))


def _m_not_registrable(c, r, day):
    r["residence_status"] = c.rr.choice(("短期滞在", "短期滞在", "外交", "公用"))


def _m_status_unknown(c, r, day):
    r["residence_status"] = c.rr.choice(("就労", "技能実習", "観光", "永住"))


def _m_card(c, r, day):
    card = r["residence_card_no"]
    r["residence_card_no"] = c.rr.choice((card.lower(), card[:11], card[:2] + "-" + card[2:]))


def _m_household_id(c, r, day):
    r["household_id"] = c.rr.choice((f"H_{r['household_id']}", r["household_id"] + "#", "0" * 21))


def _m_event_id(c, r, day):
    r["event_id"] = r["event_id"].replace("-", c.rr.choice(("/", ".", ":")))


def _m_age(c, r, day):
    eff = datetime.date.fromisoformat(r["effective_date"]).toordinal()
    r["birth_date"] = _iso(eff - int(c.rr.uniform(126, 140) * 365.2425))


def _m_support(c, r, day):
    r["support_measure"] = c.rr.choice(("2", "Y", "9"))


def _m_address_since(c, r, day):
    r["address_since"] = _bad_date(c, datetime.date.fromordinal(day).year - c.rr.randint(1, 20))


RECORD_BREAKERS: dict[str, tuple[str, Callable]] = {
    "RESIDENT_CODE_CHECK_DIGIT": ("any", _m_code_check),
    "RESIDENT_CODE_FORMAT": ("any", _m_code_format),
    "MY_NUMBER_CHECK_DIGIT": ("any", _m_my_number_check),
    "MY_NUMBER_FORMAT": ("any", _m_my_number_format),
    "RELATIONSHIP_INVALID": ("any", _m_relationship),
    "TOWN_CODE_UNKNOWN": ("any", _m_town),
    "KANA_FORMAT": ("jp", _m_kana),
    "NOTIFIED_AFTER_BUSINESS_DATE": ("any", _m_notified_late),
    "BIRTH_AFTER_EFFECTIVE": ("adult", _m_birth_after),
    "REQUIRED_FIELD_MISSING": ("any", _m_required),
    "FOREIGN_FIELDS_ON_JAPANESE": ("jp", _m_foreign_on_japanese),
    "JAPANESE_FIELDS_ON_FOREIGNER": ("foreign", _m_japanese_on_foreigner),
    "FOREIGN_CATEGORY_FIELDS": ("mid_long", _m_category_fields),
    "PRIVATE_USE_CHARACTER": ("any", _m_private_use),
    "TEXT_TOO_LONG": ("any", _m_too_long),
    "SEX_CODE_INVALID": ("any", _m_sex),
    "NATIONALITY_CODE_INVALID": ("foreign", _m_nationality),
    "RESIDENCE_STATUS_NOT_REGISTRABLE": ("mid_long", _m_not_registrable),
    "RESIDENCE_STATUS_UNKNOWN": ("mid_long", _m_status_unknown),
    "RESIDENCE_CARD_NO_FORMAT": ("mid_long", _m_card),
    "HOUSEHOLD_ID_FORMAT": ("any", _m_household_id),
    "EVENT_ID_FORMAT": ("any", _m_event_id),
    "AGE_OVER_LIMIT": ("adult", _m_age),
    "SUPPORT_MEASURE_INVALID": ("any", _m_support),
}
def _m_birth_not_effective(c, r, day):
    eff = datetime.date.fromisoformat(r["effective_date"]).toordinal()
    r["birth_date"] = _iso(eff - c.rr.randint(1, 10))


BASELINE_ONLY_BREAKERS = {"DATE_INVALID": ("any", _m_address_since)}
BIRTH_ONLY_BREAKERS = {"BIRTH_DATE_NOT_EFFECTIVE_DATE": ("any", _m_birth_not_effective)}


def _fits(need: str, row: dict) -> bool:
    """Whether a full-record row can carry a breaker's mutation."""
    if need == "jp":
        return row["nationality"] == "JP"
    if need == "foreign":
        return row["nationality"] != "JP"
    if need == "mid_long":
        return row["foreign_resident_category"] == "MID_LONG"
    if need == "adult":
        return row["birth_date"] < row["effective_date"]
    return True


def _break_baseline(c: _City, n_rows: int, tag: str) -> list[tuple[dict, str]]:
    """Made-up extra BASELINE rows (copies of real ones with new codes), each breaking one rule."""
    rr = c.rr
    n = int(c.np_rng.poisson(BROKEN_SHARE * n_rows))
    breakers = dict(RECORD_BREAKERS, **BASELINE_ONLY_BREAKERS, DUPLICATE_EVENT_ID=("any", None))
    rules = list(breakers)
    out = []
    seq = n_rows
    while len(out) < n and n_rows:
        rule = rr.choice(rules)
        need, mutate = breakers[rule]
        seq += 1
        for _ in range(100):
            r = _baseline_row(c, rr.randrange(len(c.code)), f"E{tag}-{seq:06d}")
            if _fits(need, r):
                break
        else:
            continue
        code, mynum = c.codes.take()
        r.update(resident_code=_rc(code), my_number=_mn(mynum),
                 relationship="同居人" if r["relationship"] == "世帯主" else r["relationship"])
        if mutate is not None and mutate(c, r, c.baseline_day) is False:
            continue
        out.append((r, rule))
    return out


def _fabricated(d: _Day, event_type: str, foreign: bool) -> dict:
    """A full-record adding row for a made-up person the model never applies."""
    c = d.c
    rr = c.rr
    nat = _weighted(rr, NATIONALITY_WEIGHTS) if foreign else "JP"
    sex = rr.choice("12")
    e = max(d.day - rr.randint(0, 13), c.baseline_day + 1)
    birth = e if event_type == "BIRTH" else e - int(rr.uniform(18, 60) * 365.2425)
    town = _pick_town(c, foreign)
    c.household_seq += 1
    code, mynum = c.codes.take()
    names = _name(c, nat, sex)
    row = d.row(None, event_type, e, code=_rc(code), my_number=_mn(mynum),
                household_id=_household_number(c.household_seq),
                relationship="子" if event_type == "BIRTH" else "世帯主",
                family_name=names[0], given_name=names[1], family_name_kana=names[2],
                given_name_kana=names[3], birth_date=_iso(birth), sex=sex, nationality=nat,
                town_code=town, address_line=_address_line(c, town, foreign))
    if nat == "JP":
        row.update(honseki=_honseki(c), hittousha=f"{names[0]}　{names[1]}")
    else:
        f = _foreign_fields(c, "MID_LONG", _head_status(c, nat, 30, False), e)
        row.update(foreign_resident_category="MID_LONG", residence_status=f["rstatus"],
                   residence_card_no=f["card"], stay_expiry_date=_iso(f["expiry"]))
    if event_type == "MOVE_IN":
        row["prev_address"] = rr.choice(c.pools.domestic)
    elif event_type == "RETURN_FROM_ABROAD":
        row["prev_address"] = _abroad(c, nat)
    return row


def _broken_fresh(d: _Day, rule: str) -> dict | None:
    """A made-up adding row broken by one record mutation."""
    c = d.c
    need, mutate = {**RECORD_BREAKERS, **BIRTH_ONLY_BREAKERS}[rule]
    event_type = "BIRTH" if rule in ("RESIDENT_CODE_CHECK_DIGIT", "RELATIONSHIP_INVALID",
                                     *BIRTH_ONLY_BREAKERS) else "MOVE_IN"
    foreign = need in ("foreign", "mid_long") or (need == "any" and c.rr.random() < 0.15)
    if rule == "RESIDENCE_STATUS_NOT_REGISTRABLE":
        event_type = "RETURN_FROM_ABROAD"
    row = _fabricated(d, event_type, foreign)
    if not _fits(need, row) or mutate(c, row, d.day) is False:
        return None
    return row


def _broken_current(d: _Day, rule: str) -> dict | None:
    """A row for a current resident (with no other row today) that breaks one rule."""
    c = d.c
    rr = c.rr
    if rule == "DATE_INVALID":
        pid = d.pick(c.foreign, lambda p: c.fcat[p] == "MID_LONG")
    elif rule in ("KANA_FORMAT", "PRIVATE_USE_CHARACTER"):
        pid = d.pick(None, lambda p: c.nat[p] == "JP")
    else:
        pid = d.pick()
    if pid is None:
        return None
    e = d.effective([pid], 5)
    town = _pick_town(c, c.nat[pid] != "JP")
    move = {"town_code": town, "address_line": _address_line(c, town, c.nat[pid] != "JP")}
    if rule == "TOWN_CODE_UNKNOWN":
        row = d.row(pid, "MOVE_WITHIN", e, **move)
        _m_town(c, row, d.day)
    elif rule == "NOTIFIED_AFTER_BUSINESS_DATE":
        row = d.row(pid, "MOVE_WITHIN", e, notified=d.day + rr.randint(1, 5), **move)
    elif rule == "EVENT_ID_FORMAT":
        row = d.row(pid, "MOVE_WITHIN", e, **move)
        _m_event_id(c, row, d.day)
    elif rule == "DUPLICATE_EVENT_ID":
        if not c.past_ids:
            return None
        row = d.row(pid, "MOVE_WITHIN", e, **move)
        row["event_id"] = rr.choice(c.past_ids)
    elif rule == "EVENT_TYPE_UNKNOWN":
        row = d.row(pid, rr.choice(("TENKYO", "MOVE", "ADDRESS_CHANGE", "RELOCATION")), e, **move)
    elif rule == "KANA_FORMAT":
        fam = rr.choice(c.pools.jp_family)
        row = d.row(pid, "NAME_CHANGE", e, family_name=fam[0], given_name=c.giv[pid],
                    family_name_kana=_hiragana(fam[1]), given_name_kana=c.givk[pid])
        if row["family_name_kana"] == fam[1]:
            return None
    elif rule == "PRIVATE_USE_CHARACTER":
        row = d.row(pid, "NAME_CHANGE", e, family_name=c.fam[pid], given_name=c.giv[pid][:1] + "\ue000",
                    family_name_kana=c.famk[pid], given_name_kana=c.givk[pid])
    elif rule == "REQUIRED_FIELD_MISSING":
        if rr.random() < 0.5:
            row = d.row(pid, "MOVE_OUT", e)
        else:
            row = d.row(pid, "NAME_CHANGE", e, family_name=c.fam[pid], given_name=c.giv[pid],
                        family_name_kana=c.famk[pid])
    elif rule == "TEXT_TOO_LONG":
        row = d.row(pid, "MOVE_OUT", e, dest_address=_too_long(c, rr.choice(c.pools.domestic), 120))
    elif rule == "DATE_INVALID":
        row = d.row(pid, "STATUS_CHANGE", e, foreign_resident_category="MID_LONG",
                    residence_status=c.rstatus[pid], residence_card_no=c.card[pid],
                    stay_expiry_date=_bad_date(c, datetime.date.fromordinal(d.day).year + 1))
    elif rule == "HOUSEHOLD_ID_FORMAT":
        c.household_seq += 1
        row = d.row(pid, "HOUSEHOLD_CHANGE", e, household_id=_household_number(c.household_seq),
                    relationship="世帯主")
        _m_household_id(c, row, d.day)
    elif rule == "SUPPORT_MEASURE_INVALID":
        row = d.row(pid, "SUPPORT_MEASURE", e, support_measure=rr.choice(("2", "Y", "9")))
    elif rule == "NOTIFIED_BEFORE_EFFECTIVE":
        e = max(e, c.last[pid] + 5, c.baseline_day + 5)
        if e > d.day:
            return None
        row = d.row(pid, "DEATH", e, notified=e - rr.randint(1, 4))
    elif rule == "PLANNED_MOVE_TOO_EARLY":
        row = d.row(pid, "MOVE_OUT", d.day + rr.randint(15, 45), dest_address=rr.choice(c.pools.domestic))
    elif rule == "CORRECTION_WITHOUT_FIELDS":
        row = d.row(pid, "CORRECTION_BY_AUTHORITY", e)
    elif rule == "CANCEL_TARGET_UNKNOWN":
        row = d.row(pid, "CANCEL", d.day, cancels_event_id=f"E19990101-{rr.randint(1, 999_999):06d}")
    else:
        raise ValueError(rule)
    d.touched.add(pid)
    return row


def _broken_state(d: _Day, rule: str) -> dict | None:
    """A row that breaks a rule only the register can see (who is known or current, which events)."""
    c = d.c
    rr = c.rr
    if rule == "PERSON_NOT_CURRENT":  # a death of someone already removed
        pid = _pick_removed(d, lambda p: c.out_day[p] < d.day)
        if pid is None:
            return None
        row = d.row(pid, "DEATH", max(d.day - rr.randint(0, 5), c.out_day[pid] + 1))
    elif rule == "PERSON_ALREADY_KNOWN":  # a birth for a code the register knows
        pid = _pick_removed(d, lambda p: True)
        if pid is None:
            pid = d.pick()
        if pid is None:
            return None
        e = max(d.day - rr.randint(0, 13), c.baseline_day + 1)
        row = d.row(pid, "BIRTH", e, **_record(c, pid))
        row.update(birth_date=_iso(e), relationship="子")
    elif rule == "PERSON_ALREADY_CURRENT":  # a move-in of someone living in the city
        pid = d.pick()
        if pid is None:
            return None
        row = d.row(pid, "MOVE_IN", d.effective([pid], 13), **_record(c, pid),
                    prev_address=rr.choice(c.pools.domestic))
    elif rule == "LATE_EVENT_CONFLICT":  # a death dated before a 転居 already applied
        moves = [m for m in c.recent_moves if c.last_id[m[1]] == m[0] and d.free(m[1])
                 and c.last[m[1]] - 1 >= max(c.since[m[1]], c.baseline_day + 1)]
        if not moves:
            return None
        pid = rr.choice(moves)[1]
        row = d.row(pid, "DEATH", rr.randint(max(c.since[pid], c.baseline_day + 1), c.last[pid] - 1))
    elif rule == "CANCEL_TARGET_OTHER_PERSON":
        pid = d.pick()
        others = [eid for eid, p in c.baseline_ids if p != pid]
        if pid is None or not others:
            return None
        row = d.row(pid, "CANCEL", d.day, cancels_event_id=rr.choice(others))
    else:  # CANCEL_TARGET_IS_CANCEL / CANCEL_TARGET_CANCELLED: a second look at an earlier 取消
        done = [x for x in c.cancel_log if d.free(x[1])]
        if not done:
            return None
        cancel_id, pid, target = rr.choice(done)
        row = d.row(pid, "CANCEL", d.day,
                    cancels_event_id=cancel_id if rule == "CANCEL_TARGET_IS_CANCEL" else target)
    d.touched.add(pid)
    return row


FRESH_RULES = tuple(RECORD_BREAKERS) + tuple(BIRTH_ONLY_BREAKERS)
CURRENT_RULES = ("TOWN_CODE_UNKNOWN", "NOTIFIED_AFTER_BUSINESS_DATE", "EVENT_ID_FORMAT", "DUPLICATE_EVENT_ID",
                 "EVENT_TYPE_UNKNOWN", "KANA_FORMAT", "PRIVATE_USE_CHARACTER", "REQUIRED_FIELD_MISSING",
                 "TEXT_TOO_LONG", "DATE_INVALID", "HOUSEHOLD_ID_FORMAT", "SUPPORT_MEASURE_INVALID",
                 "NOTIFIED_BEFORE_EFFECTIVE", "PLANNED_MOVE_TOO_EARLY", "CORRECTION_WITHOUT_FIELDS",
                 "CANCEL_TARGET_UNKNOWN")
STATE_RULES = ("PERSON_NOT_CURRENT", "PERSON_ALREADY_KNOWN", "PERSON_ALREADY_CURRENT", "LATE_EVENT_CONFLICT",
               "CANCEL_TARGET_OTHER_PERSON", "CANCEL_TARGET_IS_CANCEL", "CANCEL_TARGET_CANCELLED")


def _break_day(d: _Day) -> list[tuple[dict, str]]:
    """About 0.5 % extra rows, each breaking one rule and touching no one else's rows."""
    rr = d.c.rr
    n = int(d.c.np_rng.poisson(BROKEN_SHARE * len(d.rows)))
    out = []
    for _ in range(n * 10):
        if len(out) >= n:
            break
        v = rr.random()
        if v < 0.45:
            rule = rr.choice(FRESH_RULES)
            row = _broken_fresh(d, rule)
        elif v < 0.85:
            rule = rr.choice(CURRENT_RULES)
            row = _broken_current(d, rule)
        else:
            rule = rr.choice(STATE_RULES)
            row = _broken_state(d, rule)
        if row is not None:
            out.append((row, rule))
    return out
