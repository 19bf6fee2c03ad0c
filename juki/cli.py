"""`juki`: the command line over the register. Read-only commands are plain DuckDB queries; no Prefect."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import textwrap

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_BUSY = 75  # EX_TEMPFAIL: another process is writing to the store; the same command works later

DESCRIPTION = """\
juki keeps a city's Basic Resident Register (住民基本台帳) in a DuckDB store and takes in the
front office's daily change files (異動データ) through Prefect flows.

The store is --store PATH, else $JUKI_STORE, else data/registry.duckdb. Beside it live
inbox/ (files waiting for `juki daily`), archive/ (every file as received, by SHA-256).
Subscribers (targets, key variables) are schemas/subscribers.yaml, or the file in $JUKI_SUBSCRIBERS.

Exit status: 0 work done (rows may be quarantined); 1 a file was refused or a check failed;
2 usage error (unknown command, bad date, no store); 75 the store is busy (a run is writing
to it): nothing was read or changed, run the same command again when the run has finished."""

EXAMPLES = {
    "ingest": """\
        examples:
          juki ingest data/inbox/112038_changes_20260401.csv
          juki ingest s3://city-inbox/112038_changes_20260402.csv --json""",
    "daily": """\
        examples:
          juki daily                      # every new file in the store's inbox/
          juki daily --date 2026-04-30    # only files dated up to 30 April""",
    "quarantine": """\
        examples:
          juki quarantine --file 112038_changes_20260402.csv
          juki quarantine --format json | jq '.[].rules'""",
    "show": """\
        examples:
          juki show 12345678901
          juki show 12345678901 --as-of 2026-04-01 --format json""",
    "stats": """\
        examples:
          juki stats population --as-of 2026-04-30
          juki stats households --as-of 2026-04-30 --format json
          juki stats movements --from 2026-04-01 --to 2026-04-30""",
    "replay": """\
        examples:
          juki replay --verify
          juki replay --until 2026-04-30 --verify --json""",
    "handoff": """\
        examples:
          JUKI_CONBINI_KEY=$(cat data/conbini.key) juki handoff conbini
          juki handoff conbini --as-of 2026-04-30 --target memory://conbini/ --plaintext""",
    "publish": """\
        examples:
          juki publish                    # after a crash, or a refused hand-off once its key is set
          juki publish --json""",
    "generate": """\
        examples:
          juki generate --out data/inbox --residents 5000 --days 30
          juki generate --out /tmp/city --seed 7
          juki generate --out /tmp/sapporo --municipality 011002 --scale 0.001   # 札幌市, ~1,960 residents""",
    "rollup": """\
        examples:
          juki rollup --date 2026-04-30 --cities nation/cities.yaml --out report/2026-04-30
          juki rollup --date 2026-12-31 --from 2026-01-01 --cities nation/cities.yaml --out report/2026
          juki rollup --date 2026-04-30 --cities three.yaml --expect listed --out /tmp/r; echo "exit $?"

        exit status: 0 every expected municipality reported and balanced; 1 the tables are written but
        incomplete (see <D>_報告状況.csv and the 集計状況 column), or the roll-up could not run (e.g. --out
        cannot be written: the reason on standard error, no tables); 2 usage error (bad date, cities file).""",
    "nation": """\
        examples:
          juki nation layout --out /tmp/nation --cities 50 --scale 0.0001 --days 5
          juki nation layout --out /tmp/saitama --prefecture 11 --scale 0.001
          juki nation layout --out /tmp/three --codes 112038,011002,131016
          juki many-cities --cities /tmp/nation/cities.yaml""",
    "many-cities": """\
        examples:
          juki many-cities --cities /tmp/nation/cities.yaml
          juki many-cities --cities cities.yaml --until 2026-04-10 --json""",
}


class UsageError(Exception):
    """A mistake in how juki was called; exit 2."""


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a time (YYYY-MM-DDTHH:MM[:SS][+09:00])") from None
    # the ledgers record UTC; a time without an offset is taken as UTC
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _days(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days (0 or more)")
    return int(value)


MAX_DAYS_AHEAD_HELP = ("refuse files dated more than N days after today in Asia/Tokyo "
                       "(FILE_DATE_IN_FUTURE; default: $JUKI_MAX_DAYS_AHEAD or 0)")
KNOWN_AT_HELP = "as the register knew it at this time (UTC unless an offset is given, e.g. +09:00)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="juki", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="the DuckDB store (default: $JUKI_STORE or data/registry.duckdb)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, store: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog=textwrap.dedent(EXAMPLES.get(name, "")),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        if store:  # the many-cities commands name their cities' stores in a cities file
            sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")
        return sub

    ingest = command("ingest", "Run the daily-linkage flow on these change files, in name order.")
    ingest.add_argument("files", nargs="+", metavar="FILE_OR_URI", help="a path or any fsspec URI")
    ingest.add_argument("--json", action="store_true", help="print only a JSON summary on standard output")
    ingest.add_argument("--max-days-ahead", type=_days, metavar="N", help=MAX_DAYS_AHEAD_HELP)

    daily = command("daily", "The scheduled entry: every inbox file not yet ingested, dated up to --date.")
    daily.add_argument("--inbox", help="the inbox URI (default: inbox/ beside the store)")
    daily.add_argument("--date", type=_date, help="take files dated up to this day (YYYY-MM-DD)")
    daily.add_argument("--json", action="store_true", help="print only a JSON summary on standard output")
    daily.add_argument("--max-days-ahead", type=_days, metavar="N", help=MAX_DAYS_AHEAD_HELP)

    quarantine = command("quarantine", "List refused rows with their rule ids (no personal data).")
    quarantine.add_argument("--file", help="only rows of this change file (its name)")
    quarantine.add_argument("--format", choices=("csv", "json"), default="csv")

    show = command("show", "One person's record on a day and their history; My Number masked.")
    show.add_argument("resident_code", metavar="RESIDENT_CODE", help="住民票コード (11 digits)")
    show.add_argument("--as-of", type=_date, help="the day (default: today)")
    show.add_argument("--known-at", type=_moment, help=KNOWN_AT_HELP)
    show.add_argument("--reveal", action="store_true",
                      help="show the full My Number; needs --reason, and is written to the disclosure log")
    show.add_argument("--reason", help="why the full My Number is needed (kept in the disclosure log)")
    show.add_argument("--format", choices=("text", "json"), default="text")

    stats = command("stats", "Population statistics: 人口, 世帯 and the movement table (異動集計表).")
    tables = stats.add_subparsers(dest="table", metavar="TABLE", required=True)
    for table, help_text in (("population", "residents by town, sex, 5-year age group, nationality group"),
                             ("households", "households and members by town and household type")):
        sub = tables.add_parser(table, help=help_text, description=help_text)
        sub.add_argument("--as-of", type=_date, required=True, help="the day (end of day)")
        sub.add_argument("--known-at", type=_moment, help=KNOWN_AT_HELP)
        sub.add_argument("--format", choices=("csv", "json"), default="csv")
        sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")
    sub = tables.add_parser("movements", help="movements with effective dates in --from..--to",
                            description="The movement table (異動集計表): counts of events by nationality "
                                        "group and sex, effective dates --from..--to (both included).")
    sub.add_argument("--from", dest="date_from", type=_date, required=True)
    sub.add_argument("--to", dest="date_to", type=_date, required=True)
    sub.add_argument("--known-at", type=_moment, help=KNOWN_AT_HELP)
    sub.add_argument("--format", choices=("csv", "json"), default="csv")
    sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")
    sub = tables.add_parser("report", help="the year's tables for the prefecture (総務省 layout)",
                            description="Write the year's tables in the layout of 総務省「住民基本台帳に基づく"
                                        "人口、人口動態及び世帯数調査」: population and households on 1 January, "
                                        "movements of the previous calendar year, 5-year age groups.")
    sub.add_argument("--year", type=int, required=True)
    sub.add_argument("--out", help="folder to write into (default: stats/report-YEAR beside the store)")
    sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")

    replay = command("replay", "Rebuild the register from the archive in a scratch place; with --verify, "
                               "compare every recorded digest (exit 1 on any mismatch).")
    replay.add_argument("--until", type=_date, help="stop after the runs whose files are dated up to this day")
    replay.add_argument("--verify", action="store_true", help="compare inputs, counts, register, statistics "
                                                             "and hand-off digests with the ledgers")
    replay.add_argument("--scratch", help="a new or empty folder to rebuild in, kept afterwards "
                                          "(default: a temporary folder, removed after)")
    replay.add_argument("--json", action="store_true", help="print only the JSON report on standard output")

    retention = command("retention", "Erase removed records (除票) 150 years after removal; purge refused rows' "
                                     "raw text after a year.")
    retention.description = """\
Erase what the privacy impact assessment says must go, in ONE transaction:

- a removed record (除票) whose removal took effect more than --years (default 150) calendar years before
  --as-of (a removal exactly 150 years ago stays): in every version of the person (both time axes) and every
  accepted event of theirs, the My Number, names and kana, alias, birth date, sex, nationality, town and
  address, residence and address dates, previous and destination address, 本籍 and 筆頭者, household and
  relationship, residence status, card number and expiry and foreign-resident category are cleared, and the
  support-measure flag becomes false;
- the raw text of a refused row whose delivery's business date is more than --quarantine-days (default 365)
  days before --as-of.

Kept: resident codes, version numbers, valid and recorded dates, statuses, event ids, types and dates and the
file and run each event came in; one tombstone per erased person (erased_resident: removed on, as of, run,
versions and events cleared); a purged refused row keeps its file, line, ids and rule ids, and each delivery
purged is logged (quarantine_purge). The archived input files are not touched.

Running it again with the same --as-of erases nothing more; `juki replay` repeats it at its place. Without
--dry-run it runs the Prefect flow `retention` and records the run in the run ledger; --dry-run only counts
(no Prefect, nothing written). Exit status: 0 done, 1 failed, 2 usage error."""
    retention.epilog = textwrap.dedent("""\
        examples:
          juki retention --dry-run                    # what would go today (Asia/Tokyo)
          juki retention                              # erase it
          juki retention --as-of 2026-12-31 --quarantine-days 730 --dry-run""")
    retention.add_argument("--as-of", type=_date, help="the day to count from (default: today in Asia/Tokyo; "
                                                       "a later day only with --dry-run)")
    retention.add_argument("--years", type=int, default=150,
                           help="retention of removed records in calendar years (default and minimum: 150)")
    retention.add_argument("--quarantine-days", type=int, default=365,
                           help="days a refused row keeps its raw text after its delivery's business date "
                                "(default: 365; below 30 only with --force)")
    retention.add_argument("--force", action="store_true",
                           help="allow --quarantine-days below 30 (erases the raw text of rows refused this month)")
    retention.add_argument("--dry-run", action="store_true", help="print what would go and change nothing")

    handoff = command("handoff", "Publish to a subscriber now (the daily flow also does it after every run).")
    handoff.add_argument("subscriber", choices=("conbini",), help="conbini: the convenience-store snapshot")
    handoff.add_argument("--as-of", type=_date, help="the day (default: the newest applied business date)")
    handoff.add_argument("--target", help="an fsspec URI (default: outbox/conbini/ beside the store)")
    handoff.add_argument("--plaintext", action="store_true",
                         help="write the Parquet file unencrypted, on purpose (default: AES-256-GCM with "
                              "the 64-hex-digit key in $JUKI_CONBINI_KEY)")

    publish = command("publish", "Publish everything past each output's watermark (statistics, feeds, snapshot) "
                               "without taking in files; the daily run does the same after its files.")
    publish.add_argument("--json", action="store_true", help="print only a JSON summary on standard output")

    audit = command("audit", "For auditors: the disclosure log and a self-contained HTML audit report.")
    whats = audit.add_subparsers(dest="what", metavar="WHAT", required=True)
    sub = whats.add_parser("disclosures", help="every time a full My Number left the register",
                           description="Every time a full My Number left the register: who, when, how many "
                                       "persons, why.")
    sub.add_argument("--from", dest="date_from", type=_date)
    sub.add_argument("--to", dest="date_to", type=_date)
    sub.add_argument("--format", choices=("csv", "json"), default="csv")
    sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")
    sub = whats.add_parser("households", help="households without a 世帯主 for more than 14 days, or with two",
                           description="Households of two or more residents without a 世帯主 for more than 14 "
                                       "days (住基法25条), and households with two 世帯主, on a date.")
    sub.add_argument("--as-of", type=_date, help="the day (default: the newest applied business date)")
    sub.add_argument("--format", choices=("csv", "json"), default="csv")
    sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")
    sub = whats.add_parser("receipts", help="feed rows a receiver answered with an error, or has not answered",
                           description="The change-feed rows a receiver answered with an error (and the file "
                                       "that re-sent each) and those not answered yet, of the subscribers that "
                                       "answer; exit 0 either way.")
    sub.add_argument("--format", choices=("csv", "json"), default="csv")
    sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")
    sub = whats.add_parser("report", help="an HTML report of a period, with the replay verdict",
                           description="Write a self-contained HTML report of what was received, applied, "
                                       "refused (by rule), published to whom, the disclosures, and the "
                                       "replay verdict, with digests. Replays the archive in a scratch "
                                       "folder first unless --no-replay.")
    sub.add_argument("--from", dest="date_from", type=_date, required=True)
    sub.add_argument("--to", dest="date_to", type=_date, required=True)
    sub.add_argument("--out", required=True, help="the HTML file to write")
    sub.add_argument("--no-replay", action="store_true", help="skip the replay (verdict: not verified)")
    sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")
    sub = whats.add_parser("chain", help="verify the ledger chain against its anchor file (exit 1 on a problem)",
                           description="Verify the hash chain over run_ledger, file_ledger, handoff_ledger and "
                                       "disclosure_log: every sealed row as sealed, every seal in order, and "
                                       "every head the one in ledger-anchors.jsonl beside the store.")
    sub.add_argument("--store", default=argparse.SUPPRESS, help="the DuckDB store")

    generate = command("generate", "Write a seeded synthetic city: a BASELINE file and daily change files.")
    generate.add_argument("--out", required=True, help="the folder to write into")
    generate.add_argument("--residents", type=int, help="city size (default: 607000, 川口市; with --municipality "
                                                        "its population × --scale, at least 40)")
    generate.add_argument("--municipality", metavar="CODE",
                          help="the 団体コード of the municipality to simulate (data/reference/municipalities.csv): "
                               "its code in the file names, its 都道府県名+市区町村名 in the records "
                               "(default: 112038, 川口市); the towns stay the project's town list")
    generate.add_argument("--scale", type=float, help="with --municipality: residents = population × F "
                                                      "(default: 1)")
    generate.add_argument("--days", type=int, default=20, help="calendar days after the baseline (default: 20)")
    generate.add_argument("--start", type=_date, default=dt.date(2026, 4, 1), help="baseline business date")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    rollup = command("rollup", "The national roll-up (全国集計): every city's statistics files for a date, "
                               "checked and summed into the survey's tables for the nation, each prefecture, "
                               "municipality and 区.", store=False)
    rollup.description = """\
Read every listed city's statistics files (stats/<date>/population, households and balance .parquet, through
fsspec: local folders or object storage URIs), check each city's balance, and write the tables of
総務省「住民基本台帳に基づく人口、人口動態及び世帯数調査」 in the layout and labels of `juki stats report`:
one block of rows for the nation (団体コード 000000, 全国), each prefecture, each municipality and each 区 of a
政令指定都市 (its towns mapped by the city's `wards` CSV town_code,ward_code), with a last column 集計状況:
完了, or 不完全 with the numbers of municipalities under the row that are missing or failing.

Population and households are those at the end of --date; the movements (人口動態) are the sum of the balance
files of every statistics date in --from..--date (default: --date alone). The files' periods must chain; a
--from inside a file's period widens the period to that file's start (<D>_報告状況.csv gives each city's).
A city fails when a file breaks its identity (residents_before + net_change = residents_after), when the
files leave a gap or do not chain (an earlier date rewritten after a later one), or when the end of the
period does not agree with population.parquet. A failing or missing city's figures are NOT added: its rows are empty and
every row above it says 不完全. Written into --out: <D>_人口動態及び世帯数.csv, <D>_年齢階級別人口.csv,
<D>_報告状況.csv (every expected municipality: reported / missing / failing and why) and
<D>_人口ピラミッド.png (the nation). Runs the Prefect flow `rollup`."""
    rollup.add_argument("--date", dest="date_to", type=_date, required=True, metavar="D",
                        help="the statistics date D: population at its end, the last day of the movements")
    rollup.add_argument("--from", dest="date_from", type=_date, metavar="F",
                        help="the first day of the movements (default: D, i.e. D's own balance file)")
    rollup.add_argument("--cities", required=True, metavar="CITIES.yaml",
                        help="the cities file (cities: [{name, municipality_code, store | stats, wards?}])")
    rollup.add_argument("--expect", choices=("nation", "listed"), default="nation",
                        help="who must report: every municipality of data/reference/municipalities.csv "
                             "(nation, the default) or only those in the cities file (listed)")
    rollup.add_argument("--out", required=True, metavar="DIR", help="the folder to write the tables into (fsspec URI allowed)")

    nation = command("nation", "A simulated nation: many municipalities' cities laid out for `juki many-cities`.",
                     store=False)
    nation_commands = nation.add_subparsers(dest="what", metavar="WHAT", required=True)
    lay = nation_commands.add_parser(
        "layout", help="generate the chosen municipalities' cities under --out",
        epilog=textwrap.dedent(EXAMPLES["nation"]), formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Generate the chosen municipalities' cities (default: all 1,741) under --out, each of max(population × --scale, 40)
residents with its own 団体コード in its file names and its 都道府県名+市区町村名 in its records:
  OUT/cities.yaml                  the cities for `juki many-cities --cities` (paths relative to it)
  OUT/<code>/inbox/                the city's BASELINE and daily change files (and their truth/)
  OUT/<code>/subscribers.yaml      schemas/subscribers.yaml with the city's own keys (JUKI_<code>_CONBINI_KEY, ...)
  OUT/<code>/wards.csv             for a 政令指定都市: town_code,ward_code, the towns in blocks over its 区
  OUT/keys.env                     a fresh random key per variable (mode 0600; never printed)
--cities N takes N spread over the prefectures: the largest municipality of each prefecture (in code order), then the
second largest of each, and so on. A city's files depend only on its code, --scale, --days, --start, --seed.""")
    chosen = lay.add_mutually_exclusive_group()
    chosen.add_argument("--codes", help="comma-separated 団体コード, e.g. 112038,011002")
    chosen.add_argument("--prefecture", metavar="CODE", help="only this prefecture's municipalities, e.g. 11")
    lay.add_argument("--cities", type=int, metavar="N", help="N of them, spread over the prefectures")
    lay.add_argument("--out", required=True, help="a new or empty folder")
    lay.add_argument("--scale", type=float, default=0.0001, help="residents = population × F (default: 0.0001)")
    lay.add_argument("--days", type=_days, default=5, help="calendar days after the baseline (default: 5)")
    lay.add_argument("--start", type=_date, default=dt.date(2026, 4, 1), help="baseline business date")
    lay.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")

    many = command("many-cities", "Run the daily linkage of every city of a cities file at once (Dask).",
                   store=False)
    many.description = """\
Run the many-cities flow: every city of --cities (YAML, `cities: [{name, municipality_code, store, inbox,
subscribers, stats, wards, city_name, keys_file}, ...]`, paths relative to it) takes its new inbox files into its
own store, each a task on a local Dask cluster ($JUKI_DASK_ADDRESS: a running one). A city's keys are read from
its `keys_file` (default: keys.env beside the cities file) before the environment and Prefect Secret blocks, and
are never put into the environment; workers of a cluster elsewhere need that file at the same path.
Exit status: 0 every city completed, 1 a city failed."""
    many.add_argument("--cities", required=True, help="the cities file (YAML)")
    many.add_argument("--until", type=_date, help="take files dated up to this day (YYYY-MM-DD)")
    many.add_argument("--json", action="store_true", help="print only the cities' summaries as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `juki` command."""
    args = _parser().parse_args(argv)
    from juki_core.store import StoreBusy, owner_only

    try:
        with owner_only():  # whatever a command writes (store, archive, statistics, targets) is the city's alone
            return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"juki {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreBusy as exc:  # not a mistake in the call: the same command works once the writer is done
        print(f"juki {args.command}: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `juki quarantine | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _settings(args):
    from juki_core.settings import Settings

    try:
        return Settings.resolve(getattr(args, "store", None), inbox=getattr(args, "inbox", None),
                                max_days_ahead=getattr(args, "max_days_ahead", None))
    except ValueError as exc:  # a setting from the environment that is not usable
        raise UsageError(str(exc)) from None


def _read_only(args):
    from juki_core.store import StoreBusy, StoreError, connect

    settings = _settings(args)
    try:
        return connect(settings.store, read_only=True)
    except StoreBusy:
        raise
    except StoreError as exc:
        raise UsageError(str(exc)) from None


def cmd_ingest(args) -> int:
    from juki.runner import run_daily_linkage
    from juki_core.store import check_writer_free

    missing = [f for f in args.files if "://" not in f and not os.path.exists(f)]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    from tasks.land import NotAFile, check_regular_files

    try:
        check_regular_files(args.files)
    except NotAFile as exc:
        raise UsageError(str(exc)) from None
    settings = _settings(args)
    check_writer_free(settings.store)  # busy: exit 75 now, not after Prefect's 10-20 s start
    return run_daily_linkage(settings, files=args.files, as_json=args.json)


def cmd_daily(args) -> int:
    from juki.runner import run_daily_linkage
    from juki_core.store import check_writer_free

    settings = _settings(args)
    check_writer_free(settings.store)  # busy: exit 75 now, not after Prefect's 10-20 s start
    return run_daily_linkage(settings, inbox=settings.inbox, until=args.date, as_json=args.json)


def cmd_quarantine(args) -> int:
    from juki import queries

    with _read_only(args) as con:
        rows = queries.quarantine_rows(con, args.file)
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["file", "line", "event_id", "resident_code", "rules"])
        for r in rows:
            writer.writerow([r["file"], r["line"], r["event_id"], r["resident_code"], ";".join(r["rules"])])
    return EXIT_OK


def cmd_show(args) -> int:
    from juki import queries
    from tasks.summary import BeforeRegister

    if args.reason and not args.reveal:
        raise UsageError("--reason goes with --reveal")
    if args.reveal:
        return _reveal(args)
    with _read_only(args) as con:
        try:
            shown = queries.show(con, args.resident_code, args.as_of or dt.date.today(), args.known_at)
        except BeforeRegister as exc:
            raise UsageError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(shown, ensure_ascii=False, indent=1, default=str))
    else:
        print(queries.show_text(shown))
    return EXIT_OK


def cmd_stats(args) -> int:
    from tasks import stats
    from tasks.summary import BeforeRegister, check_known

    if args.table == "report":
        return _stats_report(args)
    with _read_only(args) as con:
        try:
            if args.table == "movements":
                if args.date_to < args.date_from:
                    raise UsageError("--to is before --from")
                check_known(con, args.date_from)
                relation = stats.table(con, "movements", known_at=args.known_at, date_from=args.date_from,
                                       date_to=args.date_to)
            else:
                check_known(con, args.as_of)
                relation = stats.table(con, args.table, args.as_of, args.known_at)
            # rows as Python values, written without polars: a read command imports only what it needs
            columns, rows = relation.columns, relation.fetchall()
        except BeforeRegister as exc:
            raise UsageError(str(exc)) from None
    if args.format == "json":
        print(json.dumps([dict(zip(columns, row)) for row in rows], ensure_ascii=False, indent=1))
    else:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    return EXIT_OK


def _reveal(args) -> int:
    from juki import queries
    from juki_core.store import StoreBusy, StoreError, connect, writer_lock
    from tasks import disclosure
    from tasks.summary import BeforeRegister

    settings = _settings(args)
    if not settings.store.exists():
        raise UsageError(f"no store at {settings.store}: pass --store")
    try:
        with writer_lock(settings.store, "juki show --reveal"), connect(settings.store) as con:
            shown = disclosure.reveal(con, args.resident_code, args.as_of or dt.date.today(),
                                      disclosure.current_user(), args.reason or "", args.known_at)
    except StoreBusy:
        raise
    except (ValueError, BeforeRegister, StoreError) as exc:
        raise UsageError(str(exc)) from None
    shown.pop("disclosure", None)
    if args.format == "json":
        print(json.dumps(shown, ensure_ascii=False, indent=1, default=str))
    else:
        print(queries.show_text(shown))
    return EXIT_OK


def _audit_chain(args) -> int:
    from tasks import chain

    settings = _settings(args)
    with _read_only(args) as con:
        state = chain.status(con, chain.anchors_beside(settings.store))
    for problem in state["problems"]:
        print(problem)
    if state.get("interrupted"):
        print(state["interrupted"])
    if state["problems"]:
        return EXIT_FAILED
    if state["seals"]:
        print(f"the ledger chain is intact: {state['seals']} seal(s), head {state['head']}, {state['last_seal']}.")
    else:
        print("the ledger chain holds no seal yet.")
    return EXIT_OK


def _audit_households(args) -> int:
    import csv
    import io

    from tasks.summary import BeforeRegister, check_known
    from tasks.heads import households_to_look_at
    from tasks.summary import latest_business_date

    with _read_only(args) as con:
        as_of = args.as_of or latest_business_date(con)
        if as_of is None:
            raise UsageError("the register has applied no file yet")
        try:
            check_known(con, as_of)
        except BeforeRegister as exc:
            raise UsageError(str(exc)) from None
        rows = households_to_look_at(con, as_of)
    if args.format == "json":
        print(json.dumps(rows, default=str, ensure_ascii=False, indent=1))
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, ["problem", "household_id", "members", "since", "days"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    return EXIT_OK


def _audit_receipts(args) -> int:
    import csv
    import io

    from tasks import receipts
    from tasks.receipts import OUTSTANDING_COLUMNS

    with _read_only(args) as con:
        rows = receipts.outstanding(con) if receipts.has_tables(con) else []
    if args.format == "json":
        print(json.dumps(rows, default=str, ensure_ascii=False, indent=1))
    else:
        out = io.StringIO()
        writer = csv.DictWriter(out, OUTSTANDING_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    return EXIT_OK


def cmd_audit(args) -> int:
    from tasks import disclosure

    if args.what == "receipts":
        return _audit_receipts(args)
    if args.what == "chain":
        return _audit_chain(args)
    if args.what == "households":
        return _audit_households(args)
    if args.what == "disclosures":
        with _read_only(args) as con:
            rows = disclosure.disclosures(con, args.date_from, args.date_to)
        if args.format == "json":
            print(json.dumps(rows, default=str, ensure_ascii=False, indent=1))
        else:
            sys.stdout.write(disclosure.disclosures_csv(rows))
        return EXIT_OK
    from pathlib import Path

    from tasks.audit_report import write_audit_report

    if args.date_to < args.date_from:
        raise UsageError("--to is before --from")
    verdict = None
    if not args.no_replay:
        from tasks.replay import replay

        import tempfile

        with tempfile.TemporaryDirectory(prefix="juki-replay-") as scratch:
            verdict = replay(_settings(args), Path(scratch), until=args.date_to, verify=True,
                             progress=lambda m: print(m, file=sys.stderr))
    with _read_only(args) as con:
        path = write_audit_report(con, args.date_from, args.date_to, Path(args.out), verdict)
    print(path)
    return EXIT_OK


def _stats_report(args) -> int:
    from pathlib import Path

    from tasks.stats_report import ReportDoesNotBalance, write_report
    from tasks.summary import BeforeRegister, check_known

    if not 2 <= args.year <= 9999:
        raise UsageError(f"--year {args.year} is not a year the register can report on")
    settings = _settings(args)
    folder = Path(args.out) if args.out else Path(settings.stats) / f"report-{args.year}"
    with _read_only(args) as con:
        try:
            # the movements of the previous year need the population on the day before it
            check_known(con, dt.date(args.year - 1, 1, 1) - dt.timedelta(days=1))
        except BeforeRegister as exc:
            raise UsageError(f"{exc}; the {args.year} report needs the register from the end of "
                             f"{args.year - 2}") from None
        try:
            paths = write_report(con, args.year, folder, _report_where(settings.municipality_code))
        except ReportDoesNotBalance as exc:
            print(f"juki: {exc}; nothing written", file=sys.stderr)
            return EXIT_FAILED
    for path in paths:
        print(path)
    return EXIT_OK


def _report_where(code: str) -> tuple[str, str, str]:
    """(団体コード, 都道府県名, 市区町村名) of the register's municipality ($JUKI_MUNICIPALITY_CODE) for its report."""
    from schemas.municipalities import municipality

    try:
        m = municipality(code)
    except KeyError:
        raise UsageError(f"the municipality code {code} is not in data/reference/municipalities.csv") from None
    return m.municipality_code, m.prefecture, m.name


def cmd_replay(args) -> int:
    from juki.runner import run_replay

    from pathlib import Path

    from tasks.replay import ReplayError, scratch_settings

    settings = _settings(args)
    if not settings.store.exists():
        raise UsageError(f"no store at {settings.store}: pass --store")
    if args.scratch:
        try:  # refuse a scratch folder inside the live city before Prefect starts
            scratch_settings(settings, Path(args.scratch))
        except ReplayError as exc:
            raise UsageError(str(exc)) from None
    return run_replay(settings, args.until, args.verify, args.json, args.scratch)


def cmd_retention(args) -> int:
    from tasks import retention

    settings = _settings(args)
    if not settings.store.exists():
        raise UsageError(f"no store at {settings.store}: pass --store")
    if args.years < 1 or args.quarantine_days < 0:
        raise UsageError("--years must be at least 1 and --quarantine-days at least 0")
    as_of = args.as_of or retention.today()
    if args.dry_run:
        return _retention_dry_run(args, as_of)
    if as_of > retention.today():
        raise UsageError(f"--as-of {as_of} is after today: records would be erased before their retention period "
                         "ends; add --dry-run to see what would go then")
    if args.quarantine_days < retention.MIN_QUARANTINE_DAYS and not args.force:
        raise UsageError(f"--quarantine-days {args.quarantine_days} would erase the raw text of rows refused less "
                         f"than {retention.MIN_QUARANTINE_DAYS} days ago, which may still be corrected and re-sent; "
                         "add --force to purge them anyway, or --dry-run to see what would go")
    if args.years < retention.YEARS:
        raise UsageError(f"--years {args.years} is shorter than the {retention.YEARS} years a removed record must "
                         "be kept (住民基本台帳法施行令第34条); add --dry-run to see what would go")
    from juki.runner import run_retention
    from juki_core.store import check_writer_free

    check_writer_free(settings.store)  # busy: exit 75 now, not after Prefect's 10-20 s start
    return run_retention(settings, as_of, args.years, args.quarantine_days)


def _retention_dry_run(args, as_of: dt.date) -> int:
    from juki_core.store import StoreBusy, StoreError, connect, has_table
    from tasks import retention

    con = _read_only(args)
    try:
        if not has_table(con, "erased_resident"):  # no writing command opened the store since retention came
            con.close()
            con = connect(_settings(args).store)  # adds the empty retention tables, as every writer does
        erasure = retention.plan_erasure(con, as_of, args.years, args.quarantine_days)
    except StoreBusy:  # not a usage mistake: try again later
        raise
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    finally:
        con.close()
    print(retention.summary(erasure, as_of, args.years, args.quarantine_days, dry_run=True))
    return EXIT_OK


def cmd_handoff(args) -> int:
    from juki_core.store import StoreBusy, StoreError, connect, writer_lock
    from tasks import chain, disclosure, handoff
    from tasks.keys import subscriber_key
    from tasks.summary import BeforeRegister, check_known, latest_business_date

    settings = _settings(args)
    if not settings.store.exists():
        raise UsageError(f"no store at {settings.store}: run `juki ingest` or `juki daily` first, or pass --store")
    subscriber = handoff.load_subscribers()[args.subscriber]
    try:
        key = None if args.plaintext else subscriber_key(subscriber, use_prefect=bool(os.environ.get("PREFECT_API_URL")))
        with writer_lock(settings.store, f"juki handoff {args.subscriber}"), connect(settings.store) as con:
            as_of = args.as_of or latest_business_date(con)
            check_known(con, as_of or dt.date.today())
            manifest = handoff.publish_conbini(con, handoff.target_uri(subscriber, settings.root, args.target),
                                               as_of, key, args.plaintext, run_id="cli", city_name=settings.city_name)
            disclosure.record_publish(con, subscriber, manifest, "cli")
            chain.seal(con)  # written outside a run: sealed at once, not by the next run
    except handoff.KeyMissing as exc:
        raise UsageError(str(exc)) from None
    except StoreBusy:
        raise
    except (BeforeRegister, StoreError) as exc:
        raise UsageError(str(exc)) from None
    except handoff.HandoffError as exc:
        print(f"juki handoff: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(manifest, ensure_ascii=False, indent=1, default=str))
    return EXIT_OK


def cmd_publish(args) -> int:
    import uuid

    from tasks.keys import subscriber_key
    from juki_core.store import StoreBusy, StoreError, connect, writer_lock
    from tasks import daily

    settings = _settings(args)
    if not settings.store.exists():
        raise UsageError(f"no store at {settings.store}: run `juki ingest` or `juki daily` first, or pass --store")
    run_id = f"publish-{uuid.uuid4()}"
    use_prefect = bool(os.environ.get("PREFECT_API_URL"))
    try:
        with writer_lock(settings.store, f"juki publish {run_id}"), connect(settings.store) as con:
            record = daily.run(con, settings, run_id, [], daily.parameters(settings, [], command="publish"),
                               key_for=lambda sub: subscriber_key(sub, use_prefect=use_prefect),
                               log=lambda message: print(message, file=sys.stderr))
    except StoreBusy:  # exit 75: the same command works once the other run is done
        raise
    except StoreError as exc:
        print(f"juki publish: {exc}", file=sys.stderr)
        return EXIT_FAILED
    summary = {"run_id": run_id, "status": record.status, "statistics": sorted(record.statistics),
               "handoffs": {name: [{k: h.get(k) for k in ("file", "sequence_no", "snapshot_id", "rows")
                                    if h.get(k) is not None} for h in files]
                            for name, files in record.handoffs.items()},
               "problems": record.problems()}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        sent = sum(len(files) for files in summary["handoffs"].values())
        print(f"published {len(summary['statistics'])} statistics file(s) and {sent} hand-off file(s) "
              f"(run {run_id}, {record.status}).")
    for problem in summary["problems"]:
        print(problem, file=sys.stderr)
    return EXIT_OK if record.status == "completed" else EXIT_FAILED


def cmd_generate(args) -> int:
    from synthetic.city import generate_city

    if (args.residents is not None and args.residents < 1) or args.days < 0:
        raise UsageError("--residents must be at least 1 and --days at least 0")
    if args.scale is not None and (args.municipality is None or args.scale <= 0):
        raise UsageError("--scale goes with --municipality and must be above 0")
    say = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.municipality:
        from synthetic.nation import LayoutError, generate_municipality

        try:
            paths = generate_municipality(args.out, args.municipality, scale=args.scale or 1.0,
                                          residents=args.residents, days=args.days, start=args.start,
                                          seed=args.seed, progress=say)
        except LayoutError as exc:
            raise UsageError(str(exc)) from None
    else:
        paths = generate_city(args.out, residents=args.residents or 607_000, days=args.days, start=args.start,
                              seed=args.seed, progress=say)
    print(f"wrote {len(paths)} change files into {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_rollup(args) -> int:
    from tasks import rollup

    if args.date_from and args.date_from > args.date_to:
        raise UsageError("--from is after --date")
    try:
        cities = rollup.load_cities(args.cities)
        reference, _ = rollup.reference()
        rollup.expected_codes(reference, cities, args.expect)
    except rollup.CitiesFileError as exc:
        raise UsageError(str(exc)) from None
    except (ImportError, OSError) as exc:  # the reference list is part of the install
        raise UsageError(f"the reference list of municipalities cannot be read: {exc}") from None
    from juki.runner import _start_prefect

    _start_prefect()
    from flows.rollup import rollup as rollup_flow

    state = rollup_flow(date=args.date_to, date_from=args.date_from, cities_file=str(args.cities),
                        out=str(args.out), expect=args.expect, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException) or not isinstance(result, dict):
        print(f"juki rollup: {state.message or result}", file=sys.stderr)
        return EXIT_FAILED
    for path in result["paths"]:
        print(path)
    reported = result["expected"] - len(result["missing"]) - len(result["failing"])
    print(f"{reported} of {result['expected']} municipalities reported", file=sys.stderr)
    status_file = next(p for p in result["paths"] if p.endswith("報告状況.csv"))
    for label, codes in (("missing", result["missing"]), ("failing (figures not added)", result["failing"])):
        if codes:
            more = f" … and {len(codes) - 20} more (all in {status_file})" if len(codes) > 20 else ""
            print(f"{label}: {', '.join(codes[:20])}{more}", file=sys.stderr)
    return EXIT_OK if result["complete"] else EXIT_FAILED


def cmd_nation(args) -> int:
    from pathlib import Path

    from synthetic.nation import LayoutError, choose, layout

    if args.scale <= 0:
        raise UsageError("--scale must be above 0")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} is not a new or empty folder")
    try:
        codes = [c.strip() for c in args.codes.split(",") if c.strip()] if args.codes else None
        chosen = choose(cities=args.cities, codes=codes, prefecture=args.prefecture)
        print(f"laying out {len(chosen)} municipalities at scale {args.scale} into {out}", file=sys.stderr)
        done = layout(out, chosen, scale=args.scale, days=args.days, start=args.start, seed=args.seed,
                      progress=lambda m: print(m, file=sys.stderr))
    except LayoutError as exc:
        raise UsageError(str(exc)) from None
    print(f"laid out {done['cities']} cities ({done['residents']:,} residents, {done['files']} files) in "
          f"{done['seconds']} s: juki many-cities --cities {out / 'cities.yaml'}", file=sys.stderr)
    return EXIT_OK


def cmd_many_cities(args) -> int:
    from juki.runner import run_many_cities
    from juki_core.cities import CitiesError, city_keys, keys_beside, load_cities

    try:
        cities = load_cities(args.cities)
        keys = keys_beside(args.cities)
        if keys.is_file():
            city_keys(keys)  # a keys file that cannot be read is a usage error here, not 1,741 failed cities
    except CitiesError as exc:
        raise UsageError(str(exc)) from None
    return run_many_cities(cities, args.until, args.json, cities_file=args.cities)


COMMANDS = {"rollup": cmd_rollup, "ingest": cmd_ingest, "daily": cmd_daily, "quarantine": cmd_quarantine, "show": cmd_show, "stats": cmd_stats, "handoff": cmd_handoff, "audit": cmd_audit, "replay": cmd_replay, "retention": cmd_retention,
            "publish": cmd_publish, "generate": cmd_generate, "nation": cmd_nation, "many-cities": cmd_many_cities}

if __name__ == "__main__":
    sys.exit(main())
