"""The nation's reference list: 1,741 municipalities and the 政令指定都市 wards, with valid 団体コード."""

from __future__ import annotations

import collections
import csv
import dataclasses

import pytest

from schemas.change_file import MUNICIPALITY_CODE, REFERENCE_DIR
from schemas.municipalities import KINDS, check_digit, municipalities, municipality, prefectures


def test_check_digits_of_known_codes():
    assert check_digit("11203") == "8"  # 川口市
    assert check_digit("13000") == "1"  # 東京都
    assert check_digit("01000") == "6"  # 北海道
    assert check_digit("13101") == "6"  # 千代田区
    with pytest.raises(ValueError):
        check_digit("1120")


def test_every_code_carries_its_check_digit():
    assert all(check_digit(m.municipality_code[:5]) == m.municipality_code[5] for m in municipalities())


def test_the_nation_counts():
    kinds = collections.Counter(m.kind for m in municipalities())
    assert set(kinds) <= set(KINDS)
    assert sum(n for kind, n in kinds.items() if kind != "ward") == 1741
    assert kinds["designated_city"] == 20 and kinds["special_ward"] == 23
    assert 170 <= kinds["ward"] <= 180
    assert len({m.municipality_code for m in municipalities()}) == len(municipalities())


def test_kawaguchi_is_in_saitama():
    kawaguchi = municipality(MUNICIPALITY_CODE)
    assert (kawaguchi.municipality_code, kawaguchi.name, kawaguchi.prefecture) == ("112038", "川口市", "埼玉県")
    assert kawaguchi.kind == "city" and kawaguchi.parent_code == "" and kawaguchi.population > 500_000
    assert municipality("11203") is kawaguchi
    with pytest.raises(KeyError):
        municipality("999999")


def test_a_ward_belongs_to_its_designated_city_and_wards_sum_to_it():
    chuo = municipality("011011")
    assert (chuo.name, chuo.kind, chuo.parent_code) == ("札幌市中央区", "ward", "011002")
    assert municipality(chuo.parent_code).kind == "designated_city"
    wards = collections.defaultdict(list)
    for m in municipalities():
        if m.kind == "ward":
            wards[m.parent_code].append(m)
    assert {m.municipality_code for m in municipalities() if m.kind == "designated_city"} == set(wards)
    for city_code, its_wards in wards.items():
        city = municipality(city_code)
        assert all(w.name.startswith(city.name) and w.prefecture == city.prefecture for w in its_wards)
        assert sum(w.population for w in its_wards) == city.population
    assert all(not m.parent_code for m in municipalities() if m.kind != "ward")


def test_prefectures_have_their_own_codes_and_names():
    prefs = prefectures()
    assert len(prefs) == 47 and list(prefs) == sorted(prefs)
    assert prefs["01"] == ("010006", "北海道")
    assert prefs["11"] == ("110001", "埼玉県")
    assert prefs["13"] == ("130001", "東京都")
    assert prefs["47"] == ("470007", "沖縄県")
    assert all(m.municipality_code.startswith(m.prefecture_code) for m in municipalities())


def test_rows_are_frozen_and_typed():
    first = municipalities()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.population = 0
    assert all(m.population >= 1 and (m.towns is None or m.towns >= 0) for m in municipalities())


def test_the_csv_has_the_agreed_columns_and_every_population_has_a_source():
    with open(REFERENCE_DIR / "municipalities.csv", encoding="utf-8", newline="") as f:
        assert f.readline() == ("municipality_code,prefecture_code,prefecture,name,kind,parent_code,"
                                "population,households,towns\n")
    with open(REFERENCE_DIR / "municipality_population_sources.csv", encoding="utf-8", newline="") as f:
        sources = {r["municipality_code"]: r["population_source"] for r in csv.DictReader(f)}
    assert set(sources) == {m.municipality_code for m in municipalities()}
    assert all(s == "geonames" or s.startswith("estimated_") for s in sources.values())
    assert all(sources[m.municipality_code] == "estimated_city_split_by_towns"
               for m in municipalities() if m.kind == "ward")
