"""The Python client of the Usage & Costs API: :class:`UsageApi` and :class:`AsyncUsageApi`.

One method per endpoint of :data:`openusage.spec.ENDPOINTS` (``usage_completions``,
``usage_costs`` ...), each with a ``..._with_http_info`` twin and an ``iter_...`` form; they work
unchanged against ``https://api.openai.com/v1`` and against an openusage server.
"""

from __future__ import annotations

from . import _generated
from ._async import AsyncUsageApi
from ._base import ArgumentError
from ._generated import *  # noqa: F403  (the result classes, listed once: in _generated.__all__)
from ._sync import UsageApi
from .types import Amount, ApiResponse, Bucket, Page, Result, loads_page, parse_page

__all__ = ["Amount", "ApiResponse", "ArgumentError", "AsyncUsageApi", "Bucket", "Page", "Result", "UsageApi",
           "loads_page", "parse_page"]
__all__ += _generated.__all__
