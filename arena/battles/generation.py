"""Generating one side of a battle: resolve the contender, call its generator, clean and
store the output, and move the battle on. Idempotent, so a redelivered task is harmless."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Prefetch, Value, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.utils import timezone

from arena.battles import events
from arena.battles.errors import FailureCode
from arena.battles.health import contender_output_finished, contender_resume
from arena.battles.media import ImageLimits, MediaError, image_normalise, target_size
from arena.battles.media_video import (
    VideoLimits,
    VideoTarget,
    video_normalise,
    video_poster,
    video_target,
)
from arena.battles.models import (
    Battle,
    BattleStatus,
    Contender,
    Modality,
    Output,
    OutputStatus,
    ProviderCheck,
)
from arena.battles.params import OutputForm, output_form
from arena.battles.selectors import battle_state
from arena.battles.services import battle_fail, prompt_clean
from arena.battles.signals import generation_finished
from generators.base import (
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    GeneratorError,
    ProviderConfig,
    get_generator,
)

logger = logging.getLogger(__name__)


class SourceInput(NamedTuple):
    data: bytes
    sha256: str


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


def _battle_locked(output_id: int) -> Battle | None:
    """Lock the battle of this output (its row only), then read and lock both its outputs.

    The battle comes with its arena and prompt, the outputs with their contenders and
    providers (what generating and the public state read), in two statements of at most
    three tables each: one statement joining all eight rows cost PostgreSQL ~9 ms of
    planning per call (issue 10's load profile), more than the rest of a side's SQL.
    The outputs are read after the lock is held, so they are the versions committed by
    whoever held it before (under READ COMMITTED a row joined into the locking statement
    could be older). Every writer of outputs locks their battle first, so the order
    battle -> outputs cannot deadlock. The outputs land in the battle's prefetch cache
    (`battle.outputs.all()` reads them without a query)."""
    battle = (
        Battle.objects.select_for_update(of=("self",))
        .select_related("arena", "prompt")
        .filter(outputs__pk=output_id)
        .first()
    )
    if battle is None:
        return None
    outputs = Output.objects.select_for_update(of=("self",)).select_related("contender__provider")
    prefetch_related_objects([battle], Prefetch("outputs", queryset=outputs.order_by("pk")))
    _contenders_from_outputs(battle)
    return battle


def _contenders_from_outputs(battle: Battle) -> None:
    """The battle's two contenders, taken from its prefetched outputs (no query)."""
    for output in battle.outputs.all():
        if output.contender_id == battle.left_id:
            battle.left = output.contender  # type: ignore[assignment]
        elif output.contender_id == battle.right_id:
            battle.right = output.contender  # type: ignore[assignment]


def _output_of(battle: Battle, output_id: int) -> Output:
    output = next(o for o in battle.outputs.all() if o.pk == output_id)
    output.battle = battle  # the same loaded battle, not a query
    return output


def _claim(output_id: int) -> Output | None:
    """Mark the output as generating, unless it is already finished or its battle is over.

    Returns it with its battle, arena, prompt and both contenders (with providers) loaded.
    Without the battle's lock (issue 10: the second side of a battle waited for the first
    side's whole claim, ~17 ms of the queue hop at concurrency 1): one conditional UPDATE of
    the output, whose row lock orders it against a finish that cancels it (that UPDATE only
    touches pending outputs, this one only unfinished outputs of a running battle, so either
    order leaves a consistent pair), then the battle's own conditional pending -> generating.
    """
    battle_id = Output.objects.filter(pk=output_id).values_list("battle_id", flat=True).first()
    if battle_id is None:
        return None
    with transaction.atomic():
        claimed = (
            Output.objects.filter(
                pk=output_id,
                battle__status__in=(BattleStatus.PENDING, BattleStatus.GENERATING),
            )
            .exclude(status__in=(OutputStatus.READY, OutputStatus.FAILED))
            .update(
                status=OutputStatus.GENERATING,
                attempts=F("attempts") + 1,
                started_at=Coalesce(F("started_at"), Value(timezone.now())),
            )
        )
        if not claimed:
            return None
        Battle.objects.filter(pk=battle_id, status=BattleStatus.PENDING).update(
            status=BattleStatus.GENERATING
        )
    battle = Battle.objects.select_related("arena", "prompt").get(pk=battle_id)
    outputs = Output.objects.select_related("contender__provider").order_by("pk")
    prefetch_related_objects([battle], Prefetch("outputs", queryset=outputs))
    _contenders_from_outputs(battle)
    return _output_of(battle, output_id)


def _deadline_s(battle: Battle) -> float:
    elapsed = (timezone.now() - battle.created_at).total_seconds()
    return max(1.0, battle.arena.generation_timeout_s - elapsed)


def _finish(output_id: int, *, fields: dict[str, object], failed_code: str = "") -> None:
    """Store one side's result; the battle becomes ready with both, or failed with one.

    One transaction: lock the battle, read both outputs, update this one, reset the
    contender's failure streak only if it had one, mark the battle ready or failed; the
    public state before and after is computed from the rows in hand (no reload)."""
    with transaction.atomic():
        battle = _battle_locked(output_id)
        if battle is None:
            return
        output = _output_of(battle, output_id)
        if output.status in (OutputStatus.READY, OutputStatus.FAILED):
            return  # a redelivered task already finished this side
        before = _public_state(battle)
        for name, value in fields.items():
            setattr(output, name, value)
        output.status = OutputStatus.FAILED if failed_code else OutputStatus.READY
        output.finished_at = timezone.now()
        output.save(update_fields=[*fields, "status", "finished_at"])
        generation_finished.send(sender=Output, output=output, outcome=failed_code)
        if contender_output_finished(
            contender_id=output.contender_id,
            error_code=failed_code,
            error=output.error,
            # read with the outputs: a success with no streak to reset writes nothing
            failure_streak=output.contender.failure_streak if output.contender else None,
        ):
            logger.warning("contender %s paused after repeated failures", output.contender_id)
        if battle.status in (BattleStatus.PENDING, BattleStatus.GENERATING):
            if failed_code:
                battle_fail(battle, side=output.side, code=failed_code)
                # battle_fail cancelled the pending sides in the database: read them again
                battle._prefetched_objects_cache.pop("outputs", None)  # type: ignore[attr-defined]
                prefetch_related_objects([battle], "outputs")
            elif all(o.status == OutputStatus.READY for o in battle.outputs.all()):
                battle.status = BattleStatus.READY
                battle.ready_at = timezone.now()
                battle.save(update_fields=["status", "ready_at"])
        # Push only what a voter could see change: under the "together" policy one side
        # finishing changes nothing public, and a push at that moment would time that side.
        # The state computed here (this transaction's, i.e. what commits) is what is pushed:
        # no second read after the commit on the way to "ready".
        after = _public_state(battle)
        if after != before:
            transaction.on_commit(lambda: events.battle_state_push(battle.pk, after))


def _public_state(battle: Battle) -> dict[str, object]:
    """What a voter sees of the battle, from the rows in hand (outputs prefetched)."""
    return battle_state(battle)


def battle_output_form(battle: Battle) -> OutputForm:
    """The one size (and, for video, duration) every output of this battle is delivered at:
    from the parameters chosen for the battle, else the arena's fixed ones."""
    arena = battle.arena
    video = arena.modality == Modality.VIDEO
    if arena.modality == Modality.IMAGE_EDIT and battle.source_image_id:
        from arena.battles.uploads import edit_output_form

        return edit_output_form(battle)
    return output_form(
        params=battle.params or {},
        width=arena.width,
        height=arena.height,
        duration_s=(arena.duration_s or settings.ARENA_VIDEO_DEFAULT_SECONDS) if video else None,
        max_side=settings.ARENA_OUTPUT_MAX_SIDE,
        even=video,
    )


def output_video_target(battle: Battle) -> VideoTarget:
    """The one form (size, fps, duration) every video of this battle is delivered in."""
    form = battle_output_form(battle)
    return video_target(
        width=form.width,
        height=form.height,
        fps=settings.ARENA_VIDEO_FPS,
        duration_s=form.duration_s or settings.ARENA_VIDEO_DEFAULT_SECONDS,
        max_side=settings.ARENA_OUTPUT_MAX_SIDE,
    )


def _image_limits() -> ImageLimits:
    return ImageLimits(max_pixels=settings.ARENA_IMAGE_MAX_PIXELS)


def _video_limits() -> VideoLimits:
    return VideoLimits(
        max_seconds=settings.ARENA_VIDEO_MAX_SECONDS,
        max_side=settings.ARENA_VIDEO_MAX_SIDE,
        max_pixels=settings.ARENA_VIDEO_MAX_PIXELS,
        max_frames=settings.ARENA_VIDEO_MAX_FRAMES,
        timeout_s=settings.ARENA_VIDEO_TIMEOUT_S,
    )


def _store_file(output: Output, result: GenerationResult) -> dict[str, object]:
    """Normalise the provider's file to the battle's one form and store it under its token.

    `received` (what the provider sent: format, size, fps, ...) is for operators only."""
    battle = output.battle
    arena = battle.arena
    if arena.modality == Modality.TEXT:
        return {"text": result.text or "", "content_type": "text/plain"}
    if len(result.data) > settings.ARENA_OUTPUT_MAX_BYTES:
        raise MediaError(f"output of {len(result.data)} bytes exceeds the limit")
    if arena.modality in (Modality.IMAGE, Modality.IMAGE_EDIT):
        form = battle_output_form(battle)
        width, height = form.width, form.height
        clean = image_normalise(
            result.data,
            width=width,
            height=height,
            limits=_image_limits(),
            bytes_per_pixel=settings.ARENA_IMAGE_BYTES_PER_PIXEL,
        )
    else:
        if not result.content_type.startswith("video/"):
            raise MediaError(f"expected a video, got {result.content_type}")
        clean = video_normalise(
            result.data, target=output_video_target(battle), limits=_video_limits()
        )
    name = default_storage.save(
        f"outputs/{output.token}.{clean.extension}", ContentFile(clean.data)
    )
    stored: dict[str, object] = {
        "file": name,
        "content_type": clean.content_type,
        "width": clean.width,
        "height": clean.height,
        "received": clean.source,
    }
    if clean.content_type.startswith("video/"):
        poster = video_poster(
            clean.data, width=clean.width, height=clean.height, limits=_video_limits()
        )
        stored["poster"] = default_storage.save(
            f"outputs/{output.token}.poster.webp", ContentFile(poster.data)
        )
    return stored


def output_generate(*, output_id: int) -> None:
    """Generate one side. Idempotent: a finished output or an ended battle is left alone."""
    output = _claim(output_id)
    if output is None:
        return
    battle = output.battle
    arena = battle.arena
    contender = battle.contender_on(output.side)
    form = battle_output_form(battle)
    video = output_video_target(battle) if arena.modality == Modality.VIDEO else None
    source = source_image_input(battle)
    # Both sides are asked for the battle's one form; each provider maps it to the nearest
    # thing it supports (result.mapped, stored on the output) and media.py delivers the form.
    request = GenerationRequest(
        prompt=battle.prompt.text,
        # Modality's values are generators' modality literals (a str to the ORM); an edit
        # is an image request that carries the source image
        modality=Modality.IMAGE if source else arena.modality,  # type: ignore[arg-type]
        seed=battle.seed,
        width=form.width,
        height=form.height,
        aspect_ratio=form.aspect_ratio,
        duration_s=video.duration_s if video else arena.duration_s,
        fps=video.fps if video else None,
        deadline_s=_deadline_s(battle),
        source_image=source.data if source else None,
    )
    started = time.perf_counter()
    try:
        generator = get_generator(provider_config(contender))
        if source and not generator.supports_edit:
            raise BadConfiguration(f"provider kind {contender.provider.kind} cannot edit images")
        result = generator.generate(request)
        stored = _store_file(output, result)
    except GeneratorError as exc:
        logger.warning("output %s (%s) failed: %s", output_id, contender.name, exc.message)
        _finish(
            output_id,
            failed_code=exc.code,
            fields={"error_code": exc.code, "error": exc.message[:5000]},
        )
        return
    except MediaError as exc:
        _finish(
            output_id,
            failed_code=FailureCode.BAD_OUTPUT,
            fields={"error_code": FailureCode.BAD_OUTPUT, "error": str(exc)[:5000]},
        )
        return
    received = stored.pop("received", None)
    delivered = {"width": form.width, "height": form.height, "aspect_ratio": form.aspect_ratio}
    if video:
        delivered.update(fps=video.fps, duration_s=video.duration_s)
    used: dict[str, object] = {
        **result.used,
        "battle_params": battle.params or {},
        "delivered": delivered,
    }
    if received:
        used["received"] = received
    _finish(
        output_id,
        fields={
            **stored,
            "seed": result.used.get("seed", battle.seed),
            "params_used": used,
            "params_mapped": result.mapped,
            "input_sha256": source.sha256 if source else "",
            "latency_s": result.latency_s or (time.perf_counter() - started),
            "cost": Decimal(str(result.cost)) if result.cost is not None else None,
        },
    )


def source_image_input(battle: Battle) -> SourceInput | None:
    """The exact bytes this side's provider is sent (and their hash, stored on the output so
    the vote can check both sides got the same input)."""
    if not battle.source_image_id:
        return None
    from arena.battles.uploads import source_image_bytes

    data = source_image_bytes(battle.source_image)  # type: ignore[arg-type]
    return SourceInput(data, hashlib.sha256(data).hexdigest())


def output_fail_unexpected(*, output_id: int, message: str) -> None:
    """Last resort for a task that crashed: fail honestly rather than hang."""
    _finish(
        output_id,
        failed_code=FailureCode.PROVIDER_ERROR,
        fields={"error_code": FailureCode.CRASH, "error": message[:5000]},
    )


def contender_test_generate(
    *,
    contender: Contender,
    prompt: str,
    width: int = 512,
    height: int = 512,
    seed: int = 0,
    deadline_s: float = 120.0,
) -> tuple[ProviderCheck, bytes]:
    """Run one generation for an operator and record it; returns the cleaned image (or b"")."""
    modalities = set(contender.arenas.values_list("modality", flat=True))
    source = None
    if modalities == {Modality.IMAGE_EDIT}:  # only edits: try one on a sample picture
        from arena.battles.uploads import sample_source_image

        source = sample_source_image(width, height)
    modality = next(
        (m for m in (Modality.IMAGE, Modality.VIDEO, Modality.TEXT) if m in modalities),
        Modality.IMAGE,
    )
    request = GenerationRequest(
        prompt=prompt_clean(prompt),
        # Modality's values are generators' modality literals (a str to the ORM)
        modality=modality,  # type: ignore[arg-type]
        seed=seed,
        width=width,
        height=height,
        deadline_s=deadline_s,
        source_image=source,
    )
    started = time.perf_counter()
    image = b""
    try:
        result = get_generator(provider_config(contender)).generate(request)
        if modality == Modality.IMAGE:
            size = target_size(width, height, max_side=settings.ARENA_OUTPUT_MAX_SIDE)
            image = image_normalise(
                result.data,
                width=size[0],
                height=size[1],
                limits=_image_limits(),
                bytes_per_pixel=settings.ARENA_IMAGE_BYTES_PER_PIXEL,
            ).data
    except GeneratorError as exc:
        check = ProviderCheck.objects.create(
            contender=contender,
            ok=False,
            prompt=request.prompt,
            error_code=exc.code,
            error=exc.message[:5000],
            latency_s=time.perf_counter() - started,
        )
        return check, b""
    except MediaError as exc:
        check = ProviderCheck.objects.create(
            contender=contender,
            ok=False,
            prompt=request.prompt,
            error_code=FailureCode.BAD_OUTPUT,
            error=str(exc)[:5000],
            latency_s=time.perf_counter() - started,
        )
        return check, b""
    contender_resume(contender=contender)  # a working provider again: back in the sampler
    check = ProviderCheck.objects.create(
        contender=contender,
        ok=True,
        prompt=request.prompt,
        latency_s=result.latency_s or (time.perf_counter() - started),
        cost=Decimal(str(result.cost)) if result.cost is not None else None,
        params_used={**result.used, "mapped": result.mapped},
    )
    return check, image
