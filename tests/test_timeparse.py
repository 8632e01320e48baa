"""Times as people type them: every documented form, and one clear error (never a traceback) otherwise."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openusage.store import open_store
from openusage.timeparse import _UNITS, TimeFormatError, parse_time

NOW = 1_795_000_000  # 2026-11-18T07:06:40Z
MIDNIGHT = NOW - NOW % 86400


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", NOW - 7 * 86400), ("7days", NOW - 7 * 86400), ("7 days", NOW - 7 * 86400),
    ("7 days ago", NOW - 7 * 86400), ("1day", NOW - 86400), ("36h", NOW - 36 * 3600),
    ("36 hours", NOW - 36 * 3600), ("90m", NOW - 90 * 60), ("90min", NOW - 90 * 60), ("2w", NOW - 14 * 86400),
    ("2weeks", NOW - 14 * 86400), ("45s", NOW - 45), ("7D", NOW - 7 * 86400), (" 7d ", NOW - 7 * 86400),
    ("2026-11-01", int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())),
    ("2026-11-01T12:00:00Z", int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp())),
    ("2026-11-01T12:00:00+02:00", int(datetime(2026, 11, 1, 10, tzinfo=UTC).timestamp())),
    ("2026-11-01 12:00", int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp())),
    ("2026-11-01t12:00:00z", int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp())),
    ("yesterday", MIDNIGHT - 86400), ("today", MIDNIGHT), ("Today", MIDNIGHT), ("now", NOW),
    ("1700000000", 1_700_000_000), ("0", 0),
])
def test_each_form(text: str, expected: int) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "junk", "7x", "7 parsecs", "d7", "-7d", "7.5d", "2026-13-01",
                                  "2026-11-31", "tomorrow!", "0001-01-01T00:00:00+01:00",
                                  "9999-12-31T23:59:59-01:00", "99999999999999", "999999999w", "0001-01-01",
                                  "7d7h", "\x00", "²", "٣d"])
def test_anything_else_is_one_clear_error(text: str) -> None:
    with pytest.raises(TimeFormatError) as info:
        parse_time(text, NOW)
    assert "\n" not in str(info.value)
    assert "7d" in str(info.value) or "out of range" in str(info.value)


@given(st.integers(0, 999_999_999), st.sampled_from(sorted(_UNITS)), st.sampled_from(["", " "]))
def test_relative_is_that_long_before_now(n: int, unit: str, space: str) -> None:
    if n * _UNITS[unit] > NOW:  # before 1970
        with pytest.raises(TimeFormatError, match="out of range"):
            parse_time(f"{n}{space}{unit}", NOW)
    else:
        assert parse_time(f"{n}{space}{unit}", NOW) == NOW - n * _UNITS[unit]


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)))
def test_iso_times_round_trip(dt: datetime) -> None:
    dt = dt.replace(microsecond=0, tzinfo=UTC)
    assert parse_time(dt.isoformat(), NOW) == int(dt.timestamp())
    assert parse_time(dt.strftime("%Y-%m-%dT%H:%M:%SZ"), NOW) == int(dt.timestamp())
    assert parse_time(dt.date().isoformat(), NOW) == int(dt.replace(hour=0, minute=0, second=0).timestamp())


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_the_clear_error(text: str) -> None:
    try:
        ts = parse_time(text, NOW)
    except TimeFormatError:
        return
    assert 0 <= ts <= int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("since", ["7days", "yesterday", "36h", "2w", "2026-11-01T12:00:00Z"])
def test_the_command_reads_them(tmp_path, since: str) -> None:  # type: ignore[no-untyped-def]
    open_store(str(tmp_path / "t.duckdb")).close()  # an empty store: reading one that is not there is an error
    done = subprocess.run(["openusage", "usage", "completions", "--since", since, "--until", "now",
                           "--format", "json", "--db", str(tmp_path / "t.duckdb")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"object": "page"' in done.stdout


@pytest.mark.parametrize("command", [["usage", "completions"], ["costs"], ["sync", "--key", "k"]])
def test_a_bad_time_exits_2_with_the_forms(tmp_path, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(["openusage", *command, "--since", "last tuesday", "--db", str(tmp_path / "t.duckdb")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--since" in done.stderr and "yesterday" in done.stderr and "2026-11-01" in done.stderr
