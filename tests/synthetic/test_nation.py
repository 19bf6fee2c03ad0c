"""A simulated nation: any municipality's city, the choice of municipalities and the layout on disk."""

from __future__ import annotations

import csv
import json
import re
import stat

import pytest

from juki_core.cities import keys_beside, load_cities, load_keys
from schemas.change_file import town_names
from synthetic.nation import LayoutError, choose, generate_municipality, layout, residents_for, ward_blocks
from tasks.handoff import load_subscribers


def rows_of(folder):
    """Every data row of every change file in the folder (utf-8 or cp932)."""
    out = []
    for path in sorted(folder.glob("*.csv")):
        encoding = json.loads((folder / "truth" / f"{path.stem}.json").read_text())["encoding"]
        with open(path, encoding="utf-8-sig" if encoding.startswith("utf-8") else "cp932", newline="") as f:
            out.extend(csv.DictReader(f))
    return out


def test_size_is_population_times_scale_but_at_least_forty():
    assert residents_for(1_960_000, 0.001) == 1960
    assert residents_for(650, 0.0001) == 40


def test_cities_are_spread_over_prefectures_largest_first(nation_reference):
    """N cities: the largest of each prefecture, then the second largest of each, in code order."""
    assert [m.municipality_code for m in choose(cities=3)] == ["011002", "111007", "132012"]
    assert [m.municipality_code for m in choose(cities=5)] == ["011002", "012041", "111007", "112038", "132012"]
    assert [m.municipality_code for m in choose(prefecture="11", cities=2)] == ["111007", "112038"]
    assert len(choose()) == 8  # every municipality, no 区
    assert [m.municipality_code for m in choose(codes=["131016", "112038"])] == ["112038", "131016"]
    with pytest.raises(LayoutError, match="区"):
        choose(codes=["111015"])
    with pytest.raises(LayoutError, match="999999"):
        choose(codes=["999999"])


def test_wards_take_contiguous_blocks_in_proportion():
    towns = [f"{i:04d}" for i in range(1, 101)]
    blocks = ward_blocks(towns, [("W1", 100), ("W2", 300), ("W3", 1)])
    assert [t for t, _w in blocks] == towns
    wards = [w for _t, w in blocks]
    assert wards == ["W1"] * 25 + ["W2"] * 74 + ["W3"]  # contiguous; the tiny ward still gets a town


def test_a_municipality_names_its_files_and_records(nation_reference, tmp_path):
    """Its code in the file names, its 都道府県名+市区町村名 in the 本籍 written in the city."""
    paths = generate_municipality(tmp_path, "011002", scale=0.00003, days=3, seed=4)  # 59 residents
    assert paths and all(p.name.startswith("011002_changes_") for p in paths)
    rows = rows_of(tmp_path)
    honseki = [r["honseki"] for r in rows if r["honseki"]]
    assert any(h.startswith("北海道札幌市") for h in honseki)
    assert not any("川口市" in h for h in honseki)
    assert sum(r["event_type"] == "BASELINE" for r in rows) >= 59


def test_layout_of_three_municipalities(nation_reference, tmp_path):
    """cities.yaml, inboxes, subscribers with the city's own key variables, keys.env 0600, wards of さいたま市."""
    out = tmp_path / "nation"
    done = layout(out, choose(codes=["112038", "111007", "014729"]), scale=0.0001, days=2, seed=3)
    assert done["cities"] == 3 and done["residents"] == 61 + 134 + 40

    cities = load_cities(out / "cities.yaml")
    assert [c["municipality_code"] for c in cities] == ["014729", "111007", "112038"]
    assert [c["name"] for c in cities] == ["北海道幌加内町", "埼玉県さいたま市", "埼玉県川口市"]
    assert cities[0]["store"] == str(out.resolve() / "014729" / "registry.duckdb")
    assert [bool(c.get("wards")) for c in cities] == [False, True, False]

    keys = load_keys(keys_beside(out / "cities.yaml"))
    assert stat.S_IMODE((out / "keys.env").stat().st_mode) == 0o600
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in keys.values()) and len(set(keys.values())) == len(keys)
    for city in cities:
        code = city["municipality_code"]
        assert sorted(p.name[:7] for p in (out / code / "inbox").glob("*.csv")) == [f"{code}_"] * 3  # BASELINE, 4/2, 4/3
        subscribers = load_subscribers(city["subscribers"])
        assert subscribers["conbini"].key_env == f"JUKI_{code}_CONBINI_KEY"
        assert {s.key_env for s in subscribers.values()} <= set(keys)
    assert len(keys) == 3 * len(load_subscribers())

    with open(out / "111007" / "wards.csv", encoding="utf-8", newline="") as f:
        wards = list(csv.DictReader(f))
    assert [w["town_code"] for w in wards] == sorted(town_names())
    sizes = {code: sum(w["ward_code"] == code for w in wards) for code in ("111015", "111023", "111031")}
    assert sum(sizes.values()) == len(town_names()) and sizes["111015"] < sizes["111031"] < sizes["111023"]

    with pytest.raises(LayoutError, match="already"):
        layout(out, choose(codes=["112038"]), days=1)


def test_a_city_is_the_same_whichever_others_are_laid_out(nation_reference, tmp_path):
    layout(tmp_path / "one", choose(codes=["112241"]), days=2)
    layout(tmp_path / "two", choose(codes=["112241", "131016"]), days=2)
    first, second = (sorted((tmp_path / n / "112241" / "inbox").glob("*.csv")) for n in ("one", "two"))
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_the_real_reference_list_can_be_laid_out():
    """All 1,741; N cities reach every prefecture first; every name fits the CP932 days of the files."""
    from synthetic.nation import full_name

    every = choose()
    assert len(every) == 1741
    assert len({m.prefecture_code for m in choose(cities=47)}) == 47
    for m in every:
        full_name(m).encode("cp932")

