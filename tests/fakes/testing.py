"""Config/request builders for tests that drive generators against the fakes."""

from __future__ import annotations

from typing import Any

from generators.base import GenerationRequest, ProviderConfig

# tiny poll/backoff intervals so suites using the fakes stay fast
FAST_OPTIONS: dict[str, Any] = {
    "poll_interval_s": 0.01,
    "poll_max_interval_s": 0.05,
    "retry_backoff_s": 0.01,
    "retry_backoff_max_s": 0.05,
}


def make_config(
    kind: str,
    base_url: str,
    *,
    api_key: str = "test-key",
    model_id: str = "",
    timeout_s: float = 5.0,
    max_retries: int = 3,
    cost_per_output: float | None = None,
    max_concurrency: int = 4,
    **options: Any,
) -> ProviderConfig:
    """A ProviderConfig pointing at a fake, with fast polling and backoff."""
    return ProviderConfig(
        kind=kind,
        model_id=model_id,
        base_url=base_url,
        api_key=api_key,
        timeout_s=timeout_s,
        connect_timeout_s=2.0,
        max_retries=max_retries,
        max_concurrency=max_concurrency,
        cost_per_output=cost_per_output,
        options={**FAST_OPTIONS, **options},
    )


def make_request(**kwargs: Any) -> GenerationRequest:
    """A GenerationRequest with test defaults (prompt, seed 1234, 10 s deadline)."""
    kwargs.setdefault("prompt", "a red fox in the snow")
    kwargs.setdefault("seed", 1234)
    kwargs.setdefault("deadline_s", 10.0)
    return GenerationRequest(**kwargs)
