"""`juki generate`: a seeded, deterministic synthetic 川口市 written as change files.

The generator keeps its own model of the register (residents, households, pending
move-outs, cancellable events) so that every row it means to be valid is valid against
the register, and every row it breaks breaks one known rule (listed in `truth/`).
"""

from __future__ import annotations

import bisect
import codecs
import csv
import datetime
import io
import json
import math
import random
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from faker import Faker

from schemas.change_file import (
    COLUMNS,
    MUNICIPALITY_CODE,
    MUNICIPALITY_PREFIX,
    RESIDENT_CODE_WEIGHTS,
    my_number_check_digit,
    resident_code_check_digit,
    town_names,
)

# --- calibration (川口市; shared/reference/README.md) --------------------------------------

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
    "cancel": 500,
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
COUNTRY_JA = {
    "CN": "中華人民共和国", "VN": "ベトナム", "PH": "フィリピン", "KR": "大韓民国", "XC": "大韓民国",
    "NP": "ネパール", "TR": "トルコ", "TW": "台湾", "MM": "ミャンマー", "ID": "インドネシア",
    "TH": "タイ", "BD": "バングラデシュ", "LK": "スリランカ", "MN": "モンゴル", "IN": "インド",
    "PK": "パキスタン", "US": "アメリカ合衆国", "BR": "ブラジル", "PE": "ペルー", "KH": "カンボジア",
    "UZ": "ウズベキスタン", "XX": "ミャンマー", "GB": "イギリス", "SG": "シンガポール",
    "AU": "オーストラリア", "DE": "ドイツ", "CA": "カナダ", "FR": "フランス",
}
JAPANESE_ABROAD = ("US", "CN", "TH", "SG", "GB", "AU", "DE", "CA", "KR", "VN", "FR")
# Where people move from and to (public municipality names; the street part is made up).
ORIGINS = (
    ("東京都", "北区", 8), ("東京都", "足立区", 8), ("東京都", "板橋区", 6), ("東京都", "練馬区", 4),
    ("東京都", "豊島区", 3), ("東京都", "江戸川区", 3), ("東京都", "葛飾区", 3), ("東京都", "荒川区", 3),
    ("東京都", "新宿区", 2), ("東京都", "世田谷区", 2), ("東京都", "江東区", 2), ("東京都", "八王子市", 1),
    ("埼玉県", "さいたま市南区", 5), ("埼玉県", "さいたま市浦和区", 3), ("埼玉県", "さいたま市緑区", 3),
    ("埼玉県", "戸田市", 5), ("埼玉県", "蕨市", 5), ("埼玉県", "草加市", 4), ("埼玉県", "越谷市", 3),
    ("埼玉県", "川越市", 2), ("埼玉県", "所沢市", 2), ("埼玉県", "春日部市", 1), ("埼玉県", "八潮市", 1),
    ("千葉県", "松戸市", 2), ("千葉県", "市川市", 2), ("千葉県", "船橋市", 2), ("千葉県", "柏市", 1),
    ("神奈川県", "横浜市港北区", 2), ("神奈川県", "川崎市中原区", 2), ("神奈川県", "相模原市中央区", 1),
    ("大阪府", "大阪市北区", 1), ("愛知県", "名古屋市中区", 1), ("北海道", "札幌市中央区", 1),
    ("福岡県", "福岡市博多区", 1), ("宮城県", "仙台市青葉区", 1), ("群馬県", "高崎市", 1),
    ("栃木県", "宇都宮市", 1), ("茨城県", "水戸市", 1), ("新潟県", "新潟市中央区", 1),
    ("静岡県", "静岡市葵区", 1), ("広島県", "広島市中区", 1), ("長野県", "長野市", 1),
)
# 通称 family names often registered by 特別永住者 (common Japanese surnames).
ALIAS_FAMILIES = ("金田", "金山", "新井", "松本", "木村", "安田", "西原", "金本", "平山", "高山",
                  "岩本", "国本", "宮本", "山本", "林", "清水")

# Latin names with their katakana readings, by naming tradition.
_CN_FAMILY = (
    "WANG:ワン LI:リー ZHANG:チャン LIU:リウ CHEN:チェン YANG:ヤン ZHAO:チャオ HUANG:ホアン "
    "ZHOU:チョウ WU:ウー XU:シュー SUN:スン HU:フー ZHU:チュー GAO:ガオ LIN:リン HE:ホー GUO:グオ "
    "MA:マー LUO:ルオ LIANG:リャン SONG:ソン ZHENG:ジェン XIE:シエ HAN:ハン TANG:タン "
    "FENG:フォン YU:ユー DONG:ドン XIAO:シャオ"
)
_CN_SYLLABLE = (
    "WEI:ウェイ FANG:ファン NA:ナー MIN:ミン JING:ジン LI:リー QIANG:チアン LEI:レイ JUN:ジュン "
    "YANG:ヤン YONG:ヨン YAN:イエン JIE:ジエ TAO:タオ MING:ミン CHAO:チャオ XIU:シウ XIA:シア "
    "HUI:ホイ PING:ピン GANG:ガン HUA:ホア LING:リン HONG:ホン YU:ユー HAO:ハオ XIN:シン "
    "YI:イー BO:ボー TING:ティン XIAO:シャオ JIAN:ジエン LAN:ラン MEI:メイ ZHEN:ジェン PENG:ポン "
    "KAI:カイ RUI:ルイ QIAN:チエン WEN:ウェン"
)
_VN_FAMILY = (
    "NGUYEN:グエン NGUYEN:グエン NGUYEN:グエン TRAN:チャン LE:レー PHAM:ファム HOANG:ホアン "
    "HUYNH:フイン PHAN:ファン VU:ヴー VO:ヴォー DANG:ダン BUI:ブイ DO:ドー HO:ホー NGO:ゴー "
    "DUONG:ズオン LY:リー"
)
_VN_MIDDLE_M = "VAN:ヴァン VAN:ヴァン DUC:ドゥック MINH:ミン QUOC:クオック"
_VN_MIDDLE_F = "THI:ティ THI:ティ NGOC:ゴック THU:トゥー"
_VN_GIVEN_M = (
    "ANH:アイン HUNG:フン NAM:ナム TUAN:トゥアン DUNG:ズン HIEU:ヒエウ LONG:ロン QUANG:クアン "
    "THANH:タイン KHOA:コア PHUC:フック DAT:ダット"
)
_VN_GIVEN_F = (
    "LINH:リン HUONG:フオン THAO:タオ TRANG:チャン LAN:ラン HA:ハー MAI:マイ NGA:ガー "
    "HANH:ハイン THUY:トゥイ YEN:イエン VY:ヴィー"
)
_PH_FAMILY = (
    "SANTOS:サントス REYES:レイエス CRUZ:クルス BAUTISTA:バウティスタ GARCIA:ガルシア "
    "MENDOZA:メンドーサ RAMOS:ラモス AQUINO:アキノ CASTILLO:カスティーヨ FLORES:フローレス "
    "TORRES:トーレス VILLANUEVA:ビリャヌエバ GONZALES:ゴンザレス DELA_CRUZ:デラ　クルス "
    "NAVARRO:ナバロ FERNANDEZ:フェルナンデス"
)
_PH_GIVEN_M = (
    "JOSE:ホセ MARK:マーク JOHN:ジョン MICHAEL:マイケル JOSEPH:ジョセフ CHRISTIAN:クリスチャン "
    "RICARDO:リカルド JOMAR:ジョマール RENATO:レナート ARNEL:アーネル"
)
_PH_GIVEN_F = (
    "MARIA:マリア ANA:アナ ROSE:ローズ GRACE:グレース JENNIFER:ジェニファー ANGELICA:アンジェリカ "
    "JOY:ジョイ MARICEL:マリセル CHERRY:チェリー LORNA:ローナ MARY:メアリー JOCELYN:ジョセリン"
)
_KR_FAMILY = (
    "KIM:キム KIM:キム LEE:イ PARK:パク CHOI:チェ JUNG:チョン KANG:カン CHO:チョ YOON:ユン "
    "JANG:チャン LIM:イム HAN:ハン SHIN:シン OH:オ SEO:ソ KWON:クォン HWANG:ファン SONG:ソン "
    "AHN:アン YOO:ユ HONG:ホン"
)
_KR_GIVEN_M = (
    "MINJUN:ミンジュン JIHOON:ジフン HYUNWOO:ヒョヌ YOUNGHO:ヨンホ SUNGMIN:ソンミン "
    "JAEHYUN:ジェヒョン YOUNGSOO:ヨンス DONGHYUN:ドンヒョン SANGWOO:サンウ JINHO:ジノ "
    "CHULSOO:チョルス"
)
_KR_GIVEN_F = (
    "SEOYEON:ソヨン JIWOO:ジウ SOOJIN:スジン MINJI:ミンジ EUNJI:ウンジ HYEJIN:ヘジン "
    "MIKYUNG:ミギョン YOUNGHEE:ヨンヒ JIYOUNG:ジヨン SUNHEE:ソニ OKJA:オクチャ"
)
_NP_FAMILY = (
    "SHRESTHA:シュレスタ GURUNG:グルン TAMANG:タマン RAI:ライ MAGAR:マガル THAPA:タパ "
    "ADHIKARI:アディカリ SHARMA:シャルマ POKHREL:ポカレル BHANDARI:バンダリ KARKI:カルキ "
    "LAMA:ラマ PAUDEL:パウデル BASNET:バスネット"
)
_NP_GIVEN_M = (
    "RAM:ラム KRISHNA:クリシュナ BIKASH:ビカス ANIL:アニル PRAKASH:プラカス SANJAY:サンジャイ "
    "RAJESH:ラジェシュ SURESH:スレシュ DIPAK:ディパク SANTOSH:サントス"
)
_NP_GIVEN_F = (
    "SITA:シタ SUNITA:スニタ GITA:ギタ MANISHA:マニシャ SABITA:サビタ ANITA:アニタ "
    "RAMITA:ラミタ PUJA:プジャ SARITA:サリタ"
)
_TR_FAMILY = (
    "YILMAZ:ユルマズ KAYA:カヤ DEMIR:デミル CELIK:チェリク SAHIN:シャヒン YILDIZ:ユルドゥズ "
    "AYDIN:アイドゥン OZTURK:オズトゥルク ARSLAN:アルスラン DOGAN:ドアン KILIC:クルチ ASLAN:アスラン "
    "CETIN:チェティン KARA:カラ KOC:コチ KURT:クルト OZDEMIR:オズデミル"
)
_TR_GIVEN_M = (
    "MEHMET:メフメト AHMET:アフメト MUSTAFA:ムスタファ ALI:アリ HASAN:ハサン HUSEYIN:フセイン "
    "IBRAHIM:イブラヒム MURAT:ムラト RAMAZAN:ラマザン YUSUF:ユスフ OMER:オメル EMRE:エムレ"
)
_TR_GIVEN_F = (
    "FATMA:ファトマ AYSE:アイシェ EMINE:エミネ HATICE:ハティジェ ZEYNEP:ゼイネプ ELIF:エリフ "
    "MERYEM:メルイェム SULTAN:スルタン HAVVA:ハヴァ LEYLA:レイラ"
)
_SEA_FAMILY = (
    "SUKSAWAT:スクサワット WONGSA:ウォンサ SETIAWAN:セティアワン SANTOSO:サントソ AUNG:アウン "
    "HTUN:トゥン KYAW:チョー SOK:ソック CHAN:チャン SAPUTRA:サプトラ"
)
_SEA_GIVEN_M = "SOMCHAI:ソムチャイ BUDI:ブディ MIN:ミン ZAW:ゾー AGUS:アグス RITHY:リティ ANAN:アナン"
_SEA_GIVEN_F = "NATTAYA:ナッタヤ SITI:シティ DEWI:デウィ THIDA:ティダ SREY:スレイ AYE:エー PUTRI:プトゥリ"
_SA_FAMILY = (
    "HOSSAIN:ホサイン RAHMAN:ラーマン PERERA:ペレラ FERNANDO:フェルナンド SINGH:シン "
    "KUMAR:クマール KHAN:カーン AHMED:アーメド SILVA:シルバ ISLAM:イスラム"
)
_SA_GIVEN_M = "MOHAMMAD:モハマド ABDUL:アブドゥル NUWAN:ヌワン RAHUL:ラフル KAMAL:カマル ASIF:アシフ IMRAN:イムラン"
_SA_GIVEN_F = "PRIYA:プリヤ FATIMA:ファティマ AISHA:アイシャ NADIA:ナディア DILANI:ディラニ SHAHANA:シャハナ"
_CA_FAMILY = "BATBAYAR:バトバヤル GANBOLD:ガンボルド ERDENE:エルデネ KARIMOV:カリモフ RASHIDOV:ラシドフ TUMUR:トゥムル"
_CA_GIVEN_M = "BOLD:ボルド ANVAR:アンヴァル TEMUULEN:テムーレン JASUR:ジャスル BAT:バト"
_CA_GIVEN_F = "SARANGEREL:サランゲレル NILUFAR:ニルファル ANU:アヌ ZARINA:ザリナ ODGEREL:オドゲレル"
_WE_FAMILY = (
    "SMITH:スミス JOHNSON:ジョンソン BROWN:ブラウン SILVA:シルバ SOUZA:ソウザ RODRIGUEZ:ロドリゲス "
    "GARCIA:ガルシア TANAKA:タナカ HIGA:ヒガ MILLER:ミラー OLIVEIRA:オリベイラ QUISPE:キスペ"
)
_WE_GIVEN_M = "JAMES:ジェームズ MICHAEL:マイケル DAVID:デイビッド CARLOS:カルロス LUCAS:ルーカス JUAN:フアン DANIEL:ダニエル"
_WE_GIVEN_F = "EMILY:エミリー SARAH:サラ ANA:アナ JULIANA:ジュリアナ MARIA:マリア JESSICA:ジェシカ CAMILA:カミラ"


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Parse `LATIN:カナ` words (an underscore is a space in the Latin name)."""
    return tuple((w.split(":")[0].replace("_", " "), w.split(":")[1]) for w in text.split(" "))


NAME_TRADITIONS = {
    "CN": (_pairs(_CN_FAMILY), _pairs(_CN_SYLLABLE), _pairs(_CN_SYLLABLE)),
    "VN": (_pairs(_VN_FAMILY), _pairs(_VN_GIVEN_M), _pairs(_VN_GIVEN_F)),
    "PH": (_pairs(_PH_FAMILY), _pairs(_PH_GIVEN_M), _pairs(_PH_GIVEN_F)),
    "KR": (_pairs(_KR_FAMILY), _pairs(_KR_GIVEN_M), _pairs(_KR_GIVEN_F)),
    "NP": (_pairs(_NP_FAMILY), _pairs(_NP_GIVEN_M), _pairs(_NP_GIVEN_F)),
    "TR": (_pairs(_TR_FAMILY), _pairs(_TR_GIVEN_M), _pairs(_TR_GIVEN_F)),
    "SEA": (_pairs(_SEA_FAMILY), _pairs(_SEA_GIVEN_M), _pairs(_SEA_GIVEN_F)),
    "SA": (_pairs(_SA_FAMILY), _pairs(_SA_GIVEN_M), _pairs(_SA_GIVEN_F)),
    "CA": (_pairs(_CA_FAMILY), _pairs(_CA_GIVEN_M), _pairs(_CA_GIVEN_F)),
    "WE": (_pairs(_WE_FAMILY), _pairs(_WE_GIVEN_M), _pairs(_WE_GIVEN_F)),
}
TRADITION_OF = {"CN": "CN", "TW": "CN", "VN": "VN", "PH": "PH", "KR": "KR", "XC": "KR", "NP": "NP",
                "TR": "TR", "XX": "TR", "MM": "SEA", "ID": "SEA", "TH": "SEA", "KH": "SEA",
                "BD": "SA", "LK": "SA", "IN": "SA", "PK": "SA", "MN": "CA", "UZ": "CA"}
VN_MIDDLE = (_pairs(_VN_MIDDLE_M), _pairs(_VN_MIDDLE_F))

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

CURRENT, PENDING, REMOVED = 0, 1, 2


# --- small helpers ------------------------------------------------------------------------

_ISO: dict[int, str] = {}


def _iso(ordinal: int) -> str:
    """ISO text of a date ordinal (cached: the baseline formats millions of dates)."""
    text = _ISO.get(ordinal)
    if text is None:
        text = _ISO[ordinal] = datetime.date.fromordinal(ordinal).isoformat()
    return text


def _is_business_day(day: datetime.date) -> bool:
    """Monday to Friday."""
    return day.weekday() < 5


def _business_dates(start: datetime.date, days: int) -> tuple[datetime.date, list[datetime.date]]:
    """The baseline business date and the business days among the `days` calendar days after it."""
    baseline = start
    while not _is_business_day(baseline):
        baseline += datetime.timedelta(days=1)
    later = [baseline + datetime.timedelta(days=i) for i in range(1, days + 1)]
    return baseline, [d for d in later if _is_business_day(d)]


def _move_season(day: datetime.date) -> float:
    """The end-of-March / early-April peak of moves (転勤・入学)."""
    if (day.month == 3 and day.day >= 25) or (day.month == 4 and day.day <= 7):
        return 3.0
    return 1.0


def _weighted(rr: random.Random, weights: dict[str, float]) -> str:
    """One key drawn with the given weights."""
    keys = list(weights)
    return rr.choices(keys, weights=[weights[k] for k in keys])[0]


def _household_number(seq: int) -> str:
    """世帯番号: a 9-digit sequence and a modulus-11 weights-2..7 check digit (標準仕様 1.1.13)."""
    base = f"{seq:09d}"
    r = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(base))) % 11
    return base + str(0 if r <= 1 else 11 - r)


def _card_number(rr: random.Random) -> str:
    """A 在留カード / 特別永住者証明書 number: 2 letters, 8 digits, 2 letters."""
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return (rr.choice(letters) + rr.choice(letters) + f"{rr.randrange(10**8):08d}"
            + rr.choice(letters) + rr.choice(letters))


def _hiragana(kana: str) -> str:
    """Katakana (ァ to ン, whose hiragana CP932 can write) turned into hiragana, which the agreement refuses."""
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ン" else c for c in kana)


def _cp932_safe(text: str) -> bool:
    """True when the text can be written on a CP932 day."""
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


# --- codes ----------------------------------------------------------------------------------

def _weighted_mod11(values: np.ndarray, weights_from_right: tuple[int, ...]) -> np.ndarray:
    """Modulus-11 check digits over integers, weights applied from the rightmost digit."""
    total = np.zeros(len(values), dtype=np.int64)
    for k, w in enumerate(weights_from_right):
        total += (values // 10**k % 10) * w
    r = total % 11
    return np.where(r <= 1, 0, 11 - r)


def _check_digits(values: np.ndarray, digits: int, rule: Callable[[str], int],
                  weights_from_right: tuple[int, ...]) -> np.ndarray:
    """Check digits by the agreement's rule: vectorised, and recomputed one by one should the
    agreement's (configurable) rule no longer match the vectorised weights."""
    fast = _weighted_mod11(values, weights_from_right)
    sample = values[:64].tolist()
    if all(rule(f"{v:0{digits}d}") == int(cd) for v, cd in zip(sample, fast[:64].tolist())):
        return fast
    return np.array([rule(f"{v:0{digits}d}") for v in values.tolist()], dtype=np.int64)


@dataclass
class _Codes:
    """Never-repeating resident codes and My Numbers, drawn in seeded batches."""

    rng: np.random.Generator
    resident: list[int] = field(default_factory=list)    # with the check digit
    my_number: list[int] = field(default_factory=list)
    used_resident: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    used_my_number: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def refill(self, n: int) -> None:
        """Draw at least n more of each code, skipping every value drawn before."""
        r = self.rng.integers(0, 10**10, size=int(n * 1.02) + 64, dtype=np.int64)
        r = np.unique(r[~np.isin(r, self.used_resident)])
        self.used_resident = np.union1d(self.used_resident, r)
        r = self.rng.permutation(r)
        fresh = (r * 10 + _check_digits(r, 10, resident_code_check_digit,
                                        tuple(RESIDENT_CODE_WEIGHTS))).tolist()
        m = self.rng.integers(0, 10**11, size=int(n * 1.02) + 64, dtype=np.int64)
        m = np.unique(m[~np.isin(m, self.used_my_number)])
        self.used_my_number = np.union1d(self.used_my_number, m)
        m = self.rng.permutation(m)
        fresh_m = (m * 10 + _check_digits(m, 11, my_number_check_digit,
                                          (2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6))).tolist()
        # The buffers are consumed from the end, so new codes go in front.
        self.resident = fresh + self.resident
        self.my_number = fresh_m + self.my_number

    def take(self) -> tuple[int, int]:
        """A fresh (resident_code, my_number) as integers (see _rc and _mn for the text)."""
        if not self.resident or not self.my_number:
            self.refill(10_000)
        return self.resident.pop(), self.my_number.pop()


def _rc(value: int) -> str:
    """住民票コード text: 11 digits."""
    return f"{value:011d}"


def _mn(value: int) -> str:
    """個人番号 text: 12 digits."""
    return f"{value:012d}"


# --- pools built once per seed --------------------------------------------------------------

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


# --- the register model ---------------------------------------------------------------------

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
    """本籍: often in 川口市 itself, else an address elsewhere in Japan."""
    rr = c.rr
    if rr.random() < 0.4:
        return f"{MUNICIPALITY_PREFIX}{town_names()[rr.choice(c.towns)]}{rr.randint(1, 3000)}番地"
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


# --- the baseline city ------------------------------------------------------------------------

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


def _birth_from_age(c: _City, age: float) -> int:
    """A birth date ordinal for an age (years, fractional) on the baseline date."""
    return min(c.baseline_day - 1, c.baseline_day - int(min(age, 109.5) * 365.2425) - c.rr.randrange(0, 30))


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


def _ordinal_or(text: str, default: int) -> int:
    """The ordinal of an ISO date text, or the default when empty."""
    return datetime.date.fromisoformat(text).toordinal() if text else default


# --- rows ---------------------------------------------------------------------------------------

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
    }


def _baseline_row(c: _City, pid: int, event_id: str) -> dict:
    """The BASELINE row of a person: the full record, since when, and from where."""
    row = _record(c, pid)
    row.update(event_id=event_id, event_type="BASELINE", effective_date=_iso(c.since[pid]),
               notified_date=_iso(min(c.last[pid] + c.rr.randint(0, 13), c.baseline_day)),
               resident_code=_rc(c.code[pid]), address_since=c.addr_since[pid], prev_address=c.prev[pid])
    return row


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


# --- valid events -------------------------------------------------------------------------------

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
        back = _pick_removed(d, lambda p: c.out_kind[p] in ("MOVE_OUT", "MOVE_ABROAD")
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
           stay_expiry_date=_iso(c.expiry[pid]))
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
    c.honseki[pid] = f"{MUNICIPALITY_PREFIX}{town_names()[c.town[pid]]}{rr.randint(1, 3000)}番地" \
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


# --- one business day ---------------------------------------------------------------------------

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
    return d


# --- deliberately broken rows ---------------------------------------------------------------------

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


def _place(rr: random.Random, n_valid: int, broken: list[tuple[dict, str]],
           id_before: Callable[[int], str] | None = None) -> tuple[list[tuple[int, dict]], list[dict]]:
    """Random places among the valid rows for the broken ones; returns (slot, row) pairs and truth.

    A broken row in slot k comes right before valid row k (0-based); the header is line 1.
    """
    placed = []
    for row, rule in broken:
        slot = rr.randint(0, n_valid)
        if rule == "DUPLICATE_EVENT_ID" and id_before is not None:
            if n_valid == 0:
                continue
            slot = max(slot, 1)  # the id must repeat one that comes before it
            row["event_id"] = id_before(rr.randrange(slot))
        placed.append((slot, row, rule))
    placed.sort(key=lambda x: x[0])
    truth = [{"line": slot + j + 2, "rule_id": rule} for j, (slot, _row, rule) in enumerate(placed)]
    return [(slot, row) for slot, row, _rule in placed], truth


def _merged(valid: Iterable[dict], placed: list[tuple[int, dict]]) -> Iterator[dict]:
    """The valid rows with the broken ones in their slots."""
    j = 0
    for i, row in enumerate(valid):
        while j < len(placed) and placed[j][0] == i:
            yield placed[j][1]
            j += 1
        yield row
    for _slot, row in placed[j:]:
        yield row


# --- files ------------------------------------------------------------------------------------

def _file_name(day: datetime.date, municipality_code: str = MUNICIPALITY_CODE) -> str:
    """`112038_changes_<YYYYMMDD>.csv`."""
    return f"{municipality_code}_changes_{day.strftime('%Y%m%d')}.csv"


def _encodings(rr: random.Random, n_files: int) -> list[str]:
    """One CP932 day in every run of seven files (seeded place); the rest UTF-8, a quarter with a BOM."""
    out = []
    for start in range(0, n_files, 7):
        cp932_at = rr.randrange(7)
        for i in range(start, min(start + 7, n_files)):
            out.append("cp932" if i - start == cp932_at else "utf-8-sig" if rr.random() < BOM_SHARE else "utf-8")
    return out


def _write_csv(path: Path, rows: Iterable[dict], encoding: str) -> int:
    """Header with every column in agreement order, then the rows, minimal quoting; returns the row count."""
    newline = "\r\n" if encoding == "cp932" else "\n"
    codec = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM once, not per chunk
    n = 0
    with open(path, "wb") as f:
        if encoding == "utf-8-sig":
            f.write(codecs.BOM_UTF8)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
        w.writerow(COLUMNS)
        for row in rows:
            w.writerow([row.get(k, "") for k in COLUMNS])
            n += 1
            if n % 20_000 == 0:
                f.write(buf.getvalue().encode(codec))
                buf.seek(0)
                buf.truncate()
        f.write(buf.getvalue().encode(codec))
    return n


def _write_day(out: Path, day: datetime.date, rows: Iterable[dict], truth: list[dict], encoding: str,
               municipality_code: str = MUNICIPALITY_CODE) -> Path:
    """Write one change file and its truth JSON."""
    path = out / _file_name(day, municipality_code)
    n = _write_csv(path, rows, encoding)
    doc = {"file": path.name, "rows": n, "encoding": encoding, "broken": truth}
    (out / "truth" / f"{path.stem}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n",
                                                      encoding="utf-8")
    return path


def generate_city(out_dir: str | Path, residents: int = 607_000, days: int = 20,
                  start: datetime.date = datetime.date(2026, 4, 1), seed: int = 1,
                  progress: Callable[[str], None] | None = None,
                  municipality_code: str = MUNICIPALITY_CODE) -> list[Path]:
    """Write a BASELINE file and one change file per business day after it; return the paths in order.

    Every city has 川口市's town list; `municipality_code` only names the files (for many-cities tests)."""
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    baseline_date, business_days = _business_dates(start, days)
    rr = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    scale = residents / CALIBRATION_POPULATION
    codes = _Codes(np_rng)
    codes.refill(int(residents * 1.01) + int(days * scale * 400) + 1_000)
    towns, cum, fcum = _town_weights(rr, town_names())
    c = _City(rr=rr, codes=codes, pools=_build_pools(fake), baseline_day=baseline_date.toordinal(),
              towns=towns, town_cum=cum, foreign_town_cum=fcum, np_rng=np_rng)
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
