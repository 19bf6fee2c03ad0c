"""Statistics as products: the business date's tables as Parquet and CSV, and a population pyramid."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
from pathlib import Path
from typing import Callable

import duckdb
import fsspec
import polars as pl

from tasks import stats

AGE_GROUPS = [f"{a}-{a + 4}" for a in range(0, 100, 5)] + ["100+"]


def daily_tables(con: duckdb.DuckDBPyConnection, business_date: dt.date, period_from: dt.date | None = None,
                 known_before: dt.datetime | None = None) -> dict[str, pl.DataFrame]:
    """Population and households at the end of the business date, its movements, and with `period_from` the
    balance since the previous statistics date, whose files were written knowing what the register knew at
    `known_before` (None: not recorded, taken as now)."""
    tables = {"population": stats.population(con, business_date),
              "households": stats.households(con, business_date),
              "movements": stats.movements(con, business_date, business_date)}
    if period_from is not None:
        tables["balance"] = stats.balance(con, period_from, business_date, known_before)
    return tables


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    # pyarrow with fixed options and no wall-clock metadata: the same table gives the same bytes.
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(_as_written(frame), out, compression="zstd", compression_level=3, write_statistics=False,
                   store_schema=False, use_dictionary=False)
    return out.getvalue()


def _as_written(frame: pl.DataFrame):
    """The Arrow table the files were always written from: the frame by way of pandas. Text and integer columns
    without nulls (every table here) are the same without that detour, which costs a daily run the pandas import;
    anything else (an integer null becomes a float in pandas, a date a timestamp) still takes it."""
    if all(dtype == pl.String or (dtype.is_integer() and not frame[name].null_count())
           for name, dtype in frame.schema.items()):
        return frame.rechunk().to_arrow()
    import pyarrow as pa

    return pa.Table.from_pandas(frame.to_pandas(), preserve_index=False).replace_schema_metadata(None)


def write_tables(tables: dict[str, pl.DataFrame], stats_uri: str, business_date: dt.date,
                 written: Callable[[str], None] = lambda boundary: None) -> dict[str, str]:
    """Write each table as Parquet and CSV under stats/<date>/ through fsspec; file -> SHA-256.

    `written("after-stats-file")` is called after each file (the fault-injection tests kill a run there)."""
    folder = f"{stats_uri.rstrip('/')}/{business_date.isoformat()}"
    fs, root = fsspec.core.url_to_fs(folder)
    fs.makedirs(root, exist_ok=True)
    digests = {}
    for name, frame in tables.items():
        for suffix, data in ((".parquet", _parquet_bytes(frame)), (".csv", frame.write_csv().encode("utf-8"))):
            path = f"{root}/{name}{suffix}"
            with fs.open(path, "wb") as f:
                f.write(data)
            digests[f"{business_date.isoformat()}/{name}{suffix}"] = hashlib.sha256(data).hexdigest()
            written("after-stats-file")
    return digests


FONT_NAMES = ("ipag.ttf", "ipaexg.ttf", "notosanscjk-regular.ttc", "notosanscjkjp-regular.otf")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
COLOURS = {("1", "japanese"): "#4c72b0", ("2", "japanese"): "#dd8452",
           ("1", "foreign"): "#8fb3e0", ("2", "foreign"): "#f2b88e"}


def _counts(population: pl.DataFrame) -> dict[tuple[str, str, str], int]:
    rows = population.group_by("sex", "age_group", "nationality_group").agg(pl.col("residents").sum()).to_dicts()
    return {(r["sex"], r["age_group"], r["nationality_group"]): r["residents"] for r in rows}


@functools.cache
def _japanese_font() -> str | None:
    # the first of the known Japanese fonts by path, as matplotlib's lookup chose it; found without matplotlib
    found = sorted(str(f) for d in FONT_DIRS if Path(d).expanduser().is_dir()
                   for f in Path(d).expanduser().rglob("*") if f.name.lower() in FONT_NAMES)
    return found[0] if found else None


def _tick_step(largest: int) -> int:
    """The smallest of 1, 2, 5 × 10^k that marks the larger side with at most four ticks."""
    step, k = 1, 0
    while largest > 4 * step:
        k += 1
        step = (1, 2, 5)[k % 3] * 10 ** (k // 3)
    return step


def pyramid_png(population: pl.DataFrame, as_of: dt.date) -> bytes:
    """A population pyramid (男 left, 女 right; 日本人 and 外国人 stacked) as PNG bytes, labelled in Japanese."""
    # drawn with Pillow (a 0.05 s import) rather than matplotlib (about 1 CPU s of imports per run, the largest
    # cost of a small day); runs recorded before this draw with pyramid_png_matplotlib, which the replay checks
    from PIL import Image, ImageDraw, ImageFont

    font_file = _japanese_font()
    ja = font_file is not None

    def font(size: int):
        return ImageFont.truetype(font_file, size) if ja else ImageFont.load_default(size)

    value = _counts(population)
    width, height, top, bottom, left, right = 700, 600, 44, 520, 96, 680
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    totals = [sum(value.get((sex, g, n), 0) for n in ("japanese", "foreign")) for sex in "12" for g in AGE_GROUPS]
    largest = max([1, *totals])
    step = _tick_step(largest)
    reach = -(-largest // step) * step
    centre = (left + right) / 2
    scale = (right - centre) / reach
    row = (bottom - top) / len(AGE_GROUPS)
    small, label = font(11), font(13)
    for i, group in enumerate(AGE_GROUPS):
        y0 = bottom - (i + 1) * row + row * 0.1
        y1 = bottom - i * row - row * 0.1
        for sex, sign in (("1", -1), ("2", 1)):
            start = 0
            for nationality in ("japanese", "foreign"):
                count = value.get((sex, group, nationality), 0)
                if count:
                    a, b = centre + sign * start * scale, centre + sign * (start + count) * scale
                    draw.rectangle((min(a, b), y0, max(a, b), y1), fill=COLOURS[(sex, nationality)])
                start += count
        text = (group.replace("+", "歳以上") if "+" in group else f"{group}歳") if ja else group
        draw.text((left - 6, (y0 + y1) / 2), text, fill="black", font=small, anchor="rm")
    draw.rectangle((left, top, right, bottom), outline="black")
    draw.line((centre, top, centre, bottom), fill="black")
    for v in range(0, reach + 1, step):
        for sign in ((-1, 1) if v else (1,)):
            x = centre + sign * v * scale
            draw.line((x, bottom, x, bottom + 4), fill="black")
            draw.text((x, bottom + 6), f"{v:,}", fill="black", font=small, anchor="mt")
    draw.text((width / 2, 14), f"人口ピラミッド（{as_of.year}年{as_of.month}月{as_of.day}日現在）" if ja
              else f"Population pyramid, end of {as_of.isoformat()}", fill="black", font=font(15), anchor="mt")
    draw.text((centre, bottom + 30), "人口（左: 男、右: 女）" if ja else "residents (men left, women right)",
              fill="black", font=label, anchor="mt")
    legend = [((sex, n), (("日本人・" if n == "japanese" else "外国人・") + ("男" if sex == "1" else "女")) if ja
               else ("Japanese, " if n == "japanese" else "foreign, ") + ("men" if sex == "1" else "women"))
              for n in ("japanese", "foreign") for sex in "12"]
    for k, (key, text) in enumerate(legend):
        y = bottom - 16 * (len(legend) - k) - 4
        draw.rectangle((right - 118, y, right - 104, y + 10), fill=COLOURS[key])
        draw.text((right - 98, y + 5), text, fill="black", font=small, anchor="lm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def pyramid_png_matplotlib(population: pl.DataFrame, as_of: dt.date) -> bytes:
    """The pyramid as runs before the Pillow drawing wrote it (the replay compares their recorded digests)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    # A Japanese font by file (Debian's fonts-ipafont-gothic, or Noto CJK): matplotlib's cached font list may
    # predate its installation. Without one the labels would be empty boxes, so they stay in English.
    font = next((f for f in sorted(font_manager.findSystemFonts())
                 if f.rsplit("/", 1)[-1].lower() in ("ipag.ttf", "ipaexg.ttf", "notosanscjk-regular.ttc",
                                             "notosanscjkjp-regular.otf")), None)
    ja = font is not None
    props = {"fontproperties": font_manager.FontProperties(fname=font)} if ja else {}
    counts = (population.group_by("sex", "age_group", "nationality_group").agg(pl.col("residents").sum())
              .to_dicts())
    value = {(r["sex"], r["age_group"], r["nationality_group"]): r["residents"] for r in counts}
    y = range(len(AGE_GROUPS))
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    for sex, sign in (("1", -1), ("2", 1)):
        japanese = [value.get((sex, g, "japanese"), 0) for g in AGE_GROUPS]
        foreign = [value.get((sex, g, "foreign"), 0) for g in AGE_GROUPS]
        ax.barh(y, [sign * v for v in japanese], color="#4c72b0" if sex == "1" else "#dd8452",
                label=("日本人・" + ("男" if sex == "1" else "女")) if ja
                else "Japanese, " + ("men" if sex == "1" else "women"))
        ax.barh(y, [sign * v for v in foreign], left=[sign * v for v in japanese],
                color="#8fb3e0" if sex == "1" else "#f2b88e",
                label=("外国人・" + ("男" if sex == "1" else "女")) if ja
                else "foreign, " + ("men" if sex == "1" else "women"))
    ticks = [g.replace("+", "歳以上") if "+" in g else f"{g}歳" for g in AGE_GROUPS] if ja else AGE_GROUPS
    ax.set_yticks(list(y), ticks, **({"fontproperties": font_manager.FontProperties(fname=font, size=7)} if ja
                                      else {"fontsize": 7}))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{abs(int(v)):,}"))
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_title(f"人口ピラミッド（{as_of.year}年{as_of.month}月{as_of.day}日現在）" if ja
                 else f"Population pyramid, end of {as_of.isoformat()}", **props)
    ax.set_xlabel("人口（左: 男、右: 女）" if ja else "residents (men left, women right)", **props)
    ax.legend(fontsize=7, loc="lower right", prop=font_manager.FontProperties(fname=font, size=7) if ja else None)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    plt.close(fig)
    return out.getvalue()


def write_pyramid(png: bytes, stats_uri: str, business_date: dt.date) -> tuple[str, str]:
    """Keep the pyramid beside the tables; its path and SHA-256."""
    path = f"{stats_uri.rstrip('/')}/{business_date.isoformat()}/pyramid.png"
    with fsspec.open(path, "wb") as f:
        f.write(png)
    return path, hashlib.sha256(png).hexdigest()
