"""Query parameters, bucket arithmetic and cursors: pure logic, no I/O."""

from .buckets import Bucket, page_buckets
from .cursor import decode_cursor, encode_cursor
from .params import UsageQuery, parse_query

__all__ = ["Bucket", "UsageQuery", "decode_cursor", "encode_cursor", "page_buckets", "parse_query"]
