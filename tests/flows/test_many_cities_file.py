"""many-cities over a cities file: the flow run's parameters stay small however many cities it names."""

from __future__ import annotations

import json

import pytest

from flows.many_cities import City, listed_cities


def test_the_cities_of_a_file_are_the_cities_given_as_a_list(tmp_path):
    entries = [{"name": f"c{i}", "municipality_code": code, "store": f"{code}/registry.duckdb", "inbox": f"{code}/in"}
               for i, code in enumerate(("112038", "112011"))]
    (tmp_path / "cities.yaml").write_text(json.dumps({"cities": entries}), encoding="utf-8")
    from_file = listed_cities(None, str(tmp_path / "cities.yaml"))
    given = listed_cities([{**e, "store": str(tmp_path / e["store"]), "inbox": str(tmp_path / e["inbox"])}
                           for e in entries], None)
    assert from_file == given
    assert all(isinstance(c, City) for c in from_file)
    assert len(json.dumps({"cities_file": str(tmp_path / "cities.yaml")})) < 200


def test_cities_and_a_cities_file_together_or_neither_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not both or neither"):
        listed_cities(None, None)
    with pytest.raises(ValueError, match="not both or neither"):
        listed_cities([], str(tmp_path / "cities.yaml"))
