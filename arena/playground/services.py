"""The playground: run one model of an arena on one prompt with any parameters the arena
offers, and read the result. Validated, moderated and rate-limited like a battle; its output
is made and stored by the battles' pipeline (generation._store_file) so it is normalised to
the chosen form and served privately by token. Nothing here reaches a vote or a leaderboard."""

from __future__ import annotations

import logging
import random
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from arena.battles.errors import PUBLIC_FAILURE, FailureCode, InvalidInput, NotFound
from arena.battles.media import MediaError
from arena.battles.models import Arena, Contender, Modality, OutputStatus
from arena.battles.moderation import prompt_moderate
from arena.battles.params import battle_params_resolve
from arena.battles.ratelimit import creation_budget_spend
from arena.battles.selectors import arena_contenders, arena_get, contender_public, uuid_or_none
from arena.battles.services import prompt_clean
from arena.battles.uploads import battle_source_image, editing_contenders, source_image_hold
from arena.db import database_connection_release
from arena.playground.models import Generation
from generators.base import BadConfiguration, GenerationRequest, GeneratorError, get_generator

logger = logging.getLogger(__name__)

RUNNING = (OutputStatus.PENDING, OutputStatus.GENERATING)


def playground_models(*, arena: Arena) -> list[Contender]:
    """The models the playground offers: the arena's enabled ones, and in an image-editing
    arena only those whose provider can edit (as the battles' draw)."""
    contenders = arena_contenders(arena=arena)
    if arena.modality == Modality.IMAGE_EDIT:
        return editing_contenders(contenders)
    return contenders


def playground_model(*, arena: Arena, model: object) -> Contender:
    """The enabled, unpaused model of this arena the request names, else a 400 saying why."""
    if not isinstance(model, int) or isinstance(model, bool):
        raise InvalidInput(
            f'Send "model": an id from /api/arenas/{arena.slug}/models (a whole number).'
        )
    contender = next((c for c in playground_models(arena=arena) if c.pk == model), None)
    if contender is None:
        raise InvalidInput(
            f"No enabled model with id {model} in this arena; see /api/arenas/{arena.slug}/models."
        )
    if contender.paused_at is not None:
        raise InvalidInput(
            f"{contender.name} is paused after repeated provider failures; choose another model."
        )
    return contender


def generation_create(
    *,
    arena_slug: str,
    voter_id: str,
    voter_address: str = "",
    model: object = None,
    prompt_text: object = None,
    params: object = None,
    source_image: object = None,
    rng: random.Random | None = None,
) -> Generation:
    """Validate like a battle (same rate-limit budget, moderation and parameter rules, the
    same source-image rule: an upload of the voter's own, required in an image-editing arena
    and refused elsewhere), store the generation and queue it after commit."""
    rng = rng or random.Random(secrets.randbits(64))
    arena = arena_get(slug=arena_slug)
    # The battles' own budget: the playground is no way around it.
    creation_budget_spend(
        scope="battle",
        voter_id=voter_id,
        voter_address=voter_address,
        what="new battles and generations",
    )
    chosen = battle_params_resolve(offered=arena.params or {}, requested=params)
    source = battle_source_image(arena=arena, voter_id=voter_id, upload_id=source_image)
    text = prompt_clean(prompt_text)
    prompt_moderate(text)
    contender = playground_model(arena=arena, model=model)
    with transaction.atomic():
        source = source_image_hold(source)  # the sweep cannot delete it under this generation
        generation = Generation.objects.create(
            arena=arena,
            contender=contender,
            prompt=text,
            params=chosen,
            source_image=source,
            voter_id=voter_id,
            voter_address=voter_address,
            seed=rng.randrange(2**31),
        )
        transaction.on_commit(lambda: _enqueue_or_fail(generation))
    return generation_get(generation_id=generation.pk)


def _enqueue_or_fail(generation: Generation) -> None:
    from arena.playground.tasks import generation_enqueue

    try:
        generation_enqueue(
            generation_id=generation.pk, provider_kind=generation.contender.provider.kind
        )
    except Exception:
        logger.exception("could not queue generation %s", generation.pk)
        _finish(generation.pk, failed_code=FailureCode.QUEUE_UNAVAILABLE, fields={})


def generation_get(*, generation_id: object) -> Generation:
    pk = uuid_or_none(generation_id)
    found = (
        Generation.objects.select_related("arena", "contender__provider", "source_image")
        .filter(pk=pk)
        .first()
        if pk
        else None
    )
    if found is None:
        raise NotFound("There is no such generation.")
    return found


def generation_get_owned(*, generation_id: object, voter_id: str) -> Generation:
    """The voter's own generation; anyone else's reads exactly like a missing one. One that
    outlived the arena's timeout (a lost worker) is failed here rather than left running."""
    pk = uuid_or_none(generation_id)
    found = (
        Generation.objects.select_related("arena", "contender__provider")
        .filter(pk=pk, voter_id=voter_id)
        .first()
        if pk and voter_id
        else None
    )
    if found is None:
        raise NotFound("There is no such generation.")
    if _stale(found, timezone.now()):
        _finish(found.pk, failed_code=FailureCode.TIMEOUT, fields={"error": "stale"})
        found = generation_get(generation_id=found.pk)
    return found


def _stale(generation: Generation, now: datetime) -> bool:
    limit = generation.arena.generation_timeout_s + settings.ARENA_STALE_GRACE_S
    return generation.status in RUNNING and now - generation.created_at > timedelta(seconds=limit)


def generations_fail_stale(*, now: datetime | None = None) -> int:
    """Fail generations still running past their arena's timeout (a worker died, a queue
    jammed): run by the periodic sweep, so they end even if nobody reads them again."""
    now = now or timezone.now()
    failed = 0
    running = Generation.objects.filter(status__in=RUNNING).select_related("arena")
    for generation in running.iterator():
        if _stale(generation, now) and _finish(
            generation.pk, failed_code=FailureCode.TIMEOUT, fields={"error": "stale"}
        ):
            failed += 1
    return failed


def generations_sweep(*, now: datetime | None = None, **_: object) -> dict[str, int]:
    """The receiver of arena.battles.signals.sweep (connected in PlaygroundConfig.ready)."""
    return {"generations_failed": generations_fail_stale(now=now)}


def generation_state(generation: Generation) -> dict[str, object]:
    """What GET /api/generations/{id} returns: the battles' status words and, once ready, the
    output's private URL."""
    ready = generation.status == OutputStatus.READY
    has_file = ready and bool(generation.file)
    return {
        "id": str(generation.id),
        "arena": generation.arena.slug,
        "modality": generation.arena.modality,
        "model": {"id": generation.contender_id, **contender_public(generation.contender)},
        "prompt": generation.prompt,
        "params": generation.params or {},
        "source_image": (
            reverse("upload-file", kwargs={"upload_id": generation.source_image_id})
            if generation.source_image_id
            else None
        ),
        "status": generation.status,
        "url": reverse("generation-file", kwargs={"token": generation.token}) if has_file else None,
        "content_type": generation.content_type if ready else None,
        "poster": (
            reverse("generation-poster", kwargs={"token": generation.token})
            if has_file and generation.poster
            else None
        ),
        "text": generation.text if ready and generation.text else None,
        "delivered": (generation.params_used or {}).get("delivered") if ready else None,
        "failure": generation.failure_reason or None,
    }


def generation_file_owned(*, token: str, voter_id: str, staff: bool = False) -> Generation:
    from arena.battles.selectors import token_or_empty

    found = None
    if token := token_or_empty(token):
        found = (
            Generation.objects.filter(token=token, status=OutputStatus.READY)
            .exclude(file="")
            .first()
        )
    if found is None or not (staff or (voter_id and found.voter_id == voter_id)):
        raise NotFound("No such output.")
    return found


# ----------------------------------------------------------------------------- running one
@dataclass(frozen=True)
class _StoreTarget:
    """What generation._store_file reads of an output: its token and its battle's arena and
    params (a Generation has both), so a playground file is normalised and named exactly like
    a battle's."""

    token: str
    battle: Generation


def _claim(generation_id: uuid.UUID | str) -> Generation | None:
    with transaction.atomic():
        found = Generation.objects.select_for_update().filter(pk=generation_id).first()
        if found is None or found.status not in RUNNING:
            return None
        found.status = OutputStatus.GENERATING
        found.attempts += 1
        found.started_at = found.started_at or timezone.now()
        found.save(update_fields=["status", "attempts", "started_at"])
    return generation_get(generation_id=generation_id)


def _finish(
    generation_id: uuid.UUID | str, *, fields: dict[str, object], failed_code: str = ""
) -> bool:
    """Store the outcome; False when it had already finished (nothing changed)."""
    with transaction.atomic():
        found = Generation.objects.select_for_update().select_related("arena").get(pk=generation_id)
        if found.status not in RUNNING:
            return False  # a redelivered task (or the sweep) already finished it
        for name, value in fields.items():
            setattr(found, name, value)
        if failed_code:
            found.status = OutputStatus.FAILED
            found.error_code = failed_code
            reason = PUBLIC_FAILURE.get(failed_code, "the model's provider had an error")
            found.failure_reason = f"The model could not produce an output ({reason})."
        else:
            found.status = OutputStatus.READY
        found.finished_at = timezone.now()
        found.save()
    return True


def generation_run(*, generation_id: uuid.UUID | str) -> None:
    """Generate it. Idempotent: a finished generation is left alone."""
    from arena.battles.generation import (
        _store_file,
        battle_output_form,
        form_delivered,
        output_video_target,
        provider_config,
        source_image_input,
    )

    generation = _claim(generation_id)
    if generation is None:
        return
    arena = generation.arena
    # battle_output_form, output_video_target and source_image_input read only .arena,
    # .params and .source_image (a Generation has all three)
    form = battle_output_form(generation)  # type: ignore[arg-type]
    source = source_image_input(generation)  # type: ignore[arg-type]
    video = (
        output_video_target(generation)  # type: ignore[arg-type]
        if arena.modality == Modality.VIDEO
        else None
    )
    elapsed = (timezone.now() - generation.created_at).total_seconds()
    request = GenerationRequest(
        prompt=generation.prompt,
        # an edit is an image request that carries the source image
        modality=Modality.IMAGE if source else arena.modality,  # type: ignore[arg-type]
        seed=generation.seed,
        width=form.width,
        height=form.height,
        aspect_ratio=form.aspect_ratio,
        duration_s=video.duration_s if video else arena.duration_s,
        fps=video.fps if video else None,
        deadline_s=max(1.0, arena.generation_timeout_s - elapsed),
        source_image=source.data if source else None,
    )
    started = time.perf_counter()
    try:
        generator = get_generator(provider_config(generation.contender))
        if source and not generator.supports_edit:
            raise BadConfiguration(
                f"provider kind {generation.contender.provider.kind} cannot edit images"
            )
        database_connection_release()  # no pooled connection held while the provider works
        result = generator.generate(request)
        stored = _store_file(_StoreTarget(generation.token, generation), result)  # type: ignore[arg-type]
    except GeneratorError as exc:
        logger.warning("generation %s failed: %s", generation_id, exc.message)
        _finish(generation_id, failed_code=exc.code, fields={"error": exc.message[:5000]})
        return
    except MediaError as exc:
        _finish(
            generation_id, failed_code=FailureCode.BAD_OUTPUT, fields={"error": str(exc)[:5000]}
        )
        return
    received = stored.pop("received", None)
    delivered = form_delivered(form, video)
    used: dict[str, object] = {**result.used, "params": generation.params, "delivered": delivered}
    if received:
        used["received"] = received
    if source:
        used["input_sha256"] = source.sha256  # what the model was sent (the upload's bytes)
    _finish(
        generation_id,
        fields={
            **stored,
            "params_used": used,
            "params_mapped": result.mapped,
            "latency_s": result.latency_s or (time.perf_counter() - started),
            "cost": Decimal(str(result.cost)) if result.cost is not None else None,
        },
    )


def generation_fail_unexpected(*, generation_id: uuid.UUID | str, message: str) -> None:
    _finish(
        generation_id,
        failed_code=FailureCode.PROVIDER_ERROR,
        fields={"error": message[:5000]},
    )
