"""What the city is calibrated to: 川口市's published figures (shared/reference/README.md), shares, weights."""

from __future__ import annotations

import datetime


CALIBRATION_POPULATION = 607_447
HOUSEHOLDS = 298_203
MIXED_HOUSEHOLDS = 5_149
FOREIGN_SHARE = 0.079
# Per year, per 607,447 residents (2024).
YEARLY = {
    ("JP", "births"): 3_398, ("JP", "deaths"): 6_489, ("JP", "in"): 21_918, ("JP", "out"): 22_728,
    ("F", "births"): 484, ("F", "deaths"): 50, ("F", "in"): 13_592, ("F", "out"): 8_993,
}
BUSINESS_DAYS_PER_YEAR = 245
# Moves are about 3x in the last week of March and the first week of April; dividing by
# this many day-equivalents keeps the yearly totals at the published figures.
MOVE_DAY_EQUIVALENTS = BUSINESS_DAYS_PER_YEAR + 2 * 10
ABROAD_SHARE = {("JP", "in"): 0.05, ("JP", "out"): 0.04, ("F", "in"): 0.55, ("F", "out"): 0.45}
AUTHORITY_SHARE = {("JP", "in"): 0.01, ("JP", "out"): 0.01, ("F", "in"): 0.02, ("F", "out"): 0.05}
# Yearly counts (per 607,447) of what the published figures do not give; rows, not persons.
OTHER_YEARLY = {
    "move_within": 21_918 + 13_592,   # persons; about as common as moves in
    "household_change": 4_900,
    "name_change": 2_900,
    "status_change": 11_000,
    "naturalisation": 300,
    "support_start": 150,
    "support_end": 100,
    "correction": 1_000,
    # 転出確定 whose date differs from the plan: a guess, about one domestic move-out in ten
    "move_out_confirmed": 3_000,
    "cancel": 500,
    # 住民票コードの変更請求: rare, a guess of about 3 per 100,000 residents a year (no published figure); no
    # RARE_FLOOR, so a small city makes almost none
    "resident_code_change": 18,
}
# At small sizes rare administrative events would never appear; each gets at least this
# expected count per business day.
RARE_FLOOR = 0.15
BROKEN_SHARE = 0.005
BOM_SHARE = 0.25
FIRST_FOREIGN_RESIDENT_DAY = datetime.date(2012, 7, 9).toordinal()  # 外国人住民 in 住基 since

NATIONALITY_WEIGHTS = {
    "CN": 56.1, "VN": 12.0, "PH": 8.0, "KR": 5.4, "XC": 0.7, "NP": 3.3, "TR": 2.6,
    "TW": 1.6, "MM": 1.5, "ID": 1.3, "TH": 1.2, "BD": 1.0, "LK": 0.9, "MN": 0.8, "IN": 0.8,
    "PK": 0.6, "US": 0.6, "BR": 0.5, "PE": 0.4, "KH": 0.4, "UZ": 0.2, "XX": 0.1,
}
SPOUSE_OF_JAPANESE_WEIGHTS = {"CN": 40, "PH": 25, "KR": 14, "VN": 8, "TH": 3, "BR": 2, "US": 3,
                              "TW": 3, "ID": 1, "NP": 1}


# 在留資格 of a household head or single foreign resident, by nationality.
STATUS_WEIGHTS = {
    "CN": {"永住者": 40, "技術・人文知識・国際業務": 20, "留学": 10, "定住者": 6, "日本人の配偶者等": 4,
           "経営・管理": 4, "技能": 3, "特定技能1号": 3, "技能実習2号ロ": 3, "高度専門職1号ロ": 2,
           "家族滞在": 3, "企業内転勤": 1, "特定活動": 1},
    "VN": {"技能実習1号ロ": 10, "技能実習2号ロ": 15, "技能実習3号ロ": 3, "特定技能1号": 22,
           "技術・人文知識・国際業務": 18, "留学": 15, "永住者": 6, "家族滞在": 3, "特定活動": 4, "定住者": 4},
    "PH": {"永住者": 45, "定住者": 15, "日本人の配偶者等": 12, "特定技能1号": 10, "技能実習2号ロ": 6,
           "介護": 4, "技術・人文知識・国際業務": 4, "特定活動": 4},
    "KR": {"永住者": 35, "技術・人文知識・国際業務": 25, "留学": 12, "日本人の配偶者等": 10,
           "経営・管理": 6, "家族滞在": 4, "定住者": 4, "教育": 2, "特定活動": 2},
    "NP": {"技能": 25, "技術・人文知識・国際業務": 20, "留学": 25, "経営・管理": 8, "永住者": 8,
           "特定技能1号": 6, "家族滞在": 5, "特定活動": 3},
    "TR": {"特定活動": 35, "日本人の配偶者等": 15, "永住者": 12, "定住者": 12,
           "技術・人文知識・国際業務": 8, "経営・管理": 6, "家族滞在": 6, "留学": 3, "特定技能1号": 3},
    "": {"永住者": 25, "技術・人文知識・国際業務": 20, "留学": 12, "特定技能1号": 10, "技能実習2号ロ": 8,
         "定住者": 7, "日本人の配偶者等": 8, "家族滞在": 3, "経営・管理": 3, "教育": 2, "研究": 1,
         "高度専門職1号ロ": 1},
}
# Statuses that cannot bring a family (a head of a family household never holds them).
NO_FAMILY_STATUSES = frozenset({"技能実習1号ロ", "技能実習2号ロ", "技能実習3号ロ", "特定技能1号", "家族滞在"})
# A renewal may move a resident on to the next status.
NEXT_STATUS = {"留学": "技術・人文知識・国際業務", "技能実習1号ロ": "技能実習2号ロ",
               "技能実習2号ロ": "特定技能1号", "技能実習3号ロ": "特定技能1号",
               "特定技能1号": "特定技能2号", "家族滞在": "永住者", "定住者": "永住者",
               "日本人の配偶者等": "永住者"}

# A newcomer from abroad starts at the first stage of a staged status.
FIRST_STATUS = {"技能実習2号ロ": "技能実習1号ロ", "技能実習3号ロ": "技能実習1号ロ", "特定技能2号": "特定技能1号"}


def _move_season(day: datetime.date) -> float:
    """The end-of-March / early-April peak of moves (転勤・入学)."""
    if (day.month == 3 and day.day >= 25) or (day.month == 4 and day.day <= 7):
        return 3.0
    return 1.0
