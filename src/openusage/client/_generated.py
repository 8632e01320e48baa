# ruff: noqa: E501
"""GENERATED from :data:`openusage.spec.ENDPOINTS` by ``python -m openusage.client._gen``: do not edit.

The result class of every endpoint, and the endpoint methods of :class:`UsageApi` and
:class:`AsyncUsageApi`, each handing its arguments to the client's one implementation.
``__all__`` names the result classes, the one list that :mod:`openusage.client.types`,
:mod:`openusage.client` and :mod:`openusage` re-export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal

from ..spec import ENDPOINTS_BY_NAME, Endpoint
from ._views import Amount, ApiResponse, Bucket, Page, Result

__all__ = [
    "AudioSpeechesResult",
    "AudioTranscriptionsResult",
    "CodeInterpreterSessionsResult",
    "CompletionsResult",
    "CostsResult",
    "DecisionsResult",
    "EmbeddingsResult",
    "FileSearchCallsResult",
    "ImagesResult",
    "ModerationsResult",
    "VectorStoresResult",
    "WebSearchCallsResult",
]


class AudioSpeechesResult(Result):
    """A result of ``/v1/organization/usage/audio_speeches`` (``object``: ``organization.usage.audio_speeches.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["audio_speeches"]
    fields: ClassVar[tuple[str, ...]] = (
        'characters',
        'num_model_requests',
        'project_id',
        'user_id',
        'api_key_id',
        'model',
    )

    @property
    def characters(self) -> int:
        """Characters processed."""
        return self._int("characters")

    @property
    def num_model_requests(self) -> int:
        """The count of requests made to the model."""
        return self._int("num_model_requests")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def model(self) -> str | None:
        """When grouped by ``model``: The model name. Otherwise null."""
        return self._str_or_none("model")


class AudioTranscriptionsResult(Result):
    """A result of ``/v1/organization/usage/audio_transcriptions`` (``object``: ``organization.usage.audio_transcriptions.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["audio_transcriptions"]
    fields: ClassVar[tuple[str, ...]] = (
        'seconds',
        'num_model_requests',
        'project_id',
        'user_id',
        'api_key_id',
        'model',
    )

    @property
    def seconds(self) -> int:
        """Seconds of audio transcribed."""
        return self._int("seconds")

    @property
    def num_model_requests(self) -> int:
        """The count of requests made to the model."""
        return self._int("num_model_requests")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def model(self) -> str | None:
        """When grouped by ``model``: The model name. Otherwise null."""
        return self._str_or_none("model")


class CodeInterpreterSessionsResult(Result):
    """A result of ``/v1/organization/usage/code_interpreter_sessions`` (``object``: ``organization.usage.code_interpreter_sessions.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["code_interpreter_sessions"]
    fields: ClassVar[tuple[str, ...]] = (
        'num_sessions',
        'project_id',
    )

    @property
    def num_sessions(self) -> int:
        """The number of code interpreter sessions."""
        return self._int("num_sessions")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")


class CompletionsResult(Result):
    """A result of ``/v1/organization/usage/completions`` (``object``: ``organization.usage.completions.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["completions"]
    fields: ClassVar[tuple[str, ...]] = (
        'input_tokens',
        'output_tokens',
        'input_cached_tokens',
        'input_audio_tokens',
        'output_audio_tokens',
        'num_model_requests',
        'input_text_tokens',
        'input_image_tokens',
        'input_uncached_tokens',
        'input_cached_text_tokens',
        'input_cached_audio_tokens',
        'input_cached_image_tokens',
        'input_cache_write_tokens',
        'input_cache_write_30m_tokens',
        'input_cache_write_12h_tokens',
        'output_text_tokens',
        'output_image_tokens',
        'project_id',
        'user_id',
        'api_key_id',
        'model',
        'batch',
        'service_tier',
        'api_source',
    )

    @property
    def input_tokens(self) -> int:
        """Input tokens used, including cached and cache-write tokens, across text, audio and image."""
        return self._int("input_tokens")

    @property
    def output_tokens(self) -> int:
        """Output tokens used across text, audio and image outputs."""
        return self._int("output_tokens")

    @property
    def input_cached_tokens(self) -> int | None:
        """Cached input tokens used across text, audio and image inputs. Null when the API does not report it."""
        return self._int_or_none("input_cached_tokens")

    @property
    def input_audio_tokens(self) -> int | None:
        """Uncached audio input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_audio_tokens")

    @property
    def output_audio_tokens(self) -> int | None:
        """Audio output tokens used. Null when the API does not report it."""
        return self._int_or_none("output_audio_tokens")

    @property
    def num_model_requests(self) -> int:
        """The count of requests made to the model."""
        return self._int("num_model_requests")

    @property
    def input_text_tokens(self) -> int | None:
        """Uncached text input tokens used, excluding cache-write tokens. Null when the API does not report it."""
        return self._int_or_none("input_text_tokens")

    @property
    def input_image_tokens(self) -> int | None:
        """Uncached image input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_image_tokens")

    @property
    def input_uncached_tokens(self) -> int | None:
        """Uncached input tokens used across text, audio and image inputs, excluding cache-write tokens. Null when the API does not report it."""
        return self._int_or_none("input_uncached_tokens")

    @property
    def input_cached_text_tokens(self) -> int | None:
        """Cached text input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_cached_text_tokens")

    @property
    def input_cached_audio_tokens(self) -> int | None:
        """Cached audio input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_cached_audio_tokens")

    @property
    def input_cached_image_tokens(self) -> int | None:
        """Cached image input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_cached_image_tokens")

    @property
    def input_cache_write_tokens(self) -> int | None:
        """Input tokens written to the cache (30-minute and 12-hour retention). Null when the API does not report it."""
        return self._int_or_none("input_cache_write_tokens")

    @property
    def input_cache_write_30m_tokens(self) -> int | None:
        """Input tokens written to the cache with a 30-minute retention. Null when the API does not report it."""
        return self._int_or_none("input_cache_write_30m_tokens")

    @property
    def input_cache_write_12h_tokens(self) -> int | None:
        """Input tokens written to the cache with a 12-hour retention. Null when the API does not report it."""
        return self._int_or_none("input_cache_write_12h_tokens")

    @property
    def output_text_tokens(self) -> int | None:
        """Text output tokens used. Null when the API does not report it."""
        return self._int_or_none("output_text_tokens")

    @property
    def output_image_tokens(self) -> int | None:
        """Image output tokens used. Null when the API does not report it."""
        return self._int_or_none("output_image_tokens")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def model(self) -> str | None:
        """When grouped by ``model``: The model name. Otherwise null."""
        return self._str_or_none("model")

    @property
    def batch(self) -> bool | None:
        """When grouped by ``batch``: Whether the usage came from the Batch API. Otherwise null."""
        return self._bool_or_none("batch")

    @property
    def service_tier(self) -> str | None:
        """When grouped by ``service_tier``: The service tier (default, flex, priority, scale). Otherwise null."""
        return self._str_or_none("service_tier")

    @property
    def api_source(self) -> str | None:
        """When grouped by ``api_source``: `agents_api` for attributed Agents API activity, `unlabeled` for everything else. One of: agents_api, unlabeled. Otherwise null."""
        return self._str_or_none("api_source")


class CostsResult(Result):
    """A result of ``/v1/organization/costs`` (``object``: ``organization.costs.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["costs"]
    fields: ClassVar[tuple[str, ...]] = (
        'amount',
        'quantity',
        'line_item',
        'project_id',
        'api_key_id',
        'user_id',
        'api_source',
        'quantity_unit',
    )

    @property
    def amount(self) -> Amount | None:
        """The monetary value, in `usd`."""
        raw = self._raw.get("amount")
        return Amount(raw) if isinstance(raw, dict) else None

    @property
    def quantity(self) -> float | None:
        """The quantity billed, in `quantity_unit`, when grouped by line item. Null when the API does not report it."""
        return self._float_or_none("quantity")

    @property
    def line_item(self) -> str | None:
        """When grouped by ``line_item``: The cost line item, e.g. `gpt-4o-2024-08-06, input`. Otherwise null."""
        return self._str_or_none("line_item")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_source(self) -> str | None:
        """When grouped by ``api_source``: `agents_api` for attributed Agents API activity, `unlabeled` for everything else. One of: agents_api, unlabeled. Otherwise null."""
        return self._str_or_none("api_source")

    @property
    def quantity_unit(self) -> str | None:
        """The unit of ``quantity`` (tokens, 1000_tokens, images, ...), or null."""
        return self._str_or_none("quantity_unit")


class EmbeddingsResult(Result):
    """A result of ``/v1/organization/usage/embeddings`` (``object``: ``organization.usage.embeddings.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["embeddings"]
    fields: ClassVar[tuple[str, ...]] = (
        'input_tokens',
        'num_model_requests',
        'project_id',
        'user_id',
        'api_key_id',
        'model',
    )

    @property
    def input_tokens(self) -> int:
        """Input tokens used."""
        return self._int("input_tokens")

    @property
    def num_model_requests(self) -> int:
        """The count of requests made to the model."""
        return self._int("num_model_requests")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def model(self) -> str | None:
        """When grouped by ``model``: The model name. Otherwise null."""
        return self._str_or_none("model")


class ImagesResult(Result):
    """A result of ``/v1/organization/usage/images`` (``object``: ``organization.usage.images.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["images"]
    fields: ClassVar[tuple[str, ...]] = (
        'images',
        'num_model_requests',
        'project_id',
        'user_id',
        'api_key_id',
        'model',
        'size',
        'source',
    )

    @property
    def images(self) -> int:
        """The number of images processed."""
        return self._int("images")

    @property
    def num_model_requests(self) -> int:
        """The count of requests made to the model."""
        return self._int("num_model_requests")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def model(self) -> str | None:
        """When grouped by ``model``: The model name. Otherwise null."""
        return self._str_or_none("model")

    @property
    def size(self) -> str | None:
        """When grouped by ``size``: The image size, e.g. `1024x1024`; any `WIDTHxHEIGHT` a model produces (gpt-image-1 makes `1536x1024`). The `sizes` filter takes OpenAI's documented values. One of: 256x256, 512x512, 1024x1024, 1792x1792, 1024x1792. Otherwise null."""
        return self._str_or_none("size")

    @property
    def source(self) -> str | None:
        """When grouped by ``source``: The image source (generation, edit or variation). One of: image.generation, image.edit, image.variation. Otherwise null."""
        return self._str_or_none("source")


class ModerationsResult(Result):
    """A result of ``/v1/organization/usage/moderations`` (``object``: ``organization.usage.moderations.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["moderations"]
    fields: ClassVar[tuple[str, ...]] = (
        'input_tokens',
        'num_model_requests',
        'project_id',
        'user_id',
        'api_key_id',
        'model',
    )

    @property
    def input_tokens(self) -> int:
        """Input tokens used."""
        return self._int("input_tokens")

    @property
    def num_model_requests(self) -> int:
        """The count of requests made to the model."""
        return self._int("num_model_requests")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def model(self) -> str | None:
        """When grouped by ``model``: The model name. Otherwise null."""
        return self._str_or_none("model")


class VectorStoresResult(Result):
    """A result of ``/v1/organization/usage/vector_stores`` (``object``: ``organization.usage.vector_stores.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["vector_stores"]
    fields: ClassVar[tuple[str, ...]] = (
        'usage_bytes',
        'project_id',
    )

    @property
    def usage_bytes(self) -> int:
        """Vector storage held, in bytes: per project the largest sample in the bucket."""
        return self._int("usage_bytes")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")


class FileSearchCallsResult(Result):
    """A result of ``/v1/organization/usage/file_search_calls`` (``object``: ``organization.usage.file_searches.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["file_search_calls"]
    fields: ClassVar[tuple[str, ...]] = (
        'num_requests',
        'project_id',
        'user_id',
        'api_key_id',
        'vector_store_id',
    )

    @property
    def num_requests(self) -> int:
        """The number of file search calls."""
        return self._int("num_requests")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def vector_store_id(self) -> str | None:
        """When grouped by ``vector_store_id``: The vector store searched. Otherwise null."""
        return self._str_or_none("vector_store_id")


class WebSearchCallsResult(Result):
    """A result of ``/v1/organization/usage/web_search_calls`` (``object``: ``organization.usage.web_searches.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["web_search_calls"]
    fields: ClassVar[tuple[str, ...]] = (
        'num_requests',
        'num_model_requests',
        'project_id',
        'user_id',
        'api_key_id',
        'model',
        'context_level',
        'api_source',
    )

    @property
    def num_requests(self) -> int:
        """The number of web search calls."""
        return self._int("num_requests")

    @property
    def num_model_requests(self) -> int:
        """The count of requests made to the model."""
        return self._int("num_model_requests")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def model(self) -> str | None:
        """When grouped by ``model``: The model name. Otherwise null."""
        return self._str_or_none("model")

    @property
    def context_level(self) -> str | None:
        """When grouped by ``context_level``: The web search context level. One of: low, medium, high. Otherwise null."""
        return self._str_or_none("context_level")

    @property
    def api_source(self) -> str | None:
        """When grouped by ``api_source``: `agents_api` for attributed Agents API activity, `unlabeled` for everything else. One of: agents_api, unlabeled. Otherwise null."""
        return self._str_or_none("api_source")


class DecisionsResult(Result):
    """A result of ``/v1/organization/usage/decisions`` (``object``: ``organization.usage.decisions.result``)."""

    __slots__ = ()
    endpoint: ClassVar[Endpoint] = ENDPOINTS_BY_NAME["decisions"]
    fields: ClassVar[tuple[str, ...]] = (
        'input_tokens',
        'output_tokens',
        'input_cached_tokens',
        'input_audio_tokens',
        'output_audio_tokens',
        'num_model_requests',
        'input_text_tokens',
        'input_image_tokens',
        'input_uncached_tokens',
        'input_cached_text_tokens',
        'input_cached_audio_tokens',
        'input_cached_image_tokens',
        'input_cache_write_tokens',
        'input_cache_write_30m_tokens',
        'input_cache_write_12h_tokens',
        'output_text_tokens',
        'output_image_tokens',
        'project_id',
        'user_id',
        'api_key_id',
        'model',
        'batch',
        'service_tier',
        'api_source',
    )

    @property
    def input_tokens(self) -> int:
        """Input tokens used, including cached and cache-write tokens, across text, audio and image."""
        return self._int("input_tokens")

    @property
    def output_tokens(self) -> int:
        """Output tokens used across text, audio and image outputs."""
        return self._int("output_tokens")

    @property
    def input_cached_tokens(self) -> int | None:
        """Cached input tokens used across text, audio and image inputs. Null when the API does not report it."""
        return self._int_or_none("input_cached_tokens")

    @property
    def input_audio_tokens(self) -> int | None:
        """Uncached audio input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_audio_tokens")

    @property
    def output_audio_tokens(self) -> int | None:
        """Audio output tokens used. Null when the API does not report it."""
        return self._int_or_none("output_audio_tokens")

    @property
    def num_model_requests(self) -> int:
        """The count of requests made to the model."""
        return self._int("num_model_requests")

    @property
    def input_text_tokens(self) -> int | None:
        """Uncached text input tokens used, excluding cache-write tokens. Null when the API does not report it."""
        return self._int_or_none("input_text_tokens")

    @property
    def input_image_tokens(self) -> int | None:
        """Uncached image input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_image_tokens")

    @property
    def input_uncached_tokens(self) -> int | None:
        """Uncached input tokens used across text, audio and image inputs, excluding cache-write tokens. Null when the API does not report it."""
        return self._int_or_none("input_uncached_tokens")

    @property
    def input_cached_text_tokens(self) -> int | None:
        """Cached text input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_cached_text_tokens")

    @property
    def input_cached_audio_tokens(self) -> int | None:
        """Cached audio input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_cached_audio_tokens")

    @property
    def input_cached_image_tokens(self) -> int | None:
        """Cached image input tokens used. Null when the API does not report it."""
        return self._int_or_none("input_cached_image_tokens")

    @property
    def input_cache_write_tokens(self) -> int | None:
        """Input tokens written to the cache (30-minute and 12-hour retention). Null when the API does not report it."""
        return self._int_or_none("input_cache_write_tokens")

    @property
    def input_cache_write_30m_tokens(self) -> int | None:
        """Input tokens written to the cache with a 30-minute retention. Null when the API does not report it."""
        return self._int_or_none("input_cache_write_30m_tokens")

    @property
    def input_cache_write_12h_tokens(self) -> int | None:
        """Input tokens written to the cache with a 12-hour retention. Null when the API does not report it."""
        return self._int_or_none("input_cache_write_12h_tokens")

    @property
    def output_text_tokens(self) -> int | None:
        """Text output tokens used. Null when the API does not report it."""
        return self._int_or_none("output_text_tokens")

    @property
    def output_image_tokens(self) -> int | None:
        """Image output tokens used. Null when the API does not report it."""
        return self._int_or_none("output_image_tokens")

    @property
    def project_id(self) -> str | None:
        """When grouped by ``project_id``: The project the usage belongs to. Otherwise null."""
        return self._str_or_none("project_id")

    @property
    def user_id(self) -> str | None:
        """When grouped by ``user_id``: The user who made the requests. Otherwise null."""
        return self._str_or_none("user_id")

    @property
    def api_key_id(self) -> str | None:
        """When grouped by ``api_key_id``: The API key the requests were made with. Otherwise null."""
        return self._str_or_none("api_key_id")

    @property
    def model(self) -> str | None:
        """When grouped by ``model``: The model name. Otherwise null."""
        return self._str_or_none("model")

    @property
    def batch(self) -> bool | None:
        """When grouped by ``batch``: Whether the usage came from the Batch API. Otherwise null."""
        return self._bool_or_none("batch")

    @property
    def service_tier(self) -> str | None:
        """When grouped by ``service_tier``: The service tier (default, flex, priority, scale). Otherwise null."""
        return self._str_or_none("service_tier")

    @property
    def api_source(self) -> str | None:
        """When grouped by ``api_source``: `agents_api` for attributed Agents API activity, `unlabeled` for everything else. One of: agents_api, unlabeled. Otherwise null."""
        return self._str_or_none("api_source")


RESULT_CLASSES: dict[str, type[Result]] = {
    'audio_speeches': AudioSpeechesResult,
    'audio_transcriptions': AudioTranscriptionsResult,
    'code_interpreter_sessions': CodeInterpreterSessionsResult,
    'completions': CompletionsResult,
    'costs': CostsResult,
    'embeddings': EmbeddingsResult,
    'images': ImagesResult,
    'moderations': ModerationsResult,
    'vector_stores': VectorStoresResult,
    'file_search_calls': FileSearchCallsResult,
    'web_search_calls': WebSearchCallsResult,
    'decisions': DecisionsResult,
}
"""Result class by endpoint name."""


class SyncMethods:
    """The endpoint methods of :class:`UsageApi`; it implements the three calls they make."""

    __slots__ = ()

    def _page(self, endpoint: Endpoint, args: Mapping[str, Any], paginate: bool) -> Page[Any]:
        """One page, or every page with ``paginate``."""
        raise NotImplementedError

    def _http_info(self, endpoint: Endpoint, args: Mapping[str, Any]) -> ApiResponse[Any]:
        """One page with the HTTP status and headers."""
        raise NotImplementedError

    def _iter(self, endpoint: Endpoint, args: Mapping[str, Any]) -> Iterator[Bucket[Any]]:
        """Every bucket of every page; arguments are checked at the call."""
        raise NotImplementedError

    def usage_audio_speeches(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[AudioSpeechesResult]:
        """Get audio speeches usage details for the organization.

        ``GET /v1/organization/usage/audio_speeches`` -> results of type :class:`AudioSpeechesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(AudioSpeechesResult.endpoint, locals(), paginate)

    def usage_audio_speeches_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[AudioSpeechesResult]:
        """Get audio speeches usage details for the organization.

        ``GET /v1/organization/usage/audio_speeches`` -> results of type :class:`AudioSpeechesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(AudioSpeechesResult.endpoint, locals())

    def iter_audio_speeches(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[AudioSpeechesResult]]:
        """Get audio speeches usage details for the organization.

        ``GET /v1/organization/usage/audio_speeches`` -> results of type :class:`AudioSpeechesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(AudioSpeechesResult.endpoint, locals())

    def usage_audio_transcriptions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[AudioTranscriptionsResult]:
        """Get audio transcriptions usage details for the organization.

        ``GET /v1/organization/usage/audio_transcriptions`` -> results of type :class:`AudioTranscriptionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(AudioTranscriptionsResult.endpoint, locals(), paginate)

    def usage_audio_transcriptions_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[AudioTranscriptionsResult]:
        """Get audio transcriptions usage details for the organization.

        ``GET /v1/organization/usage/audio_transcriptions`` -> results of type :class:`AudioTranscriptionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(AudioTranscriptionsResult.endpoint, locals())

    def iter_audio_transcriptions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[AudioTranscriptionsResult]]:
        """Get audio transcriptions usage details for the organization.

        ``GET /v1/organization/usage/audio_transcriptions`` -> results of type :class:`AudioTranscriptionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(AudioTranscriptionsResult.endpoint, locals())

    def usage_code_interpreter_sessions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[CodeInterpreterSessionsResult]:
        """Get code interpreter sessions usage details for the organization.

        ``GET /v1/organization/usage/code_interpreter_sessions`` -> results of type :class:`CodeInterpreterSessionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(CodeInterpreterSessionsResult.endpoint, locals(), paginate)

    def usage_code_interpreter_sessions_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[CodeInterpreterSessionsResult]:
        """Get code interpreter sessions usage details for the organization.

        ``GET /v1/organization/usage/code_interpreter_sessions`` -> results of type :class:`CodeInterpreterSessionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(CodeInterpreterSessionsResult.endpoint, locals())

    def iter_code_interpreter_sessions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[CodeInterpreterSessionsResult]]:
        """Get code interpreter sessions usage details for the organization.

        ``GET /v1/organization/usage/code_interpreter_sessions`` -> results of type :class:`CodeInterpreterSessionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(CodeInterpreterSessionsResult.endpoint, locals())

    def usage_completions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[CompletionsResult]:
        """Get completions usage details for the organization.

        ``GET /v1/organization/usage/completions`` -> results of type :class:`CompletionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(CompletionsResult.endpoint, locals(), paginate)

    def usage_completions_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[CompletionsResult]:
        """Get completions usage details for the organization.

        ``GET /v1/organization/usage/completions`` -> results of type :class:`CompletionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(CompletionsResult.endpoint, locals())

    def iter_completions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[CompletionsResult]]:
        """Get completions usage details for the organization.

        ``GET /v1/organization/usage/completions`` -> results of type :class:`CompletionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(CompletionsResult.endpoint, locals())

    def usage_costs(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        api_key_ids: Sequence[str] | str | None = None,
        line_items: Sequence[str] | str | None = None,
        origins: Sequence[str] | str | None = None,
        paginate: bool = False,
    ) -> Page[CostsResult]:
        """Get costs details for the organization.

        ``GET /v1/organization/costs`` -> results of type :class:`CostsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d (default 1d).
            project_ids: Return only costs for these projects.
            api_key_ids: Return only costs for these API keys.
            line_items: Return only costs for these exact line item names.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, line_item, api_key_id, user_id, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 180).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(CostsResult.endpoint, locals(), paginate)

    def usage_costs_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        api_key_ids: Sequence[str] | str | None = None,
        line_items: Sequence[str] | str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[CostsResult]:
        """Get costs details for the organization.

        ``GET /v1/organization/costs`` -> results of type :class:`CostsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d (default 1d).
            project_ids: Return only costs for these projects.
            api_key_ids: Return only costs for these API keys.
            line_items: Return only costs for these exact line item names.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, line_item, api_key_id, user_id, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 180).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(CostsResult.endpoint, locals())

    def iter_costs(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        api_key_ids: Sequence[str] | str | None = None,
        line_items: Sequence[str] | str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[CostsResult]]:
        """Get costs details for the organization.

        ``GET /v1/organization/costs`` -> results of type :class:`CostsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d (default 1d).
            project_ids: Return only costs for these projects.
            api_key_ids: Return only costs for these API keys.
            line_items: Return only costs for these exact line item names.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, line_item, api_key_id, user_id, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 180).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(CostsResult.endpoint, locals())

    def usage_embeddings(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[EmbeddingsResult]:
        """Get embeddings usage details for the organization.

        ``GET /v1/organization/usage/embeddings`` -> results of type :class:`EmbeddingsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(EmbeddingsResult.endpoint, locals(), paginate)

    def usage_embeddings_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[EmbeddingsResult]:
        """Get embeddings usage details for the organization.

        ``GET /v1/organization/usage/embeddings`` -> results of type :class:`EmbeddingsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(EmbeddingsResult.endpoint, locals())

    def iter_embeddings(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[EmbeddingsResult]]:
        """Get embeddings usage details for the organization.

        ``GET /v1/organization/usage/embeddings`` -> results of type :class:`EmbeddingsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(EmbeddingsResult.endpoint, locals())

    def usage_images(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        sources: Sequence[str] | str | None = None,
        sizes: Sequence[str] | str | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        origins: Sequence[str] | str | None = None,
        paginate: bool = False,
    ) -> Page[ImagesResult]:
        """Get images usage details for the organization.

        ``GET /v1/organization/usage/images`` -> results of type :class:`ImagesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            sources: Return only usage for these image sources. One of: image.generation, image.edit, image.variation.
            sizes: Return only usage for these image sizes. One of: 256x256, 512x512, 1024x1024, 1792x1792, 1024x1792.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, size, source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(ImagesResult.endpoint, locals(), paginate)

    def usage_images_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        sources: Sequence[str] | str | None = None,
        sizes: Sequence[str] | str | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[ImagesResult]:
        """Get images usage details for the organization.

        ``GET /v1/organization/usage/images`` -> results of type :class:`ImagesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            sources: Return only usage for these image sources. One of: image.generation, image.edit, image.variation.
            sizes: Return only usage for these image sizes. One of: 256x256, 512x512, 1024x1024, 1792x1792, 1024x1792.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, size, source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(ImagesResult.endpoint, locals())

    def iter_images(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        sources: Sequence[str] | str | None = None,
        sizes: Sequence[str] | str | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[ImagesResult]]:
        """Get images usage details for the organization.

        ``GET /v1/organization/usage/images`` -> results of type :class:`ImagesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            sources: Return only usage for these image sources. One of: image.generation, image.edit, image.variation.
            sizes: Return only usage for these image sizes. One of: 256x256, 512x512, 1024x1024, 1792x1792, 1024x1792.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, size, source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(ImagesResult.endpoint, locals())

    def usage_moderations(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[ModerationsResult]:
        """Get moderations usage details for the organization.

        ``GET /v1/organization/usage/moderations`` -> results of type :class:`ModerationsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(ModerationsResult.endpoint, locals(), paginate)

    def usage_moderations_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[ModerationsResult]:
        """Get moderations usage details for the organization.

        ``GET /v1/organization/usage/moderations`` -> results of type :class:`ModerationsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(ModerationsResult.endpoint, locals())

    def iter_moderations(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[ModerationsResult]]:
        """Get moderations usage details for the organization.

        ``GET /v1/organization/usage/moderations`` -> results of type :class:`ModerationsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(ModerationsResult.endpoint, locals())

    def usage_vector_stores(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[VectorStoresResult]:
        """Get vector stores usage details for the organization.

        ``GET /v1/organization/usage/vector_stores`` -> results of type :class:`VectorStoresResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(VectorStoresResult.endpoint, locals(), paginate)

    def usage_vector_stores_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[VectorStoresResult]:
        """Get vector stores usage details for the organization.

        ``GET /v1/organization/usage/vector_stores`` -> results of type :class:`VectorStoresResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(VectorStoresResult.endpoint, locals())

    def iter_vector_stores(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[VectorStoresResult]]:
        """Get vector stores usage details for the organization.

        ``GET /v1/organization/usage/vector_stores`` -> results of type :class:`VectorStoresResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(VectorStoresResult.endpoint, locals())

    def usage_file_search_calls(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        vector_store_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[FileSearchCallsResult]:
        """Get file search calls usage details for the organization.

        ``GET /v1/organization/usage/file_search_calls`` -> results of type :class:`FileSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            vector_store_ids: Return only usage for these vector stores.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, vector_store_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(FileSearchCallsResult.endpoint, locals(), paginate)

    def usage_file_search_calls_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        vector_store_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[FileSearchCallsResult]:
        """Get file search calls usage details for the organization.

        ``GET /v1/organization/usage/file_search_calls`` -> results of type :class:`FileSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            vector_store_ids: Return only usage for these vector stores.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, vector_store_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(FileSearchCallsResult.endpoint, locals())

    def iter_file_search_calls(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        vector_store_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[FileSearchCallsResult]]:
        """Get file search calls usage details for the organization.

        ``GET /v1/organization/usage/file_search_calls`` -> results of type :class:`FileSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            vector_store_ids: Return only usage for these vector stores.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, vector_store_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(FileSearchCallsResult.endpoint, locals())

    def usage_web_search_calls(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        context_levels: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[WebSearchCallsResult]:
        """Get web search calls usage details for the organization.

        ``GET /v1/organization/usage/web_search_calls`` -> results of type :class:`WebSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            context_levels: Return only usage for these context levels. One of: low, medium, high.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, context_level, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(WebSearchCallsResult.endpoint, locals(), paginate)

    def usage_web_search_calls_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        context_levels: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[WebSearchCallsResult]:
        """Get web search calls usage details for the organization.

        ``GET /v1/organization/usage/web_search_calls`` -> results of type :class:`WebSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            context_levels: Return only usage for these context levels. One of: low, medium, high.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, context_level, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(WebSearchCallsResult.endpoint, locals())

    def iter_web_search_calls(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        context_levels: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[WebSearchCallsResult]]:
        """Get web search calls usage details for the organization.

        ``GET /v1/organization/usage/web_search_calls`` -> results of type :class:`WebSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            context_levels: Return only usage for these context levels. One of: low, medium, high.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, context_level, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(WebSearchCallsResult.endpoint, locals())

    def usage_decisions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[DecisionsResult]:
        """Get decisions usage details for the organization.

        ``GET /v1/organization/usage/decisions`` -> results of type :class:`DecisionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._page(DecisionsResult.endpoint, locals(), paginate)

    def usage_decisions_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[DecisionsResult]:
        """Get decisions usage details for the organization.

        ``GET /v1/organization/usage/decisions`` -> results of type :class:`DecisionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._http_info(DecisionsResult.endpoint, locals())

    def iter_decisions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> Iterator[Bucket[DecisionsResult]]:
        """Get decisions usage details for the organization.

        ``GET /v1/organization/usage/decisions`` -> results of type :class:`DecisionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (a generator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(DecisionsResult.endpoint, locals())


class AsyncMethods:
    """The endpoint methods of :class:`AsyncUsageApi`; it implements the three calls they make."""

    __slots__ = ()

    async def _page(self, endpoint: Endpoint, args: Mapping[str, Any], paginate: bool) -> Page[Any]:
        """One page, or every page with ``paginate``."""
        raise NotImplementedError

    async def _http_info(self, endpoint: Endpoint, args: Mapping[str, Any]) -> ApiResponse[Any]:
        """One page with the HTTP status and headers."""
        raise NotImplementedError

    def _iter(self, endpoint: Endpoint, args: Mapping[str, Any]) -> AsyncIterator[Bucket[Any]]:
        """Every bucket of every page; arguments are checked at the call."""
        raise NotImplementedError

    async def usage_audio_speeches(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[AudioSpeechesResult]:
        """Get audio speeches usage details for the organization.

        ``GET /v1/organization/usage/audio_speeches`` -> results of type :class:`AudioSpeechesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(AudioSpeechesResult.endpoint, locals(), paginate)

    async def usage_audio_speeches_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[AudioSpeechesResult]:
        """Get audio speeches usage details for the organization.

        ``GET /v1/organization/usage/audio_speeches`` -> results of type :class:`AudioSpeechesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(AudioSpeechesResult.endpoint, locals())

    def iter_audio_speeches(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[AudioSpeechesResult]]:
        """Get audio speeches usage details for the organization.

        ``GET /v1/organization/usage/audio_speeches`` -> results of type :class:`AudioSpeechesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(AudioSpeechesResult.endpoint, locals())

    async def usage_audio_transcriptions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[AudioTranscriptionsResult]:
        """Get audio transcriptions usage details for the organization.

        ``GET /v1/organization/usage/audio_transcriptions`` -> results of type :class:`AudioTranscriptionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(AudioTranscriptionsResult.endpoint, locals(), paginate)

    async def usage_audio_transcriptions_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[AudioTranscriptionsResult]:
        """Get audio transcriptions usage details for the organization.

        ``GET /v1/organization/usage/audio_transcriptions`` -> results of type :class:`AudioTranscriptionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(AudioTranscriptionsResult.endpoint, locals())

    def iter_audio_transcriptions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[AudioTranscriptionsResult]]:
        """Get audio transcriptions usage details for the organization.

        ``GET /v1/organization/usage/audio_transcriptions`` -> results of type :class:`AudioTranscriptionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(AudioTranscriptionsResult.endpoint, locals())

    async def usage_code_interpreter_sessions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[CodeInterpreterSessionsResult]:
        """Get code interpreter sessions usage details for the organization.

        ``GET /v1/organization/usage/code_interpreter_sessions`` -> results of type :class:`CodeInterpreterSessionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(CodeInterpreterSessionsResult.endpoint, locals(), paginate)

    async def usage_code_interpreter_sessions_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[CodeInterpreterSessionsResult]:
        """Get code interpreter sessions usage details for the organization.

        ``GET /v1/organization/usage/code_interpreter_sessions`` -> results of type :class:`CodeInterpreterSessionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(CodeInterpreterSessionsResult.endpoint, locals())

    def iter_code_interpreter_sessions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[CodeInterpreterSessionsResult]]:
        """Get code interpreter sessions usage details for the organization.

        ``GET /v1/organization/usage/code_interpreter_sessions`` -> results of type :class:`CodeInterpreterSessionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(CodeInterpreterSessionsResult.endpoint, locals())

    async def usage_completions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[CompletionsResult]:
        """Get completions usage details for the organization.

        ``GET /v1/organization/usage/completions`` -> results of type :class:`CompletionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(CompletionsResult.endpoint, locals(), paginate)

    async def usage_completions_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[CompletionsResult]:
        """Get completions usage details for the organization.

        ``GET /v1/organization/usage/completions`` -> results of type :class:`CompletionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(CompletionsResult.endpoint, locals())

    def iter_completions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[CompletionsResult]]:
        """Get completions usage details for the organization.

        ``GET /v1/organization/usage/completions`` -> results of type :class:`CompletionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(CompletionsResult.endpoint, locals())

    async def usage_costs(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        api_key_ids: Sequence[str] | str | None = None,
        line_items: Sequence[str] | str | None = None,
        origins: Sequence[str] | str | None = None,
        paginate: bool = False,
    ) -> Page[CostsResult]:
        """Get costs details for the organization.

        ``GET /v1/organization/costs`` -> results of type :class:`CostsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d (default 1d).
            project_ids: Return only costs for these projects.
            api_key_ids: Return only costs for these API keys.
            line_items: Return only costs for these exact line item names.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, line_item, api_key_id, user_id, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 180).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(CostsResult.endpoint, locals(), paginate)

    async def usage_costs_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        api_key_ids: Sequence[str] | str | None = None,
        line_items: Sequence[str] | str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[CostsResult]:
        """Get costs details for the organization.

        ``GET /v1/organization/costs`` -> results of type :class:`CostsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d (default 1d).
            project_ids: Return only costs for these projects.
            api_key_ids: Return only costs for these API keys.
            line_items: Return only costs for these exact line item names.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, line_item, api_key_id, user_id, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 180).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(CostsResult.endpoint, locals())

    def iter_costs(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        api_key_ids: Sequence[str] | str | None = None,
        line_items: Sequence[str] | str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[CostsResult]]:
        """Get costs details for the organization.

        ``GET /v1/organization/costs`` -> results of type :class:`CostsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d (default 1d).
            project_ids: Return only costs for these projects.
            api_key_ids: Return only costs for these API keys.
            line_items: Return only costs for these exact line item names.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, line_item, api_key_id, user_id, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 180).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(CostsResult.endpoint, locals())

    async def usage_embeddings(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[EmbeddingsResult]:
        """Get embeddings usage details for the organization.

        ``GET /v1/organization/usage/embeddings`` -> results of type :class:`EmbeddingsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(EmbeddingsResult.endpoint, locals(), paginate)

    async def usage_embeddings_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[EmbeddingsResult]:
        """Get embeddings usage details for the organization.

        ``GET /v1/organization/usage/embeddings`` -> results of type :class:`EmbeddingsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(EmbeddingsResult.endpoint, locals())

    def iter_embeddings(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[EmbeddingsResult]]:
        """Get embeddings usage details for the organization.

        ``GET /v1/organization/usage/embeddings`` -> results of type :class:`EmbeddingsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(EmbeddingsResult.endpoint, locals())

    async def usage_images(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        sources: Sequence[str] | str | None = None,
        sizes: Sequence[str] | str | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        origins: Sequence[str] | str | None = None,
        paginate: bool = False,
    ) -> Page[ImagesResult]:
        """Get images usage details for the organization.

        ``GET /v1/organization/usage/images`` -> results of type :class:`ImagesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            sources: Return only usage for these image sources. One of: image.generation, image.edit, image.variation.
            sizes: Return only usage for these image sizes. One of: 256x256, 512x512, 1024x1024, 1792x1792, 1024x1792.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, size, source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(ImagesResult.endpoint, locals(), paginate)

    async def usage_images_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        sources: Sequence[str] | str | None = None,
        sizes: Sequence[str] | str | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[ImagesResult]:
        """Get images usage details for the organization.

        ``GET /v1/organization/usage/images`` -> results of type :class:`ImagesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            sources: Return only usage for these image sources. One of: image.generation, image.edit, image.variation.
            sizes: Return only usage for these image sizes. One of: 256x256, 512x512, 1024x1024, 1792x1792, 1024x1792.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, size, source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(ImagesResult.endpoint, locals())

    def iter_images(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        sources: Sequence[str] | str | None = None,
        sizes: Sequence[str] | str | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        *,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[ImagesResult]]:
        """Get images usage details for the organization.

        ``GET /v1/organization/usage/images`` -> results of type :class:`ImagesResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            sources: Return only usage for these image sources. One of: image.generation, image.edit, image.variation.
            sizes: Return only usage for these image sizes. One of: 256x256, 512x512, 1024x1024, 1792x1792, 1024x1792.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, size, source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(ImagesResult.endpoint, locals())

    async def usage_moderations(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[ModerationsResult]:
        """Get moderations usage details for the organization.

        ``GET /v1/organization/usage/moderations`` -> results of type :class:`ModerationsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(ModerationsResult.endpoint, locals(), paginate)

    async def usage_moderations_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[ModerationsResult]:
        """Get moderations usage details for the organization.

        ``GET /v1/organization/usage/moderations`` -> results of type :class:`ModerationsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(ModerationsResult.endpoint, locals())

    def iter_moderations(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[ModerationsResult]]:
        """Get moderations usage details for the organization.

        ``GET /v1/organization/usage/moderations`` -> results of type :class:`ModerationsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(ModerationsResult.endpoint, locals())

    async def usage_vector_stores(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[VectorStoresResult]:
        """Get vector stores usage details for the organization.

        ``GET /v1/organization/usage/vector_stores`` -> results of type :class:`VectorStoresResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(VectorStoresResult.endpoint, locals(), paginate)

    async def usage_vector_stores_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[VectorStoresResult]:
        """Get vector stores usage details for the organization.

        ``GET /v1/organization/usage/vector_stores`` -> results of type :class:`VectorStoresResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(VectorStoresResult.endpoint, locals())

    def iter_vector_stores(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[VectorStoresResult]]:
        """Get vector stores usage details for the organization.

        ``GET /v1/organization/usage/vector_stores`` -> results of type :class:`VectorStoresResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(VectorStoresResult.endpoint, locals())

    async def usage_file_search_calls(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        vector_store_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[FileSearchCallsResult]:
        """Get file search calls usage details for the organization.

        ``GET /v1/organization/usage/file_search_calls`` -> results of type :class:`FileSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            vector_store_ids: Return only usage for these vector stores.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, vector_store_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(FileSearchCallsResult.endpoint, locals(), paginate)

    async def usage_file_search_calls_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        vector_store_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[FileSearchCallsResult]:
        """Get file search calls usage details for the organization.

        ``GET /v1/organization/usage/file_search_calls`` -> results of type :class:`FileSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            vector_store_ids: Return only usage for these vector stores.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, vector_store_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(FileSearchCallsResult.endpoint, locals())

    def iter_file_search_calls(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        vector_store_ids: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[FileSearchCallsResult]]:
        """Get file search calls usage details for the organization.

        ``GET /v1/organization/usage/file_search_calls`` -> results of type :class:`FileSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            vector_store_ids: Return only usage for these vector stores.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, vector_store_id, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(FileSearchCallsResult.endpoint, locals())

    async def usage_web_search_calls(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        context_levels: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[WebSearchCallsResult]:
        """Get web search calls usage details for the organization.

        ``GET /v1/organization/usage/web_search_calls`` -> results of type :class:`WebSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            context_levels: Return only usage for these context levels. One of: low, medium, high.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, context_level, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(WebSearchCallsResult.endpoint, locals(), paginate)

    async def usage_web_search_calls_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        context_levels: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[WebSearchCallsResult]:
        """Get web search calls usage details for the organization.

        ``GET /v1/organization/usage/web_search_calls`` -> results of type :class:`WebSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            context_levels: Return only usage for these context levels. One of: low, medium, high.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, context_level, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(WebSearchCallsResult.endpoint, locals())

    def iter_web_search_calls(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        context_levels: Sequence[str] | str | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[WebSearchCallsResult]]:
        """Get web search calls usage details for the organization.

        ``GET /v1/organization/usage/web_search_calls`` -> results of type :class:`WebSearchCallsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            context_levels: Return only usage for these context levels. One of: low, medium, high.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, context_level, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(WebSearchCallsResult.endpoint, locals())

    async def usage_decisions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
        *,
        paginate: bool = False,
    ) -> Page[DecisionsResult]:
        """Get decisions usage details for the organization.

        ``GET /v1/organization/usage/decisions`` -> results of type :class:`DecisionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.
            paginate: Follow ``next_page`` and return every bucket in one page.

        Returns:
            The page (a :class:`Page`); with ``paginate=True`` every page's buckets in one page.

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._page(DecisionsResult.endpoint, locals(), paginate)

    async def usage_decisions_with_http_info(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> ApiResponse[DecisionsResult]:
        """Get decisions usage details for the organization.

        ``GET /v1/organization/usage/decisions`` -> results of type :class:`DecisionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            An :class:`ApiResponse` with ``status_code``, ``headers`` and ``data`` (the page).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return await self._http_info(DecisionsResult.endpoint, locals())

    def iter_decisions(
        self,
        start_time: int | datetime,
        end_time: int | datetime | None = None,
        bucket_width: Literal['1d', '1h', '1m'] | None = None,
        project_ids: Sequence[str] | str | None = None,
        user_ids: Sequence[str] | str | None = None,
        api_key_ids: Sequence[str] | str | None = None,
        models: Sequence[str] | str | None = None,
        batch: bool | None = None,
        group_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page: str | None = None,
        origins: Sequence[str] | str | None = None,
    ) -> AsyncIterator[Bucket[DecisionsResult]]:
        """Get decisions usage details for the organization.

        ``GET /v1/organization/usage/decisions`` -> results of type :class:`DecisionsResult`.

        Args:
            start_time: Start of the range (Unix seconds or a datetime; naive means UTC), inclusive. Required.
            end_time: End of the range, exclusive; default now.
            bucket_width: Width of each bucket: 1d, 1h, 1m (default 1d).
            project_ids: Return only usage for these projects.
            user_ids: Return only usage for these users.
            api_key_ids: Return only usage for these API keys.
            models: Return only usage for these models.
            batch: If `true`, return batch jobs only; if `false`, non-batch only.
            origins: Return only usage that entered this server from these origins (an openusage extension). One of: ingest, proxy, otlp, openai, anthropic, openusage, demo.
            group_by: Group results by these fields: project_id, user_id, api_key_id, model, batch, service_tier, api_source, origin (any combination).
            limit: Buckets per page (bucket_width=1d: default 7, max 31; bucket_width=1h: default 24, max 168; bucket_width=1m: default 60, max 1440).
            page: The `next_page` cursor of a previous answer.

        Returns:
            Every bucket of every page, following ``next_page`` (an async iterator).

        Raises:
            ArgumentError: an argument the API would refuse (before sending).
            APIStatusError: the server's error (BadRequestError, AuthenticationError, RateLimitError, ...).
            APIConnectionError: no answer after the retries.
        """
        return self._iter(DecisionsResult.endpoint, locals())
