"""The generator writes a file for each business day of the city's calendar, not for every weekday."""

from __future__ import annotations

import datetime

from synthetic.city import generate_city


def test_no_file_on_golden_week_holidays(tmp_path):
    """From Monday 27 April 2026: 昭和の日 (29th) and 憲法記念日 to 振替休日 (3-6 May) get no file."""
    paths = generate_city(tmp_path, residents=200, days=10, start=datetime.date(2026, 4, 27), seed=4)
    assert [p.name[-12:-4] for p in paths] == ["20260427", "20260428", "20260430", "20260501", "20260507"]
