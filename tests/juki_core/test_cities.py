"""The cities file's reader (juki_core/cities.py), shared by many-cities and the roll-up."""

import pytest

from juki_core.cities import CitiesError, load_cities


def test_an_unquoted_municipality_code_is_read_as_written_or_refused_with_the_fix(tmp_path):
    """YAML reads 112038 as a number and 011002 as octal 4610: the first is the code, the second is refused."""
    (tmp_path / "cities.yaml").write_text("cities:\n  - {name: a, municipality_code: 112038, store: a}\n",
                                          encoding="utf-8")
    assert load_cities(tmp_path / "cities.yaml")[0]["municipality_code"] == "112038"
    (tmp_path / "cities.yaml").write_text("cities:\n  - {name: a, municipality_code: 011002, store: a}\n",
                                          encoding="utf-8")
    with pytest.raises(CitiesError, match=r"cities.yaml: city 1 \(a\): municipality_code 4610 .*quotes"):
        load_cities(tmp_path / "cities.yaml")
