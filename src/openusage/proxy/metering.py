"""What a proxied request used, read from the upstream's answer: pure functions, no I/O.

Each metered path maps to one event type of the Usage API.  Token counts come from the answer's
``usage`` object, in either of OpenAI's two shapes (Chat Completions' ``prompt_tokens`` /
``completion_tokens`` with ``*_details``, or the Responses API's ``input_tokens`` / ``output_tokens``);
images are counted from ``data``, with their ``quality`` (the answer's, else the request's) and, for
gpt-image models, the input and output tokens of the answer's ``usage``; speech is billed by the
characters of the request's ``input``; transcriptions by the seconds the upstream reports.

How the detail fields fill the completions metrics (the Usage API's definitions in ``spec.py``):

* ``input_tokens`` = prompt/input tokens (cached included); ``output_tokens`` = completion/output
  tokens (reasoning included, as OpenAI bills it);
* ``input_cached_tokens`` = ``cached_tokens``; split by modality from ``cached_tokens_details`` when
  the upstream gives it, else counted as cached text;
* ``input_audio_tokens`` / ``input_image_tokens`` = the uncached audio / image input tokens;
* ``input_uncached_tokens`` = input - cached; ``input_text_tokens`` = uncached input - audio - image;
* ``output_audio_tokens`` / ``output_image_tokens`` from ``completion_tokens_details``;
  ``output_text_tokens`` = output - audio - image (reasoning tokens are text);
* ``input_cache_write_tokens`` when the upstream reports ``cache_write_tokens`` (some providers do).
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..ingest.events import CONTROL_CHARS, MAX_STR_LEN
from ..spec import IMAGE_QUALITIES, IMAGE_SIZES

METERED: dict[str, str] = {
    "/chat/completions": "completions",
    "/completions": "completions",
    "/responses": "completions",
    "/embeddings": "embeddings",
    "/moderations": "moderations",
    "/images/generations": "images",
    "/images/edits": "images",
    "/images/variations": "images",
    "/audio/speech": "audio_speeches",
    "/audio/transcriptions": "audio_transcriptions",
    "/audio/translations": "audio_transcriptions",
}
"""Paths below ``/v1`` whose requests are recorded, and the event type each records."""

STREAM_USAGE_PATHS = ("/chat/completions", "/completions")
"""Paths that send usage in a stream only when asked (``stream_options.include_usage``)."""

IMAGE_SOURCE = {"/images/generations": "image.generation", "/images/edits": "image.edit",
                "/images/variations": "image.variation"}


_MAX_COUNT = 2**62


def _int(value: Any) -> int:
    """A non-negative count from whatever the upstream wrote (None, float, junk: 0)."""
    if type(value) is int:  # the usual case, spared the checks below (bool is not of type int)
        return 0 if value < 0 else value if value < _MAX_COUNT else _MAX_COUNT
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return 0
    return int(value) if value < _MAX_COUNT else _MAX_COUNT  # an infinite float has no int


def _details(usage: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        d = usage.get(name)
        if isinstance(d, dict):
            return d
    return {}


def token_metrics(usage: Any) -> dict[str, int]:
    """Completions metrics from a ``usage`` object of either API shape; {} when there is none.

    Conditional expressions rather than ``min``/``max``: each builtin call parses its arguments (about
    550 instructions), 16 of them were a tenth of a proxied answer's metering."""
    if not isinstance(usage, dict):
        return {}
    if "input_tokens" in usage or "output_tokens" in usage:
        total_in, total_out = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
        din = _details(usage, "input_tokens_details", "prompt_tokens_details")
        dout = _details(usage, "output_tokens_details", "completion_tokens_details")
    else:
        total_in, total_out = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        din = _details(usage, "prompt_tokens_details", "input_tokens_details")
        dout = _details(usage, "completion_tokens_details", "output_tokens_details")
    cached = _int(din.get("cached_tokens"))
    if cached > total_in:
        cached = total_in
    split = din.get("cached_tokens_details")
    if isinstance(split, dict):
        cached_audio, cached_image = _int(split.get("audio_tokens")), _int(split.get("image_tokens"))
        cached_text = cached - cached_audio - cached_image
        if cached_text < 0:
            cached_text = 0
    else:
        cached_text, cached_audio, cached_image = cached, 0, 0
    uncached = total_in - cached
    audio_in = _within(_int(din.get("audio_tokens")) - cached_audio, uncached)
    image_in = _within(_int(din.get("image_tokens")) - cached_image, uncached - audio_in)
    audio_out = _within(_int(dout.get("audio_tokens")), total_out)
    image_out = _within(_int(dout.get("image_tokens")), total_out - audio_out)
    metrics = {
        "input_tokens": total_in,
        "output_tokens": total_out,
        "input_cached_tokens": cached,
        "input_audio_tokens": audio_in,
        "output_audio_tokens": audio_out,
        "input_text_tokens": uncached - audio_in - image_in,
        "input_image_tokens": image_in,
        "input_uncached_tokens": uncached,
        "input_cached_text_tokens": cached_text,
        "input_cached_audio_tokens": cached_audio,
        "input_cached_image_tokens": cached_image,
        "output_text_tokens": total_out - audio_out - image_out,
        "output_image_tokens": image_out,
    }
    write = _int(din.get("cache_write_tokens") or din.get("cache_creation_tokens"))
    if write:
        metrics["input_cache_write_tokens"] = write
    return metrics


def _within(value: int, limit: int) -> int:
    """``value`` kept between 0 and ``limit`` (``limit`` is never negative here)."""
    return 0 if value < 0 else limit if value > limit else value


def input_token_metrics(usage: Any) -> dict[str, int]:
    """Embeddings and moderations count input tokens only."""
    if not isinstance(usage, dict):
        return {}
    return {"input_tokens": _int(usage.get("prompt_tokens", usage.get("input_tokens")))}


def image_size(*candidates: Any) -> str | None:
    """The first size the Usage API knows (``auto`` and custom sizes are not among them)."""
    for c in candidates:
        if isinstance(c, str) and c in IMAGE_SIZES:
            return c
    return None


def image_quality(*candidates: Any) -> str | None:
    """The first quality the Usage API knows (a model's own value, say ``premium``, is not recorded)."""
    for c in candidates:
        if isinstance(c, str) and c in IMAGE_QUALITIES:
            return c
    return None


def image_token_metrics(usage: Any) -> dict[str, int]:
    """A gpt-image answer's ``usage``: input tokens (of which image tokens, from the details) and output
    tokens; {} when there is none."""
    if not isinstance(usage, dict):
        return {}
    total_in = _int(usage.get("input_tokens"))
    details = _details(usage, "input_tokens_details")
    return {"input_tokens": total_in, "input_image_tokens": min(_int(details.get("image_tokens")), total_in),
            "output_tokens": _int(usage.get("output_tokens"))}


def upstream_text(value: Any) -> str | None:
    """A string of the upstream's answer (a model name, a service tier) as an event may hold it: control
    characters dropped, cut to the store's length limit; None when not a string or nothing is left."""
    if not isinstance(value, str):
        return None
    if CONTROL_CHARS.search(value):
        value = CONTROL_CHARS.sub("", value)
    return value[:MAX_STR_LEN] or None


def answer_fields(path: str, request: dict[str, Any], answer: Any) -> dict[str, Any]:
    """Metrics and dimensions an event takes from one complete (non-streamed) answer (or a stream's
    equivalent); its strings are ready for the store (:func:`upstream_text`)."""
    kind = METERED[path]
    answer = answer if isinstance(answer, dict) else {}
    out: dict[str, Any] = {}
    if kind == "completions":
        out.update(token_metrics(answer.get("usage")))
        tier = upstream_text(answer.get("service_tier"))
        if tier is not None:
            out["service_tier"] = tier
    elif kind in ("embeddings", "moderations"):
        out.update(input_token_metrics(answer.get("usage")))
    elif kind == "images":
        data = answer.get("data")
        out["images"] = len(data) if isinstance(data, list) else 0
        out["size"] = image_size(answer.get("size"), request.get("size"))
        out["source"] = IMAGE_SOURCE[path]
        quality = image_quality(answer.get("quality"), request.get("quality"))
        if quality is not None:
            out["quality"] = quality
        out.update(image_token_metrics(answer.get("usage")))
    elif kind == "audio_speeches":
        text = request.get("input")
        out["characters"] = len(text) if isinstance(text, str) else 0
    elif kind == "audio_transcriptions":
        out["seconds"] = transcription_seconds(answer)
    model = upstream_text(answer.get("model"))
    if model is not None:
        out["model"] = model
    return out


def transcription_seconds(answer: dict[str, Any]) -> int:
    """Seconds from ``usage`` (type ``duration``) or a verbose answer's ``duration``, rounded up."""
    usage = answer.get("usage")
    value: Any = None
    if isinstance(usage, dict) and usage.get("type", "duration") == "duration":
        value = usage.get("seconds")
    if value is None:
        value = answer.get("duration")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return 0
    return min(math.ceil(value), 2**62)


_MULTIPART_MODEL = re.compile(rb'name="model"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]{1,256})\r\n')


def multipart_model(body: bytes) -> str | None:
    """The ``model`` field of a multipart form (transcriptions, image edits) without parsing files."""
    m = _MULTIPART_MODEL.search(body)
    return m.group(1).decode("utf-8", "replace") if m else None
