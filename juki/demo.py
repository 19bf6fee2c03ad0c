"""`make demo`: generate a synthetic city into the inbox, run the daily linkage over it, summarise."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

from juki.runner import run_daily_linkage
from juki_core.settings import Settings
from juki_core.store import connect
from tasks.land import list_inbox
from tasks.summary import latest_business_date, quarantine_by_rule, residents_on


def main(argv: list[str] | None = None) -> int:
    """Run the demo on the default store (data/registry.duckdb); the size is a parameter."""
    parser = argparse.ArgumentParser(prog="python -m juki.demo", description=__doc__)
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", help="the store (default: $JUKI_STORE or data/registry.duckdb)")
    args = parser.parse_args(argv)
    settings = Settings.resolve(args.store)
    started = time.monotonic()
    if not list_inbox(settings.inbox):
        from synthetic.city import generate_city

        print(f"generating a synthetic city of {args.residents:,} residents, {args.days} days, "
              f"seed {args.seed}, into {settings.inbox} …", file=sys.stderr)
        generate_city(settings.inbox, residents=args.residents, days=args.days, seed=args.seed,
                      progress=lambda m: print(f"  {m}", file=sys.stderr))
    else:
        print(f"{settings.inbox} already holds change files: taking in the new ones "
              "(`make clean-data` starts a fresh demo)", file=sys.stderr)
    for path in demo_keys(settings):
        print(f"hand-off key {path} (readable by its owner only)", file=sys.stderr)
    status = run_daily_linkage(settings, inbox=settings.inbox)
    print(summary(settings, time.monotonic() - started))
    return status


def demo_keys(settings: Settings) -> list[Path]:
    """A local AES-256 key per subscriber under data/keys/ (mode 0600), exported for this run only."""
    from tasks.handoff import load_subscribers

    folder = settings.root / "keys"
    folder.mkdir(mode=0o700, exist_ok=True)
    made = []
    for sub in load_subscribers().values():
        path = folder / f"{sub.name}.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            made.append(path)
        os.environ.setdefault(sub.key_env, path.read_text().strip())
    return made


def summary(settings: Settings, seconds: float) -> str:
    """The closing summary: files, rows, quarantine by rule, residents now, where everything is."""
    with connect(settings.store, read_only=True) as con:
        files = con.sql("select status, count(*), sum(rows_read), sum(rows_applied), sum(rows_quarantined), "
                        "sum(rows_skipped) from file_ledger group by status order by status").fetchall()
        by_rule = quarantine_by_rule(con)
        day = latest_business_date(con)
        residents = residents_on(con, day) if day else 0
        handoffs = con.sql(
            "select subscriber, count(*) as files, arg_max(file_name, sequence_no) as file_name, "
            "arg_max(rows, sequence_no) as rows, arg_max(encryption, sequence_no) as encryption, "
            "any_value(target) as target from handoff_ledger group by subscriber order by subscriber").pl().to_dicts()
        households = con.sql(
            "select count(distinct household_id) from resident_version where recorded_to is null "
            "and status = 'current' and valid_from <= $d and (valid_to is null or valid_to > $d)",
            params={"d": day}).fetchall()[0][0] if day else 0
    lines = ["", "juki demo — summary", "==================="]
    for status, n, read, applied, quarantined, skipped in files:
        lines.append(f"files {status:<9} {n:>4}   rows read {read:>9,}  applied {applied:>9,}  "
                     f"quarantined {quarantined:>6,}  skipped {skipped:>6,}")
    if by_rule:
        lines.append("quarantined rows by rule:")
        lines += [f"  {r['rule_id']:<34} {r['rows']:>6,}" for r in by_rule]
    width = max((len(h["subscriber"]) for h in handoffs), default=0)  # subscriber names line up whatever their length
    lines += [f"residents at the end of {day}: {residents:,} in {households:,} households",
              "",
              f"store       {settings.store}",
              f"archive     {settings.archive}   (every file as received, by SHA-256)",
              f"inbox       {settings.inbox}",
              f"statistics  {settings.stats}/{day}/   (population, households, movements: .parquet/.csv; "
              "pyramid.png)",
              *[f"hand-off    {h['subscriber']:<{width}} {h['files']:>3} file(s), newest {h['file_name']} "
                f"({h['rows']:,} rows, {h['encryption']}) in {h['target']}" for h in handoffs],
              f"took {seconds:.0f} s",
              "",
              "try:  .venv/bin/juki quarantine | head",
              "      .venv/bin/juki show <resident_code from the quarantine or the inbox files>",
              f"      .venv/bin/juki stats population --as-of {day}",
              "      .venv/bin/juki --help"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
