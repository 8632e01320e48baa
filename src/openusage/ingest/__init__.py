"""Usage events: their schema, validation and conversion to columns for the store."""

from .events import EventBatch, validate_events

__all__ = ["EventBatch", "validate_events"]
