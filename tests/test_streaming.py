"""Large pages are streamed in pieces with their length known, and equal the one-piece rendering."""

from __future__ import annotations

import orjson

from openusage.ingest.events import validate_events
from openusage.query.params import parse_query
from openusage.query.render import page_dict, render_parts
from openusage.service import UsageService
from openusage.spec import ENDPOINTS_BY_NAME
from tests.conftest import LiveServer

T0 = 1767225600


def test_large_page_streams_in_pieces_equal_to_the_whole(live_server: LiveServer) -> None:
    events = [{"id": f"s{i}", "type": "completions", "timestamp": T0 + (i % 1440) * 60 + 1,
               "user_id": f"user_{i // 1440}", "model": "m", "input_tokens": i, "output_tokens": 1}
              for i in range(1440 * 8)]
    live_server.store.insert([validate_events(events)])
    items = [("start_time", str(T0)), ("end_time", str(T0 + 86400)), ("bucket_width", "1m"),
             ("limit", "1440"), ("group_by", "user_id")]
    q = parse_query(ENDPOINTS_BY_NAME["completions"], items)
    table = UsageService(live_server.store).page_table(q)
    parts = render_parts(q, table)
    assert len(parts) > 1000  # one slice per bucket, not one copied body
    whole = orjson.dumps(page_dict(q, table))
    assert b"".join(parts) == whole
    with live_server.client() as c:
        # as sent to a client that does not accept gzip (tests/test_gzip_answers.py: the compressed page)
        with c.stream("GET", "/v1/organization/usage/completions", params=items,
                      headers={"Accept-Encoding": "identity"}) as r:
            assert r.status_code == 200
            assert int(r.headers["content-length"]) == len(whole)
            chunks = list(r.iter_raw())
        body = b"".join(chunks)
    assert body == whole
    page = orjson.loads(body)
    assert len(page["data"]) == 1440
    assert sum(len(b["results"]) for b in page["data"]) == len(events)
