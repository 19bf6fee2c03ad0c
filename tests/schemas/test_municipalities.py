"""The nation's reference list: 1,741 municipalities and the 政令指定都市 wards, with valid 団体コード."""

from __future__ import annotations

import collections
import csv
import dataclasses
import importlib.util
from pathlib import Path

import pytest

from schemas.change_file import MUNICIPALITY_CODE, REFERENCE_DIR
from schemas.municipalities import KINDS, check_digit, municipalities, municipality, prefectures

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_csv_has_the_agreed_columns_and_every_figure_has_a_source():
    with open(REFERENCE_DIR / "municipalities.csv", encoding="utf-8", newline="") as f:
        assert f.readline() == ("municipality_code,prefecture_code,prefecture,name,kind,parent_code,"
                                "population,households,towns\n")
    with open(REFERENCE_DIR / "municipality_sources.csv", encoding="utf-8", newline="") as f:
        sources = {r["municipality_code"]: r for r in csv.DictReader(f)}
    assert set(sources) == {m.municipality_code for m in municipalities()}
    assert {s["population_source"] for s in sources.values()} <= {
        "geonames", "geonames_name_stem", "geonames_romaji", "estimated_prefecture_kind_median_per_town",
        "estimated_national_kind_median_per_town", "estimated_city_split_by_towns"}
    assert all(sources[m.municipality_code]["population_source"] == "estimated_city_split_by_towns"
               for m in municipalities() if m.kind == "ward")
    assert sources["112038"] == {"municipality_code": "112038", "population_source": "geonames",
                                 "towns_source": "geolonia"}


def test_kawaguchi_has_the_towns_of_our_own_town_list():
    with open(REFERENCE_DIR / "towns.csv", encoding="utf-8", newline="") as f:
        assert municipality("112038").towns == sum(1 for _ in csv.DictReader(f)) == 272


def test_hamamatsu_has_its_three_wards_of_2024():
    wards = {m.name for m in municipalities() if m.parent_code == "221309"}
    assert wards == {"浜松市中央区", "浜松市浜名区", "浜松市天竜区"}
    assert municipality("221384").name == "浜松市中央区"


def _build_script():
    spec = importlib.util.spec_from_file_location("make_municipalities", ROOT / "scripts" / "make_municipalities.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_script_splits_exactly_and_agrees_on_check_digits():
    script = _build_script()
    assert script.split_by_weight(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(script.split_by_weight(1_234_567, [990, 0, 17, 5])) == 1_234_567
    assert script.without_chome("上島一丁目") == "上島" and script.without_chome("上島") == "上島"
    assert [script.romaji(k) for k in ("いな", "くっちゃん", "きょうと", "しんじゅく")] == [
        "ina", "kutchan", "kyouto", "shinjuku"]
    assert script.latin_key("Sōka") == script.latin_key("Souka") == script.romaji_stem("草加市", "そうかし") == "soka"
    assert script.romaji_stem("伊奈町", "いなまち") == "ina" and script.romaji_stem("伊奈町", "イナ") is None
    assert all(script.check_digit(m.municipality_code[:5]) == m.municipality_code[5] for m in municipalities())
