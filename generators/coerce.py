"""Typed reads of provider options (``ProviderConfig.options`` is a JSON object, so its values
are ``object``): the same conversions as ``int()``/``float()``, with a type the checker sees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard


def as_int(value: object) -> int:
    """``int(value)`` for a number or numeric string; TypeError for anything else."""
    if isinstance(value, int | float | str):
        return int(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def as_float(value: object) -> float:
    """``float(value)`` for a number or numeric string; TypeError for anything else."""
    if isinstance(value, int | float | str):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)
