"""Statistics as products: the business date's tables as Parquet and CSV, and a population pyramid."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import duckdb
import fsspec
import polars as pl

from tasks import stats

AGE_GROUPS = [f"{a}-{a + 4}" for a in range(0, 100, 5)] + ["100+"]


def daily_tables(con: duckdb.DuckDBPyConnection, business_date: dt.date) -> dict[str, pl.DataFrame]:
    """Population and households at the end of the business date, and its movements."""
    return {"population": stats.population(con, business_date),
            "households": stats.households(con, business_date),
            "movements": stats.movements(con, business_date, business_date)}


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    # pyarrow with fixed options and no wall-clock metadata: the same table gives the same bytes.
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame.to_pandas(), preserve_index=False).replace_schema_metadata(None),
                   out, compression="zstd", compression_level=3, write_statistics=False,
                   store_schema=False, use_dictionary=False)
    return out.getvalue()


def write_tables(tables: dict[str, pl.DataFrame], stats_uri: str, business_date: dt.date) -> dict[str, str]:
    """Write each table as Parquet and CSV under stats/<date>/ through fsspec; file -> SHA-256."""
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
    return digests


def pyramid_png(population: pl.DataFrame, as_of: dt.date) -> bytes:
    """A population pyramid (men left, women right; Japanese and foreign stacked) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = (population.group_by("sex", "age_group", "nationality_group").agg(pl.col("residents").sum())
              .to_dicts())
    value = {(r["sex"], r["age_group"], r["nationality_group"]): r["residents"] for r in counts}
    y = range(len(AGE_GROUPS))
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    for sex, sign in (("1", -1), ("2", 1)):
        japanese = [value.get((sex, g, "japanese"), 0) for g in AGE_GROUPS]
        foreign = [value.get((sex, g, "foreign"), 0) for g in AGE_GROUPS]
        ax.barh(y, [sign * v for v in japanese], color="#4c72b0" if sex == "1" else "#dd8452",
                label="Japanese, " + ("men" if sex == "1" else "women"))
        ax.barh(y, [sign * v for v in foreign], left=[sign * v for v in japanese],
                color="#8fb3e0" if sex == "1" else "#f2b88e", label="foreign, " + ("men" if sex == "1" else "women"))
    ax.set_yticks(list(y), AGE_GROUPS, fontsize=7)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{abs(int(v)):,}"))
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_title(f"Population pyramid, end of {as_of.isoformat()}")
    ax.set_xlabel("residents (men left, women right)")
    ax.legend(fontsize=7, loc="lower right")
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
