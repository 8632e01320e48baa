"""Read usage events from files: JSON, NDJSON/JSONL, CSV and Parquet.

CSV and Parquet are read by pyarrow; empty cells are left out, so defaults apply.  Events come out
in chunks, ready for :func:`openusage.ingest.events.validate_events`, each event with its place in
the file (NDJSON line, CSV or Parquet data row, JSON array index) so an error can say where it is.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

FORMATS = ("json", "ndjson", "csv", "parquet")
BOM = b"\xef\xbb\xbf"
UNIT = {"json": "events", "ndjson": "line", "csv": "row", "parquet": "row"}
_PARAM = re.compile(r"^events\[(\d+)\](?:\.(.+))?$")


class FileFormatError(ValueError):
    """A file, or a place in it, that cannot be read as events; the message says where.

    ``first`` is the position the unstored part of the file starts at, when it is not the bad place.
    """

    def __init__(self, message: str, first: int | None = None) -> None:
        super().__init__(message)
        self.first = first


@dataclass
class Chunk:
    """Events read from a file and, for each, its line (NDJSON), data row (CSV, Parquet) or index (JSON)."""

    events: list[dict[str, Any]]
    positions: list[int]


def _open_binary(path: Path) -> io.BufferedIOBase:
    """The file opened for reading bytes, decompressed when it is ``.gz``."""
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


def detect_format(path: Path) -> str:
    """From the extension (``.gz`` looks at the one before it)."""
    suffix = (path.with_suffix("") if path.suffix.lower() == ".gz" else path).suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "ndjson"
    if suffix in FORMATS:
        return suffix
    raise FileFormatError(f"cannot tell the format of {path.name}: use --format {'|'.join(FORMATS)}")


def where(path: Path, fmt: str, position: int) -> str:
    """``usage.ndjson line 7``, ``usage.csv row 7`` or ``usage.json events[6]``."""
    if UNIT[fmt] == "events":
        return f"{path.name} events[{position}]"
    return f"{path.name} {UNIT[fmt]} {position}"


def locate(message: str, param: str | None, chunk: Chunk, path: Path, fmt: str) -> str:
    """An ingest error (``param`` = ``events[i].field``, counted in the chunk) as the file's place and field."""
    text = re.sub(r"^Invalid event: ", "", message)
    text = re.sub(r"\s*\(at [^()]*\)\.?$", "", text).replace("`", "")
    m = _PARAM.match(param or "")
    if not m or int(m.group(1)) >= len(chunk.positions):
        return f"{path.name}: {text}" + (f" ({param})" if param else "")
    place = where(path, fmt, chunk.positions[int(m.group(1))])
    return f"{place}: {m.group(2)}: {text}" if m.group(2) else f"{place}: {text}"


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None and v != ""}


def read_events(path: Path, fmt: str | None = None, chunk: int = 10_000) -> Iterator[Chunk]:
    """Chunks of event dicts from a file; :class:`FileFormatError` names the place that cannot be read."""
    fmt = fmt or detect_format(path)
    if fmt == "json":
        try:
            with _open_binary(path) as fh:
                raw = fh.read()
        except (OSError, EOFError) as exc:  # a broken gzip file
            raise FileFormatError(f"{path.name}: cannot read it: {exc}") from None
        try:
            data = orjson.loads(raw.removeprefix(BOM))
        except orjson.JSONDecodeError as exc:
            raise FileFormatError(f"{path.name}: not JSON: {exc}") from None
        events = data["events"] if isinstance(data, dict) and "events" in data else data
        if not isinstance(events, list):
            raise FileFormatError(f"{path.name}: a JSON file holds a list of events or {{\"events\": [...]}}")
        for i in range(0, len(events), chunk):
            yield Chunk(events[i:i + chunk], list(range(i, min(i + chunk, len(events)))))
    elif fmt == "ndjson":
        yield from _ndjson(path, chunk)
    elif fmt in ("csv", "parquet"):
        yield from _columnar(path, fmt, chunk)
    else:
        raise FileFormatError(f"unknown format {fmt!r}")


def _ndjson(path: Path, chunk: int) -> Iterator[Chunk]:
    try:
        yield from _ndjson_lines(path, chunk)
    except (OSError, EOFError) as exc:  # a broken gzip file
        raise FileFormatError(f"{path.name}: cannot read it: {exc}") from None


def _ndjson_lines(path: Path, chunk: int) -> Iterator[Chunk]:
    buf = Chunk([], [])
    with _open_binary(path) as fh:
        for number, line in enumerate(fh, 1):
            if number == 1:
                line = line.removeprefix(BOM)
            if not line.strip():
                continue
            try:
                buf.events.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                column = f" column {exc.colno}" if exc.lineno == 1 else ""
                raise FileFormatError(f"{path.name} line {number}{column}: not JSON: {exc.msg}",
                                      buf.positions[0] if buf.positions else None) from None
            buf.positions.append(number)
            if len(buf.events) >= chunk:
                yield buf
                buf = Chunk([], [])
    if buf.events:
        yield buf


@functools.cache
def _csv_text_columns() -> dict[str, Any]:
    """Every text column of an event read as text: a CSV cell is null only when empty, so names such as
    ``NA``, ``NULL`` or ``nan`` and ids made of digits stay what they are, as the events API keeps them."""
    import pyarrow as pa

    from .events import SCHEMA

    return {f.name: pa.string() for f in SCHEMA if pa.types.is_string(f.type) or f.name == "id"}


def _columnar(path: Path, fmt: str, chunk: int) -> Iterator[Chunk]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if fmt == "csv":
            opts = pacsv.ConvertOptions(strings_can_be_null=True, null_values=[""], column_types=_csv_text_columns())
            with _open_binary(path) as fh:
                table = pacsv.read_csv(fh, convert_options=opts)
        else:
            table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError, EOFError) as exc:
        raise FileFormatError(f"{path.name}: cannot read it as {fmt.upper()}: {exc}") from None
    row = 1
    for batch in table.to_batches(max_chunksize=chunk):
        yield Chunk([_clean(r) for r in batch.to_pylist()], list(range(row, row + batch.num_rows)))
        row += batch.num_rows


def count_lines(path: Path, fmt: str) -> int | None:
    """A cheap total for the progress bar, where one is cheap (never for a pipe such as /dev/stdin)."""
    if not path.is_file():
        return None
    if fmt == "ndjson":
        try:
            with _open_binary(path) as fh:
                return sum(1 for line in fh if line.strip())
        except (OSError, EOFError):  # a broken gzip file, reported by read_events
            return None
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception:  # an unreadable file is reported by read_events, with its name
            return None
    return None
