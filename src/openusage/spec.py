"""The Usage & Costs API described once, as data.

Everything else derives from this module: the server's parameter validation and routes, the
store's columns, the ingestion schema, the client's methods and docstrings, the OpenAPI
document and the docs.  A test fails if any of them drifts from it.

Vocabulary:

* a **dimension** is a field results can be grouped or filtered by (``model``, ``project_id``);
* a **metric** is a counter summed over a bucket and group (``input_tokens``), or a gauge;
* an **endpoint** names its path, the event ``type`` it reads, its filters, its ``group_by``
  values, its result fields and its ``limit`` bounds per bucket width.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Literal

API_PREFIX = "/v1"

BUCKET_SECONDS: dict[str, int] = {"1m": 60, "1h": 3600, "1d": 86400}
"""Bucket widths and their length in seconds; bucket edges fall on UTC multiples of these."""

USAGE_LIMITS: dict[str, tuple[int, int]] = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}
"""(default, max) number of buckets per page, by bucket width, for the usage endpoints."""

COSTS_LIMITS: dict[str, tuple[int, int]] = {"1d": (7, 180)}
"""(default, max) number of buckets per page for ``/organization/costs`` (1d only)."""


@dataclass(frozen=True)
class Dimension:
    """A field that usage is attributed to: grouped on, filtered by, and stored per event."""

    name: str
    description: str
    kind: Literal["string", "bool"] = "string"
    enum: tuple[str, ...] | None = None
    """Allowed values, when the API restricts them."""
    default: str | bool | None = None
    """Value stored when an event leaves the dimension out (for the types that have it)."""
    pattern: str | None = None
    """Values events and results may carry, when wider than ``enum`` (which then lists the values the
    API's filter accepts, as OpenAI documents them)."""
    extension: bool = False
    """Ours, not OpenAI's: set by the server (never sent in an event), and a result carries it only when
    the query groups by it, so OpenAI clients see OpenAI's shapes."""


@dataclass(frozen=True)
class Metric:
    """A numeric result field.

    ``agg`` is ``sum`` for counters, ``gauge`` for storage held (per project the largest sample
    in the bucket, summed over projects when not grouped by project), and ``decimal`` for money
    (summed exactly).
    """

    name: str
    description: str
    agg: Literal["sum", "gauge", "decimal", "float"] = "sum"
    default: int = 0
    """Value an event that leaves the metric out counts for (``num_model_requests`` is 1)."""
    required: bool = False
    """Always present (an integer) in results; optional fields may be ``null`` in OpenAI answers."""


@dataclass(frozen=True)
class Filter:
    """A query parameter that restricts results to some values of a dimension."""

    param: str
    dimension: str
    description: str
    kind: Literal["list", "bool"] = "list"

    @property
    def extension(self) -> bool:
        """An openusage extension: OpenAI's clients never send it, so it comes after OpenAI's parameters."""
        return DIMENSIONS[self.dimension].extension


@dataclass(frozen=True)
class Endpoint:
    """One GET endpoint of the Usage & Costs API."""

    name: str
    """Short name, used in ``usage_<name>`` client methods and CLI sub-commands."""
    path: str
    """Path below ``/v1``."""
    event_type: str
    """The ingested event ``type`` this endpoint aggregates."""
    result_object: str
    summary: str
    filters: tuple[Filter, ...]
    group_by: tuple[str, ...]
    metrics: tuple[Metric, ...]
    result_dimensions: tuple[str, ...]
    """Dimension fields present (nullable) in each result object."""
    limits: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(USAGE_LIMITS))
    since_seed: bool = True
    """False for endpoints the current API added beyond the seed document."""
    priced_by: tuple[str, ...] = ()
    """Dimensions its events carry only because prices depend on them (embeddings' ``batch``: the Batch
    API bills half), beyond what the endpoint filters and groups by."""
    priced_metrics: tuple[Metric, ...] = ()
    """Metrics its events carry only because prices depend on them (gpt-image models' input tokens), beyond
    the endpoint's result fields: stored and priced, never answered by the usage endpoint."""
    seed_order: tuple[str, ...] | None = None
    """The parameters the seed document's client takes positionally, in its order, where that differs
    from :attr:`parameters`; parameters added since are keyword-only."""
    shape: Literal["usage", "costs"] = "usage"
    """How results are made and shaped: ``usage`` counts events as stored (integer metrics); ``costs`` prices
    usage at query time, adds imported cost lines, and answers an ``amount`` object (value and currency)
    with ``quantity`` and ``quantity_unit`` per line item."""
    extra_fields: tuple[str, ...] = ()
    """Result fields besides its dimensions and metrics."""

    @property
    def is_costs(self) -> bool:
        """Results are priced usage and cost lines (see :attr:`shape`)."""
        return self.shape == "costs"

    @property
    def tag(self) -> str:
        """The OpenAPI tag: Usage or Costs."""
        return "Costs" if self.is_costs else "Usage"

    @property
    def openai_group_by(self) -> tuple[str, ...]:
        """The ``group_by`` values OpenAI accepts (no extensions): what a sync asks its source for."""
        return tuple(g for g in self.group_by if not DIMENSIONS[g].extension)

    @property
    def method_name(self) -> str:
        return f"usage_{self.name}"

    @property
    def full_path(self) -> str:
        return API_PREFIX + self.path

    @property
    def bucket_widths(self) -> tuple[str, ...]:
        return tuple(self.limits)

    @property
    def default_bucket_width(self) -> str:
        return "1d"

    @property
    def array_params(self) -> tuple[str, ...]:
        return (*tuple(f.param for f in self.filters if f.kind == "list"), "group_by")

    def filter_by_param(self, param: str) -> Filter | None:
        for f in self.filters:
            if f.param == param:
                return f
        return None

    @property
    def positional_parameters(self) -> tuple[str, ...]:
        """Parameters a client method takes by position (``start_time, end_time, bucket_width, ...``)."""
        return self.seed_order or self.parameters

    @property
    def parameters(self) -> tuple[str, ...]:
        """Every query parameter, in the order the seed lists them."""
        return (
            "start_time",
            "end_time",
            "bucket_width",
            *(f.param for f in self.filters if not f.extension),
            "group_by",
            "limit",
            "page",
            *(f.param for f in self.filters if f.extension),
        )


# --------------------------------------------------------------------------------------------
# Dimensions
# --------------------------------------------------------------------------------------------

IMAGE_SIZES = ("256x256", "512x512", "1024x1024", "1792x1792", "1024x1792")
IMAGE_SIZE_PATTERN = r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$"
IMAGE_SOURCES = ("image.generation", "image.edit", "image.variation")
CONTEXT_LEVELS = ("low", "medium", "high")
IMAGE_QUALITIES = ("standard", "hd", "low", "medium", "high", "auto")
"""``quality`` of an image request: dall-e-3 takes standard or hd, gpt-image models low, medium or high;
``auto`` (and no value) is priced at the model's default quality."""
MEMORY_LIMITS = ("1g", "4g", "16g", "64g")
"""Code interpreter container sizes (the container's ``memory_limit``); 1g when the usage does not say."""
API_SOURCES = ("agents_api", "unlabeled")
ORIGINS = ("ingest", "proxy", "otlp", "openai", "anthropic", "openusage", "demo")
"""Where usage entered this server: the events API and files, the metering proxy, OpenTelemetry spans, a
sync from OpenAI, Anthropic or another openusage server, or the demo."""
QUANTITY_UNITS = (
    "tokens",
    "1000_tokens",
    "duration_seconds",
    "duration_minutes",
    "duration_hours",
    "gibibyte_hours",
    "images",
    "characters",
)

DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("project_id", "The project the usage belongs to."),
        Dimension("user_id", "The user who made the requests."),
        Dimension("api_key_id", "The API key the requests were made with."),
        Dimension("model", "The model name."),
        Dimension("batch", "Whether the usage came from the Batch API.", kind="bool", default=False),
        Dimension("service_tier", "The service tier (default, flex, priority, scale).", default="default"),
        Dimension(
            "api_source",
            "`agents_api` for attributed Agents API activity, `unlabeled` for everything else.",
            enum=API_SOURCES,
            default="unlabeled",
        ),
        Dimension("size", "The image size, e.g. `1024x1024`; any `WIDTHxHEIGHT` a model produces "
                  "(gpt-image-1 makes `1536x1024`). The `sizes` filter takes OpenAI's documented values.",
                  enum=IMAGE_SIZES, pattern=IMAGE_SIZE_PATTERN),
        Dimension("source", "The image source (generation, edit or variation).", enum=IMAGE_SOURCES),
        Dimension("vector_store_id", "The vector store searched."),
        Dimension("context_level", "The web search context level.", enum=CONTEXT_LEVELS),
        Dimension("line_item", "The cost line item, e.g. `gpt-4o-2024-08-06, input`."),
        Dimension("origin", "Where the usage entered this server (an openusage extension): `ingest`, `proxy`, "
                  "`otlp`, `openai`, `anthropic`, `openusage` or `demo`.", enum=ORIGINS, default="ingest",
                  extension=True),
        # stored for pricing only (no endpoint groups or filters by them), after origin: stores made
        # before them add them as their last columns
        Dimension("quality", "The image quality (standard, hd, low, medium, high or auto): prices depend on it.",
                  enum=IMAGE_QUALITIES),
        Dimension("memory_limit", "The code interpreter container size (1g, 4g, 16g or 64g): prices depend on it.",
                  enum=MEMORY_LIMITS),
    )
}


def _filter(param: str, dim: str, what: str = "usage") -> Filter:
    """A list filter on ``dim``, described for the reference docs."""
    noun = {
        "project_ids": "projects",
        "user_ids": "users",
        "api_key_ids": "API keys",
        "models": "models",
        "sizes": "image sizes",
        "sources": "image sources",
        "vector_store_ids": "vector stores",
        "context_levels": "context levels",
        "line_items": "exact line item names",
    }[param]
    return Filter(param, dim, f"Return only {what} for these {noun}.")


PROJECT = _filter("project_ids", "project_id")
USER = _filter("user_ids", "user_id")
KEY = _filter("api_key_ids", "api_key_id")
MODEL = _filter("models", "model")
COMMON_FILTERS = (PROJECT, USER, KEY, MODEL)
COMMON_GROUPS = ("project_id", "user_id", "api_key_id", "model")

# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------

NUM_MODEL_REQUESTS = Metric("num_model_requests", "The count of requests made to the model.", default=1, required=True)


def _tokens(name: str, description: str, required: bool = False) -> Metric:
    return Metric(name, description, required=required)


COMPLETION_METRICS = (
    _tokens(
        "input_tokens",
        "Input tokens used, including cached and cache-write tokens, across text, audio and image.",
        required=True,
    ),
    _tokens("output_tokens", "Output tokens used across text, audio and image outputs.", required=True),
    _tokens("input_cached_tokens", "Cached input tokens used across text, audio and image inputs."),
    _tokens("input_audio_tokens", "Uncached audio input tokens used."),
    _tokens("output_audio_tokens", "Audio output tokens used."),
    NUM_MODEL_REQUESTS,
    _tokens("input_text_tokens", "Uncached text input tokens used, excluding cache-write tokens."),
    _tokens("input_image_tokens", "Uncached image input tokens used."),
    _tokens(
        "input_uncached_tokens",
        "Uncached input tokens used across text, audio and image inputs, excluding cache-write tokens.",
    ),
    _tokens("input_cached_text_tokens", "Cached text input tokens used."),
    _tokens("input_cached_audio_tokens", "Cached audio input tokens used."),
    _tokens("input_cached_image_tokens", "Cached image input tokens used."),
    _tokens("input_cache_write_tokens", "Input tokens written to the cache (30-minute and 12-hour retention)."),
    _tokens("input_cache_write_30m_tokens", "Input tokens written to the cache with a 30-minute retention."),
    _tokens("input_cache_write_12h_tokens", "Input tokens written to the cache with a 12-hour retention."),
    _tokens("output_text_tokens", "Text output tokens used."),
    _tokens("output_image_tokens", "Image output tokens used."),
)

COMPLETION_FILTERS = (
    *COMMON_FILTERS,
    Filter("batch", "batch", "If `true`, return batch jobs only; if `false`, non-batch only.", kind="bool"),
)
COMPLETION_GROUPS = (*COMMON_GROUPS, "batch", "service_tier", "api_source")
"""Completions and decisions (which has completions' shape) share these filters and groups."""

IMAGE_TOKEN_METRICS = (
    Metric("input_tokens", "Input tokens (text and image) of a gpt-image model's request."),
    Metric("input_image_tokens", "Image input tokens of a gpt-image model's request (edits)."),
    Metric("output_tokens", "Image output tokens of a gpt-image model's request."),
)
"""What gpt-image models' answers report in ``usage``: input tokens are billed beside the per-image price."""

INPUT_TOKENS_ONLY = (Metric("input_tokens", "Input tokens used.", required=True), NUM_MODEL_REQUESTS)

# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------

_OPENAI_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        name="audio_speeches",
        path="/organization/usage/audio_speeches",
        event_type="audio_speeches",
        result_object="organization.usage.audio_speeches.result",
        summary="Get audio speeches usage details for the organization.",
        filters=COMMON_FILTERS,
        group_by=COMMON_GROUPS,
        metrics=(Metric("characters", "Characters processed.", required=True), NUM_MODEL_REQUESTS),
        result_dimensions=COMMON_GROUPS,
    ),
    Endpoint(
        name="audio_transcriptions",
        path="/organization/usage/audio_transcriptions",
        event_type="audio_transcriptions",
        result_object="organization.usage.audio_transcriptions.result",
        summary="Get audio transcriptions usage details for the organization.",
        filters=COMMON_FILTERS,
        group_by=COMMON_GROUPS,
        metrics=(Metric("seconds", "Seconds of audio transcribed.", required=True), NUM_MODEL_REQUESTS),
        result_dimensions=COMMON_GROUPS,
    ),
    Endpoint(
        name="code_interpreter_sessions",
        path="/organization/usage/code_interpreter_sessions",
        event_type="code_interpreter_sessions",
        result_object="organization.usage.code_interpreter_sessions.result",
        summary="Get code interpreter sessions usage details for the organization.",
        filters=(PROJECT,),
        group_by=("project_id",),
        metrics=(Metric("num_sessions", "The number of code interpreter sessions.", default=1, required=True),),
        result_dimensions=("project_id",),
        priced_by=("memory_limit",),
    ),
    Endpoint(
        name="completions",
        path="/organization/usage/completions",
        event_type="completions",
        result_object="organization.usage.completions.result",
        summary="Get completions usage details for the organization.",
        filters=COMPLETION_FILTERS,
        group_by=COMPLETION_GROUPS,
        metrics=COMPLETION_METRICS,
        result_dimensions=COMPLETION_GROUPS,
    ),
    Endpoint(
        name="costs",
        path="/organization/costs",
        event_type="costs",
        result_object="organization.costs.result",
        summary="Get costs details for the organization.",
        filters=(_filter("project_ids", "project_id", "costs"), _filter("api_key_ids", "api_key_id", "costs"),
                 _filter("line_items", "line_item", "costs")),
        group_by=("project_id", "line_item", "api_key_id", "user_id", "api_source"),
        metrics=(
            Metric("amount", "The monetary value, in `usd`.", agg="decimal", required=True),
            Metric("quantity", "The quantity billed, in `quantity_unit`, when grouped by line item.", agg="float"),
        ),
        result_dimensions=("line_item", "project_id", "api_key_id", "user_id", "api_source"),
        limits=dict(COSTS_LIMITS),
        seed_order=("start_time", "end_time", "bucket_width", "project_ids", "group_by", "limit", "page"),
        shape="costs",
        extra_fields=("quantity_unit", "currency"),
    ),
    Endpoint(
        name="embeddings",
        path="/organization/usage/embeddings",
        event_type="embeddings",
        result_object="organization.usage.embeddings.result",
        summary="Get embeddings usage details for the organization.",
        filters=COMMON_FILTERS,
        group_by=COMMON_GROUPS,
        metrics=INPUT_TOKENS_ONLY,
        result_dimensions=COMMON_GROUPS,
        priced_by=("batch",),
    ),
    Endpoint(
        name="images",
        path="/organization/usage/images",
        event_type="images",
        result_object="organization.usage.images.result",
        summary="Get images usage details for the organization.",
        filters=(*COMMON_FILTERS, _filter("sources", "source"), _filter("sizes", "size")),
        group_by=(*COMMON_GROUPS, "size", "source"),
        metrics=(Metric("images", "The number of images processed.", default=1, required=True), NUM_MODEL_REQUESTS),
        result_dimensions=(*COMMON_GROUPS, "size", "source"),
        priced_by=("quality",),
        priced_metrics=IMAGE_TOKEN_METRICS,
        seed_order=("start_time", "end_time", "bucket_width", "sources", "sizes", "project_ids", "user_ids",
                    "api_key_ids", "models", "group_by", "limit", "page"),
    ),
    Endpoint(
        name="moderations",
        path="/organization/usage/moderations",
        event_type="moderations",
        result_object="organization.usage.moderations.result",
        summary="Get moderations usage details for the organization.",
        filters=COMMON_FILTERS,
        group_by=COMMON_GROUPS,
        metrics=INPUT_TOKENS_ONLY,
        result_dimensions=COMMON_GROUPS,
    ),
    Endpoint(
        name="vector_stores",
        path="/organization/usage/vector_stores",
        event_type="vector_stores",
        result_object="organization.usage.vector_stores.result",
        summary="Get vector stores usage details for the organization.",
        filters=(PROJECT,),
        group_by=("project_id",),
        metrics=(
            Metric(
                "usage_bytes",
                "Vector storage held, in bytes: per project the largest sample in the bucket.",
                agg="gauge",
                required=True,
            ),
        ),
        result_dimensions=("project_id",),
    ),
    Endpoint(
        name="file_search_calls",
        path="/organization/usage/file_search_calls",
        event_type="file_searches",
        result_object="organization.usage.file_searches.result",
        summary="Get file search calls usage details for the organization.",
        filters=(PROJECT, USER, KEY, _filter("vector_store_ids", "vector_store_id")),
        group_by=("project_id", "user_id", "api_key_id", "vector_store_id"),
        metrics=(Metric("num_requests", "The number of file search calls.", default=1, required=True),),
        result_dimensions=("project_id", "user_id", "api_key_id", "vector_store_id"),
        since_seed=False,
    ),
    Endpoint(
        name="web_search_calls",
        path="/organization/usage/web_search_calls",
        event_type="web_searches",
        result_object="organization.usage.web_searches.result",
        summary="Get web search calls usage details for the organization.",
        filters=(*COMMON_FILTERS, _filter("context_levels", "context_level")),
        group_by=(*COMMON_GROUPS, "context_level", "api_source"),
        metrics=(Metric("num_requests", "The number of web search calls.", default=1, required=True),
                 NUM_MODEL_REQUESTS),
        result_dimensions=(*COMMON_GROUPS, "context_level", "api_source"),
        since_seed=False,
    ),
    Endpoint(
        name="decisions",
        path="/organization/usage/decisions",
        event_type="decisions",
        result_object="organization.usage.decisions.result",
        summary="Get decisions usage details for the organization.",
        filters=COMPLETION_FILTERS,
        group_by=COMPLETION_GROUPS,
        metrics=COMPLETION_METRICS,
        result_dimensions=COMPLETION_GROUPS,
        since_seed=False,
    ),
)

ORIGIN_FILTER = Filter("origins", "origin", "Return only usage that entered this server from these origins "
                       "(an openusage extension).")
ENDPOINTS: tuple[Endpoint, ...] = tuple(
    replace(e, filters=(*e.filters, ORIGIN_FILTER), group_by=(*e.group_by, "origin")) for e in _OPENAI_ENDPOINTS
)
"""OpenAI's endpoints, each also filtering and grouping by ``origin`` (never a result field unless grouped)."""

ENDPOINTS_BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}
ENDPOINTS_BY_TYPE: dict[str, Endpoint] = {e.event_type: e for e in ENDPOINTS}
ENDPOINTS_BY_PATH: dict[str, Endpoint] = {e.full_path: e for e in ENDPOINTS}

EVENT_TYPES: tuple[str, ...] = tuple(e.event_type for e in ENDPOINTS)



def event_dimensions(event_type: str) -> tuple[str, ...]:
    """Dimensions an event of this type may carry: what its endpoint filters or groups by."""
    endpoint = ENDPOINTS_BY_TYPE[event_type]
    names = dict.fromkeys([*endpoint.result_dimensions, *endpoint.group_by,
                           *(f.dimension for f in endpoint.filters), *endpoint.priced_by])
    return tuple(n for n in names if not DIMENSIONS[n].extension)


@functools.cache
def stored_dimensions(event_type: str) -> tuple[str, ...]:
    """Dimensions stored for an event of this type: what it may carry, and what the server sets.  Worked
    out once per type (the spec is static): building a costs page asks it a few hundred times."""
    return (*event_dimensions(event_type), *(d for d, spec in DIMENSIONS.items() if spec.extension))


def event_metrics(event_type: str) -> tuple[Metric, ...]:
    """Metrics an event of this type may carry: its endpoint's, and those only its prices read."""
    endpoint = ENDPOINTS_BY_TYPE[event_type]
    return (*endpoint.metrics, *endpoint.priced_metrics)


PRICING_ONLY_DIMENSIONS: tuple[str, ...] = tuple(
    d for d in DIMENSIONS
    if not any(d in (*e.group_by, *e.result_dimensions, *(f.dimension for f in e.filters)) for e in ENDPOINTS))
"""Dimensions stored only for pricing (image quality, container size): no endpoint groups or filters by them."""


def _all_metrics() -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for ep in ENDPOINTS:
        for m in (*ep.metrics, *ep.priced_metrics):
            out.setdefault(m.name, m)
    return out


METRICS: dict[str, Metric] = _all_metrics()
"""Every metric of every endpoint, by name: the store's metric columns."""

DIMENSION_COLUMNS: tuple[str, ...] = tuple(DIMENSIONS)
METRIC_COLUMNS: tuple[str, ...] = tuple(METRICS)
