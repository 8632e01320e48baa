"""A synthetic organization for ``openusage serve --demo``: real-looking answers at once.

Ninety days of usage of every type for several projects, users, keys and models, with a daily
rhythm (busy working hours, quiet nights), a weekly one (quiet weekends) and slow growth.  The
generator is seeded, so the same call always yields the same events.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any, NamedTuple

DAY = 86400
HOUR = 3600


class Project(NamedTuple):
    """A demo project: its share of the load and the users who send it requests."""

    weight: float
    users: tuple[str, ...]


PROJECTS = {
    "proj_support_bot": Project(1.0, ("user_ana", "user_ben", "user_chen")),
    "proj_search": Project(0.6, ("user_dev", "user_eli")),
    "proj_analytics": Project(0.35, ("user_fay", "user_gus")),
    "proj_internal_tools": Project(0.2, ("user_ana", "user_hal")),
}
KEYS = {project: [f"key_{project.removeprefix('proj_')}_{number}" for number in (1, 2)] for project in PROJECTS}
CHAT_MODELS = {
    "gpt-4o-2024-08-06": 0.25,
    "gpt-4o-mini-2024-07-18": 0.4,
    "gpt-4.1-2025-04-14": 0.15,
    "o3-mini-2025-01-31": 0.1,
    "gpt-5-2025-08-07": 0.1,
}


def _rhythm(at: int) -> float:
    """Load factor at time ``at``: working-hours peak (UTC 8-18), weekends at 30%."""
    hour = (at // HOUR) % 24
    weekday = (at // DAY + 3) % 7  # 1970-01-01 was a Thursday
    daily = 0.15 + 0.85 * math.exp(-(((hour - 13) / 4.5) ** 2))
    weekly = 0.3 if weekday >= 5 else 1.0
    return daily * weekly


def _image_details(image: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """An image request's quality and, for gpt-image models, its input tokens (edits send images)."""
    if image["model"] == "dall-e-3":
        return {"quality": rng.choices(["standard", "hd"], [0.7, 0.3])[0]}
    text = image["num_model_requests"] * rng.randint(20, 200)
    pictures = image["num_model_requests"] * rng.randint(300, 1500) if image["source"] == "image.edit" else 0
    return {"quality": rng.choice(["low", "medium", "high", "auto"]), "input_tokens": text + pictures,
            "input_image_tokens": pictures, "output_tokens": image["images"] * 4160}


def demo_events(end: int, days: int = 90, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Hourly usage events over ``days`` days before ``end`` (aligned down to the hour)."""
    rng = random.Random(seed)
    other = random.Random(seed + 1)  # usage added later draws from its own stream: the rest stays as it was
    end = end - end % HOUR
    start = end - days * DAY
    made = 0

    def next_id() -> str:
        nonlocal made
        made += 1
        return f"demo_{seed}_{made}"

    for hour in range(start, end, HOUR):
        growth = 1 + 0.01 * (hour - start) / (7 * DAY)  # 1% a week
        load = _rhythm(hour) * growth
        for project, info in PROJECTS.items():
            weight = info.weight * load
            for model, share in CHAT_MODELS.items():
                requests = int(rng.gammavariate(2, 20 * weight * share * 4))
                if requests == 0:
                    continue
                user = rng.choice(info.users)
                key = rng.choice(KEYS[project])
                per_req_in = rng.randint(300, 2500)
                input_tokens = requests * per_req_in
                cached = int(input_tokens * rng.uniform(0.1, 0.5))
                audio_in = int(input_tokens * 0.02) if model.startswith("gpt-4o-2") else 0
                cache_write = int((input_tokens - cached) * 0.1) if model.startswith("gpt-5") else 0
                output_tokens = requests * rng.randint(80, 700)
                audio_out = int(output_tokens * 0.03) if audio_in else 0
                batch = rng.random() < 0.12
                tier = "default" if batch else rng.choices(["default", "flex", "priority"], [0.8, 0.12, 0.08])[0]
                yield {
                    "id": next_id(), "type": "completions", "timestamp": hour + rng.randint(0, HOUR - 1),
                    "project_id": project, "user_id": user, "api_key_id": key, "model": model,
                    "batch": batch, "service_tier": tier,
                    "api_source": "agents_api" if rng.random() < 0.15 else "unlabeled",
                    "num_model_requests": requests, "input_tokens": input_tokens, "output_tokens": output_tokens,
                    "input_cached_tokens": cached, "input_cached_text_tokens": cached,
                    "input_audio_tokens": audio_in, "output_audio_tokens": audio_out,
                    "input_cache_write_tokens": cache_write, "input_cache_write_30m_tokens": cache_write,
                    "input_text_tokens": input_tokens - cached - audio_in - cache_write,
                    "input_uncached_tokens": input_tokens - cached - cache_write,
                    "output_text_tokens": output_tokens - audio_out,
                }
            if rng.random() < 0.6 * weight + 0.05:
                reqs = max(1, int(rng.gammavariate(2, 15 * weight)))
                yield {"id": next_id(), "type": "embeddings", "timestamp": hour + rng.randint(0, HOUR - 1),
                       "project_id": project, "user_id": rng.choice(info.users),
                       "api_key_id": rng.choice(KEYS[project]),
                       "model": rng.choice(["text-embedding-3-small", "text-embedding-3-large"]),
                       "num_model_requests": reqs, "input_tokens": reqs * rng.randint(200, 1200)}
            if rng.random() < 0.2 * weight:
                reqs = max(1, int(rng.gammavariate(2, 5 * weight)))
                yield {"id": next_id(), "type": "moderations", "timestamp": hour + rng.randint(0, HOUR - 1),
                       "project_id": project, "user_id": rng.choice(info.users),
                       "api_key_id": rng.choice(KEYS[project]), "model": "omni-moderation-latest",
                       "num_model_requests": reqs, "input_tokens": reqs * rng.randint(50, 400)}
            if rng.random() < 0.15 * weight:
                reqs = rng.randint(1, 4)
                image = {"id": next_id(), "type": "images", "timestamp": hour + rng.randint(0, HOUR - 1),
                         "project_id": project, "user_id": rng.choice(info.users),
                         "api_key_id": rng.choice(KEYS[project]), "model": rng.choice(["gpt-image-1", "dall-e-3"]),
                         "size": rng.choice(["1024x1024", "1024x1792", "1792x1792"]),
                         "source": rng.choices(["image.generation", "image.edit", "image.variation"],
                                               [0.8, 0.15, 0.05])[0],
                         "num_model_requests": reqs, "images": reqs * rng.randint(1, 2)}
                yield image | _image_details(image, other)
            if rng.random() < 0.1 * weight:
                reqs = rng.randint(1, 6)
                yield {"id": next_id(), "type": "audio_speeches", "timestamp": hour + rng.randint(0, HOUR - 1),
                       "project_id": project, "user_id": rng.choice(info.users),
                       "api_key_id": rng.choice(KEYS[project]), "model": rng.choice(["tts-1", "gpt-4o-mini-tts"]),
                       "num_model_requests": reqs, "characters": reqs * rng.randint(200, 3000)}
            if rng.random() < 0.1 * weight:
                reqs = rng.randint(1, 5)
                yield {"id": next_id(), "type": "audio_transcriptions", "timestamp": hour + rng.randint(0, HOUR - 1),
                       "project_id": project, "user_id": rng.choice(info.users),
                       "api_key_id": rng.choice(KEYS[project]), "model": "whisper-1",
                       "num_model_requests": reqs, "seconds": reqs * rng.randint(20, 600)}
            if rng.random() < 0.08 * weight:
                yield {"id": next_id(), "type": "code_interpreter_sessions",
                       "timestamp": hour + rng.randint(0, HOUR - 1), "project_id": project,
                       "num_sessions": rng.randint(1, 3),
                       "memory_limit": other.choices(["1g", "4g", "16g"], [0.8, 0.15, 0.05])[0]}
            if rng.random() < 0.25 * weight:
                reqs = rng.randint(1, 12)
                yield {"id": next_id(), "type": "file_searches", "timestamp": hour + rng.randint(0, HOUR - 1),
                       "project_id": project, "user_id": rng.choice(info.users),
                       "api_key_id": rng.choice(KEYS[project]),
                       "vector_store_id": f"vs_{project.removeprefix('proj_')}", "num_requests": reqs}
            if rng.random() < 0.2 * weight:
                reqs = rng.randint(1, 8)
                yield {"id": next_id(), "type": "web_searches", "timestamp": hour + rng.randint(0, HOUR - 1),
                       "project_id": project, "user_id": rng.choice(info.users),
                       "api_key_id": rng.choice(KEYS[project]), "model": rng.choice(["gpt-4o", "gpt-5"]),
                       "context_level": rng.choice(["low", "medium", "high"]),
                       "api_source": "agents_api" if rng.random() < 0.3 else "unlabeled",
                       "num_requests": reqs, "num_model_requests": reqs}
            if other.random() < 0.3 * weight:
                reqs = max(1, int(other.gammavariate(2, 6 * weight)))
                inp, out = reqs * other.randint(400, 1500), reqs * other.randint(20, 120)
                cached = int(inp * other.uniform(0.2, 0.6))
                yield {"id": next_id(), "type": "decisions", "timestamp": hour + other.randint(0, HOUR - 1),
                       "project_id": project, "user_id": other.choice(info.users),
                       "api_key_id": other.choice(KEYS[project]), "model": other.choice(["gpt-5-mini", "gpt-5"]),
                       "num_model_requests": reqs, "input_tokens": inp, "output_tokens": out,
                       "input_cached_tokens": cached, "input_cached_text_tokens": cached,
                       "input_uncached_tokens": inp - cached, "input_text_tokens": inp - cached,
                       "output_text_tokens": out}
            if hour % (6 * HOUR) == 0:  # storage sampled every 6 hours, growing slowly
                base = {"proj_support_bot": 3, "proj_search": 12, "proj_analytics": 1, "proj_internal_tools": 0.5}
                gib = base[project] * growth * rng.uniform(0.98, 1.02)
                yield {"id": next_id(), "type": "vector_stores", "timestamp": hour,
                       "project_id": project, "usage_bytes": int(gib * 2**30)}
