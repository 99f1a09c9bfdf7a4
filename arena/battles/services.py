"""Writes of the battle lifecycle: create, generate each side, fail what went stale.

Services own their transactions and schedule tasks and pushes only after commit.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from arena.battles import events
from arena.battles.errors import InvalidInput, Unavailable
from arena.battles.media import MediaError, image_sanitize, video_sanitize
from arena.battles.models import (
    Arena,
    Battle,
    BattleStatus,
    Contender,
    Modality,
    Output,
    OutputStatus,
    Prompt,
    ProviderCheck,
    Side,
)
from arena.battles.moderation import prompt_moderate
from arena.battles.ratelimit import rate_limit_hit
from arena.battles.sampling import pair_sample
from arena.battles.selectors import SIDE_LABELS, arena_get, battle_get, battle_state
from generators.base import (
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    GeneratorError,
    ProviderConfig,
    get_generator,
)

logger = logging.getLogger(__name__)

CANCELLED = "cancelled"  # an output skipped because its battle failed: not the provider's fault

# What a voter may read about a failed side: never the provider's own words.
PUBLIC_FAILURE = {
    "moderation": "the model's provider refused this prompt",
    "rate_limited": "the model's provider is busy",
    "timeout": "the model took too long",
    "bad_configuration": "the model is misconfigured",
    "bad_output": "the model returned an unusable file",
    "queue_unavailable": "the generation queue is unavailable; please try again shortly",
}


def prompt_clean(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidInput("The prompt must be text.")
    cleaned = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable()).strip()
    if not cleaned:
        raise InvalidInput("Please type a prompt (it is empty).")
    limit = settings.ARENA_MAX_PROMPT_CHARS
    if len(cleaned) > limit:
        raise InvalidInput(
            f"The prompt is {len(cleaned):,} characters long; the limit is {limit:,}."
        )
    return cleaned


def prompt_random(*, arena: Arena, rng: random.Random) -> Prompt:
    bank = Prompt.objects.filter(source=Prompt.Source.BANK, modality=arena.modality)
    count = bank.count()
    if count == 0:
        raise InvalidInput("This arena has no prompt bank yet: please type a prompt.")
    return bank.order_by("pk")[rng.randrange(count)]


def battle_create(
    *,
    arena_slug: str,
    voter_id: str,
    voter_address: str = "",
    prompt_text: object = None,
    random_prompt: bool = False,
    rng: random.Random | None = None,
) -> Battle:
    """Draw two distinct contenders, store the battle and queue one generation per side."""
    rng = rng or random.Random(secrets.randbits(64))
    arena = arena_get(slug=arena_slug)
    window = settings.ARENA_RATE_WINDOW_S
    rate_limit_hit(scope="battle-voter", key=voter_id, limit=settings.ARENA_RATE_BATTLES_PER_VOTER,
                   window_s=window, what="new battles")
    rate_limit_hit(scope="battle-address", key=voter_address,
                   limit=settings.ARENA_RATE_BATTLES_PER_ADDRESS, window_s=window,
                   what="new battles from your network")
    if random_prompt:
        prompt = prompt_random(arena=arena, rng=rng)
    else:
        text = prompt_clean(prompt_text)
        prompt_moderate(text)
        prompt = Prompt(text=text, source=Prompt.Source.USER, modality=arena.modality)
    contenders = list(
        Contender.objects.filter(arenas=arena, enabled=True, provider__enabled=True)
        .select_related("provider")
        .order_by("pk")
    )
    try:
        left_i, right_i, probability = pair_sample([c.sampling_weight for c in contenders], rng)
    except ValueError:
        raise Unavailable(
            "This arena needs at least two enabled models; please try again later."
        ) from None
    with transaction.atomic():
        if prompt.pk is None:
            prompt.save()
        battle = Battle.objects.create(
            arena=arena,
            prompt=prompt,
            left=contenders[left_i],
            right=contenders[right_i],
            voter_id=voter_id,
            voter_address=voter_address,
            seed=rng.randrange(2**31),
            sampling_probability=probability,
        )
        outputs = [Output.objects.create(battle=battle, side=side,
                                         contender=battle.contender_on(side)) for side in Side]
        for output in outputs:
            contender = battle.contender_on(output.side)
            transaction.on_commit(
                lambda o=output, c=contender: _enqueue_or_fail(o, c.provider.kind)
            )
    return battle_get(battle_id=battle.pk)


def _enqueue_or_fail(output: Output, provider_kind: str) -> None:
    """Queue one side; if the queue is unreachable, fail the battle now instead of letting it
    hang until the sweeper."""
    from arena.battles.dispatch import generation_enqueue

    try:
        generation_enqueue(output_id=output.pk, provider_kind=provider_kind)
    except Exception:
        logger.exception("could not queue output %s", output.pk)
        with transaction.atomic():
            battle = Battle.objects.select_for_update().select_related("arena").get(
                pk=output.battle_id)
            if battle.status in (BattleStatus.PENDING, BattleStatus.GENERATING):
                battle_fail(battle, side=None, code="queue_unavailable")
                transaction.on_commit(lambda: battle_state_announce(battle_id=battle.pk))


def provider_config(contender: Contender) -> ProviderConfig:
    """Resolve a contender into the generator's config; the key is read from the environment."""
    provider = contender.provider
    api_key = ""
    if provider.api_key_env:
        api_key = os.environ.get(provider.api_key_env, "")
        if not api_key:
            raise BadConfiguration(
                f"environment variable {provider.api_key_env} (API key of provider "
                f"{provider.name}) is not set"
            )
    options = {**provider.options, **contender.parameters}
    return ProviderConfig(
        kind=provider.kind,
        model_id=contender.model_id,
        base_url=provider.base_url,
        api_key=api_key,
        timeout_s=provider.timeout_s,
        max_concurrency=provider.max_concurrency,
        cost_per_output=float(provider.cost_per_output)
        if provider.cost_per_output is not None
        else None,
        options=options,
    )


def _claim(output_id: int) -> Output | None:
    """Mark the output as generating, unless it is already finished or its battle is over."""
    with transaction.atomic():
        output = Output.objects.select_related("battle").filter(pk=output_id).first()
        if output is None:
            return None
        battle = Battle.objects.select_for_update().get(pk=output.battle_id)
        output = Output.objects.select_for_update().get(pk=output_id)
        if output.status in (OutputStatus.READY, OutputStatus.FAILED):
            return None
        if battle.status not in (BattleStatus.PENDING, BattleStatus.GENERATING):
            return None
        output.status = OutputStatus.GENERATING
        output.attempts += 1
        output.started_at = output.started_at or timezone.now()
        output.save(update_fields=["status", "attempts", "started_at"])
        if battle.status == BattleStatus.PENDING:
            battle.status = BattleStatus.GENERATING
            battle.save(update_fields=["status"])
    return (
        Output.objects.select_related(
            "battle__arena", "battle__prompt", "battle__left__provider",
            "battle__right__provider",
        ).get(pk=output_id)
    )


def _deadline_s(battle: Battle) -> float:
    elapsed = (timezone.now() - battle.created_at).total_seconds()
    return max(1.0, battle.arena.generation_timeout_s - elapsed)


def _finish(output_id: int, *, fields: dict[str, object], failed_code: str = "") -> None:
    """Store one side's result; the battle becomes ready with both, or failed with one."""
    with transaction.atomic():
        battle_id = Output.objects.values_list("battle_id", flat=True).get(pk=output_id)
        battle = Battle.objects.select_for_update().get(pk=battle_id)
        output = Output.objects.select_for_update().get(pk=output_id)
        if output.status in (OutputStatus.READY, OutputStatus.FAILED):
            return  # a redelivered task already finished this side
        for name, value in fields.items():
            setattr(output, name, value)
        output.status = OutputStatus.FAILED if failed_code else OutputStatus.READY
        output.finished_at = timezone.now()
        output.save()
        if battle.status in (BattleStatus.PENDING, BattleStatus.GENERATING):
            if failed_code:
                battle_fail(battle, side=output.side, code=failed_code)
            elif not battle.outputs.exclude(status=OutputStatus.READY).exists():
                battle.status = BattleStatus.READY
                battle.ready_at = timezone.now()
                battle.save(update_fields=["status", "ready_at"])
        transaction.on_commit(lambda: battle_state_announce(battle_id=battle_id))


def battle_fail(battle: Battle, *, side: str | None, code: str) -> None:
    """Fail the battle with a reason a voter can read; the caller holds the battle's lock."""
    reason = PUBLIC_FAILURE.get(code, "the model's provider had an error")
    noun = "a video" if battle.arena.modality == Modality.VIDEO else (
        "a text" if battle.arena.modality == Modality.TEXT else "an image"
    )
    who = f"Model {SIDE_LABELS[Side(side)]}" if side else "A model"
    battle.status = BattleStatus.FAILED
    battle.failure_reason = f"{who} could not produce {noun} ({reason}). Nothing was counted."
    battle.finished_at = timezone.now()
    battle.save(update_fields=["status", "failure_reason", "finished_at"])
    # A side that never started will not be generated now: say so instead of leaving it pending.
    battle.outputs.filter(status=OutputStatus.PENDING).update(
        status=OutputStatus.FAILED, error_code=CANCELLED, finished_at=battle.finished_at,
        error="not generated: the battle had already failed")


def battle_state_announce(*, battle_id: object) -> None:
    events.battle_state_push(battle_id, battle_state(battle_get(battle_id=battle_id)))


def _store_file(output: Output, result: GenerationResult) -> dict[str, object]:
    if output.battle.arena.modality == Modality.TEXT:
        return {"text": result.text or "", "content_type": "text/plain"}
    if len(result.data) > settings.ARENA_OUTPUT_MAX_BYTES:
        raise MediaError(f"output of {len(result.data)} bytes exceeds the limit")
    if output.battle.arena.modality == Modality.IMAGE:
        clean = image_sanitize(result.data, max_side=settings.ARENA_OUTPUT_MAX_SIDE)
        data, content_type, ext = clean.data, clean.content_type, clean.extension
        width, height = clean.width, clean.height
    else:
        if not result.content_type.startswith("video/"):
            raise MediaError(f"expected a video, got {result.content_type}")
        clean = video_sanitize(result.data, max_side=settings.ARENA_OUTPUT_MAX_SIDE)
        data, content_type, ext = clean.data, clean.content_type, clean.extension
        width, height = clean.width or None, clean.height or None
    name = default_storage.save(f"outputs/{output.token}.{ext}", ContentFile(data))
    return {"file": name, "content_type": content_type, "width": width, "height": height}


def output_generate(*, output_id: int) -> None:
    """Generate one side. Idempotent: a finished output or an ended battle is left alone."""
    output = _claim(output_id)
    if output is None:
        return
    battle = output.battle
    arena = battle.arena
    contender = battle.contender_on(output.side)
    request = GenerationRequest(
        prompt=battle.prompt.text,
        modality=arena.modality,  # type: ignore[arg-type]
        seed=battle.seed,
        width=arena.width,
        height=arena.height,
        duration_s=arena.duration_s,
        deadline_s=_deadline_s(battle),
    )
    started = time.perf_counter()
    try:
        result = get_generator(provider_config(contender)).generate(request)
        stored = _store_file(output, result)
    except GeneratorError as exc:
        logger.warning("output %s (%s) failed: %s", output_id, contender.name, exc.message)
        _finish(output_id, failed_code=exc.code,
                fields={"error_code": exc.code, "error": exc.message[:5000]})
        return
    except MediaError as exc:
        _finish(output_id, failed_code="bad_output",
                fields={"error_code": "bad_output", "error": str(exc)[:5000]})
        return
    _finish(
        output_id,
        fields={
            **stored,
            "seed": result.used.get("seed", battle.seed),
            "params_used": result.used,
            "params_mapped": result.mapped,
            "latency_s": result.latency_s or (time.perf_counter() - started),
            "cost": Decimal(str(result.cost)) if result.cost is not None else None,
        },
    )


def output_fail_unexpected(*, output_id: int, message: str) -> None:
    """Last resort for a task that crashed: fail honestly rather than hang."""
    _finish(output_id, failed_code="provider_error",
            fields={"error_code": "crash", "error": message[:5000]})


def battles_fail_stale(*, now: object = None) -> int:
    """Fail battles still generating past their arena's timeout (a worker died, a queue jammed)."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.ARENA_STALE_GRACE_S)
    failed = 0
    candidates = Battle.objects.filter(
        status__in=[BattleStatus.PENDING, BattleStatus.GENERATING]
    ).select_related("arena")
    for battle in candidates.iterator():
        if battle.created_at + timedelta(seconds=battle.arena.generation_timeout_s) + grace > now:
            continue
        with transaction.atomic():
            locked = Battle.objects.select_for_update().select_related("arena").get(pk=battle.pk)
            if locked.status not in (BattleStatus.PENDING, BattleStatus.GENERATING):
                continue
            late = locked.outputs.exclude(status=OutputStatus.READY)
            side = late.values_list("side", flat=True).first()
            late.update(status=OutputStatus.FAILED, error_code="timeout",
                        error="no result before the arena's generation timeout",
                        finished_at=timezone.now())
            battle_fail(locked, side=side, code="timeout")
            transaction.on_commit(lambda b=locked.pk: battle_state_announce(battle_id=b))
        failed += 1
    return failed


def contender_test_generate(
    *, contender: Contender, prompt: str, width: int = 512, height: int = 512, seed: int = 0,
    deadline_s: float = 120.0,
) -> tuple[ProviderCheck, bytes]:
    """Run one generation for an operator and record it; returns the cleaned image (or b"")."""
    modality = contender.arenas.values_list("modality", flat=True).first() or Modality.IMAGE
    request = GenerationRequest(prompt=prompt_clean(prompt), modality=modality,  # type: ignore[arg-type]
                                seed=seed, width=width, height=height, deadline_s=deadline_s)
    started = time.perf_counter()
    image = b""
    try:
        result = get_generator(provider_config(contender)).generate(request)
        if modality == Modality.IMAGE:
            image = image_sanitize(result.data, max_side=settings.ARENA_OUTPUT_MAX_SIDE).data
    except GeneratorError as exc:
        check = ProviderCheck.objects.create(
            contender=contender, ok=False, prompt=request.prompt, error_code=exc.code,
            error=exc.message[:5000], latency_s=time.perf_counter() - started)
        return check, b""
    except MediaError as exc:
        check = ProviderCheck.objects.create(
            contender=contender, ok=False, prompt=request.prompt, error_code="bad_output",
            error=str(exc)[:5000], latency_s=time.perf_counter() - started)
        return check, b""
    check = ProviderCheck.objects.create(
        contender=contender, ok=True, prompt=request.prompt,
        latency_s=result.latency_s or (time.perf_counter() - started),
        cost=Decimal(str(result.cost)) if result.cost is not None else None,
        params_used={**result.used, "mapped": result.mapped})
    return check, image
