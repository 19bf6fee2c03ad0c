"""many-cities over a cities file: the flow run's parameters stay small however many cities it names."""

from __future__ import annotations

import json
import os

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


def test_juki_many_cities_gives_the_flow_the_file_not_the_cities(tmp_path, monkeypatch):
    """The flow run's parameters are the file's path, however many cities it names."""
    import flows.many_cities
    from juki import runner

    given = {}

    class State:
        message = ""

        def is_failed(self):
            return False

    def flow(**parameters):
        given.update(parameters)
        return State()

    monkeypatch.setattr(runner, "_start_prefect", lambda: None)
    monkeypatch.setattr(runner, "_outcome", lambda state: [])
    monkeypatch.setattr(flows.many_cities, "many_cities", flow)
    cities = [{"name": f"c{i}", "municipality_code": "112038", "store": f"{i}/registry.duckdb"} for i in range(1741)]
    assert runner.run_many_cities(cities, as_json=True, cities_file=str(tmp_path / "cities.yaml")) == 0
    assert given["cities_file"] == str((tmp_path / "cities.yaml").resolve()) and "cities" not in given
    assert len(json.dumps(given, default=str)) < 200


def test_cities_and_a_cities_file_together_or_neither_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not both or neither"):
        listed_cities(None, None)
    with pytest.raises(ValueError, match="not both or neither"):
        listed_cities([], str(tmp_path / "cities.yaml"))


def test_a_city_of_a_file_takes_its_keys_from_keys_env_beside_it_not_the_environment(tmp_path, monkeypatch):
    """keys.env beside the file is each city's keys file; its keys come before the environment and stay out of it."""
    from flows.many_cities import key_for
    from tasks.handoff import Subscriber

    entries = [{"name": "a", "municipality_code": "112038", "store": "a/registry.duckdb"},
               {"name": "b", "municipality_code": "112011", "store": "b/registry.duckdb", "keys_file": "b.env"}]
    (tmp_path / "cities.yaml").write_text(json.dumps({"cities": entries}), encoding="utf-8")
    (tmp_path / "keys.env").write_text("JUKI_112038_CONBINI_KEY=" + "ab" * 32 + "\n", encoding="utf-8")
    (tmp_path / "b.env").write_text("JUKI_112011_CONBINI_KEY=" + "cd" * 32 + "\n", encoding="utf-8")
    monkeypatch.setenv("JUKI_112038_CONBINI_KEY", "ef" * 32)
    a, b = listed_cities(None, str(tmp_path / "cities.yaml"))
    assert (a.keys_file, b.keys_file) == (str(tmp_path / "keys.env"), str(tmp_path / "b.env"))

    def sub(code):
        return Subscriber(name="conbini", mode="snapshot", target="", fields=(), population="current",
                          key_env=f"JUKI_{code}_CONBINI_KEY")

    assert key_for(a)(sub("112038")) == bytes.fromhex("ab" * 32)
    assert key_for(b)(sub("112011")) == bytes.fromhex("cd" * 32)
    assert "JUKI_112011_CONBINI_KEY" not in os.environ
