"""Read usage events from files: JSON, NDJSON/JSONL, CSV and Parquet.

CSV and Parquet are read by pyarrow; empty cells are left out, so defaults apply.  Events come
out in chunks, ready for :func:`openusage.ingest.events.validate_events`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

FORMATS = ("json", "ndjson", "csv", "parquet")


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "ndjson"
    if suffix in FORMATS:
        return suffix
    raise ValueError(f"cannot tell the format of {path.name}: use --format {'|'.join(FORMATS)}")


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None and v != ""}


def read_events(path: Path, fmt: str | None = None, chunk: int = 10_000) -> Iterator[list[dict[str, Any]]]:
    """Chunks of event dicts from a file."""
    fmt = fmt or detect_format(path)
    if fmt == "json":
        data = orjson.loads(path.read_bytes())
        events = data["events"] if isinstance(data, dict) and "events" in data else data
        if not isinstance(events, list):
            raise ValueError("a JSON file holds a list of events or {\"events\": [...]}")
        for i in range(0, len(events), chunk):
            yield events[i:i + chunk]
    elif fmt == "ndjson":
        buf: list[dict[str, Any]] = []
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    buf.append(orjson.loads(line))
                    if len(buf) >= chunk:
                        yield buf
                        buf = []
        if buf:
            yield buf
    elif fmt in ("csv", "parquet"):
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        if fmt == "csv":
            opts = pacsv.ConvertOptions(strings_can_be_null=True, column_types={"id": "string"})
            table = pacsv.read_csv(path, convert_options=opts)
        else:
            table = pq.read_table(path)
        for batch in table.to_batches(max_chunksize=chunk):
            yield [_clean(r) for r in batch.to_pylist()]
    else:
        raise ValueError(f"unknown format {fmt!r}")


def count_lines(path: Path, fmt: str) -> int | None:
    """A cheap total for the progress bar, where one is cheap."""
    if fmt == "ndjson":
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None
