"""Generating one side of a battle: resolve the contender, call its generator, clean and
store the output, and move the battle on. Idempotent, so a redelivered task is harmless."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from arena.battles import events
from arena.battles.errors import FailureCode
from arena.battles.health import contender_output_finished, contender_resume
from arena.battles.media import CleanImage, ImageLimits, MediaError, image_normalise
from arena.battles.media_video import (
    VideoLimits,
    VideoTarget,
    video_normalise,
    video_poster,
    video_target,
)
from arena.battles.models import (
    Arena,
    Battle,
    BattleStatus,
    Contender,
    Modality,
    Output,
    OutputStatus,
    ProviderCheck,
)
from arena.battles.params import (
    OutputForm,
    ParamValue,
    arena_params_public,
    battle_params_resolve,
    output_form,
)
from arena.battles.selectors import (
    battle_of_output,
    battle_of_output_assembled,
    battle_of_output_reads,
    battle_state,
)
from arena.battles.services import battle_fail, prompt_clean
from arena.battles.signals import generation_finished
from arena.db import atomic_sent_with_commit, database_connection_release, fields_update
from arena.rows import Statement, run_together, table
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
    options["max_bytes"] = _result_limit(options.get("max_bytes"))
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


def _result_limit(configured: object) -> int:
    """The most a provider's result may be while it is read: the operator's max_bytes, never
    over ARENA_OUTPUT_MAX_BYTES (anything larger is refused afterwards anyway, so a hostile
    provider's 500 MB video URL stops at the arena's limit instead of filling a worker)."""
    limit = int(settings.ARENA_OUTPUT_MAX_BYTES)
    if isinstance(configured, int | float) and not isinstance(configured, bool) and configured > 0:
        return min(int(configured), limit)
    return limit


def _output_of(battle: Battle, output_id: int) -> Output:
    return next(o for o in battle.outputs.all() if o.pk == output_id)


def _claim_output_sql() -> str:
    # Each UPDATE names only its own table: a filter across a relation (a join) is not
    # re-checked by PostgreSQL on the row's new version after waiting for its lock, so a side
    # cancelled (or a battle failed) meanwhile would be claimed (or revived) anyway.
    output, battle = table(Output), table(Battle)
    return (
        f"UPDATE {output} SET status = %s, attempts = attempts + 1, "
        f"started_at = COALESCE(started_at, %s) WHERE id = %s "
        f"AND battle_id IN (SELECT id FROM {battle} WHERE status IN (%s, %s)) "
        f"AND status NOT IN (%s, %s)"
    )


def _battle_generating_sql() -> str:
    # a battle failed meanwhile stays failed (its new version is re-checked after the lock)
    output, battle = table(Output), table(Battle)
    return (
        f"UPDATE {battle} SET status = %s "
        f"WHERE id = (SELECT battle_id FROM {output} WHERE id = %s) AND status = %s"
    )


_CLAIM_OUTPUT = Statement(_claim_output_sql)
_BATTLE_GENERATING = Statement(_battle_generating_sql)


def _claim(output_id: int) -> Output | None:
    """Mark the output as generating, unless it is already finished or its battle is over.

    Returns it with its battle, arena, prompt and both contenders (with providers) loaded.
    One transaction of four prepared statements sent at once (arena.rows.run_together: on
    PostgreSQL one round trip; issue 10: each round trip of a side waited ~1.5 ms for a
    core): the battle's conditional pending -> generating, then the output's conditional
    UPDATE (only unfinished outputs of a running battle: a side cancelled or a battle failed
    meanwhile is re-checked on the row's new version after its lock), then the reads, which
    see both. The battle's row before the output's, the order in which a finish locks them,
    so a claim and the other side's finish cannot deadlock; a battle's pending -> generating
    when the claim finds its side already finished (a redelivered task after a crash) is
    harmless, the sweep treats both states alike.
    """
    started = Output._meta.get_field("started_at").get_db_prep_value(timezone.now(), connection)
    battle_read, outputs_read = battle_of_output_reads(output_id)
    _, claimed, battle_rows, output_rows = run_together(
        (
            _BATTLE_GENERATING,
            [BattleStatus.GENERATING.value, output_id, BattleStatus.PENDING.value],
        ),
        (
            _CLAIM_OUTPUT,
            [
                OutputStatus.GENERATING.value,
                started,
                output_id,
                BattleStatus.PENDING.value,
                BattleStatus.GENERATING.value,
                OutputStatus.READY.value,
                OutputStatus.FAILED.value,
            ],
        ),
        battle_read,
        outputs_read,
    )
    if not claimed:
        return None
    battle = battle_of_output_assembled(battle_rows, output_rows)
    return None if battle is None else _output_of(battle, output_id)


def _deadline_s(battle: Battle) -> float:
    elapsed = (timezone.now() - battle.created_at).total_seconds()
    return max(1.0, battle.arena.generation_timeout_s - elapsed)


def _finish(output_id: int, *, fields: dict[str, object], failed_code: str = "") -> None:
    """Store one side's result; the battle becomes ready with both, or failed with one.

    One transaction: lock the battle, read both outputs, update this one, reset the
    contender's failure streak only if it had one, mark the battle ready or failed; the
    public state before and after is computed from the rows in hand (no reload). A side that
    succeeded sends its writes with the COMMIT (`atomic_sent_with_commit`: one round trip on
    PostgreSQL where the two saves and the commit took three)."""
    with atomic_sent_with_commit() as send_with_commit:
        # the battle's row, then its outputs' (every writer of outputs locks their battle
        # first, so the order battle -> outputs cannot deadlock)
        battle = battle_of_output(output_id, lock=True)
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
        if not failed_code:  # from here only writes whose row counts nobody reads
            send_with_commit()
        fields_update(output, [*fields, "status", "finished_at"])
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
                fields_update(battle, ["status", "ready_at"])
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
    if arena.modality == Modality.IMAGE_EDIT and battle.source_image_id:
        from arena.battles.uploads import edit_output_form

        return edit_output_form(battle)
    return arena_output_form(arena, battle.params or {})


def arena_output_form(arena: Arena, params: Mapping[str, object]) -> OutputForm:
    """The form an arena delivers for `params` (a battle's chosen ones, or the defaults)."""
    video = arena.modality == Modality.VIDEO
    return output_form(
        params=params,
        width=arena.width,
        height=arena.height,
        duration_s=(arena.duration_s or settings.ARENA_VIDEO_DEFAULT_SECONDS) if video else None,
        max_side=settings.ARENA_OUTPUT_MAX_SIDE,
        even=video,
    )


def arena_default_params(arena: Arena) -> dict[str, ParamValue]:
    """What a battle that chooses nothing gets: the first offered value of each parameter."""
    return battle_params_resolve(offered=arena_params_public(arena.params), requested={})


def output_video_target(battle: Battle) -> VideoTarget:
    """The one form (size, fps, duration) every video of this battle is delivered in."""
    return form_video_target(battle_output_form(battle))


def form_video_target(form: OutputForm) -> VideoTarget:
    """A video output form as the encoder's target (the arena's one frame rate)."""
    return video_target(
        width=form.width,
        height=form.height,
        fps=settings.ARENA_VIDEO_FPS,
        duration_s=form.duration_s or settings.ARENA_VIDEO_DEFAULT_SECONDS,
        max_side=settings.ARENA_OUTPUT_MAX_SIDE,
    )


def form_delivered(form: OutputForm, video: VideoTarget | None) -> dict[str, object]:
    """The form an output is asked for and delivered in, as stored in params_used (size and
    aspect; for video also the frame rate and duration)."""
    delivered: dict[str, object] = {
        "width": form.width,
        "height": form.height,
        "aspect_ratio": form.aspect_ratio,
    }
    if video:
        delivered.update(fps=video.fps, duration_s=video.duration_s)
    return delivered


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
    clean = output_normalise(result, modality=arena.modality, form=battle_output_form(battle))
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
        poster = output_poster(clean)
        stored["poster"] = default_storage.save(
            f"outputs/{output.token}.poster.webp", ContentFile(poster.data)
        )
    return stored


def output_normalise(result: GenerationResult, *, modality: str, form: OutputForm) -> CleanImage:
    """A provider's image or video in the one `form` (size; for video also fps and
    duration); `clean.source` says what the provider sent. MediaError if it is unusable."""
    if len(result.data) > settings.ARENA_OUTPUT_MAX_BYTES:
        raise MediaError(f"output of {len(result.data)} bytes exceeds the limit")
    if modality in (Modality.IMAGE, Modality.IMAGE_EDIT):
        return image_normalise(
            result.data,
            width=form.width,
            height=form.height,
            limits=_image_limits(),
            bytes_per_pixel=settings.ARENA_IMAGE_BYTES_PER_PIXEL,
        )
    if not result.content_type.startswith("video/"):
        raise MediaError(f"expected a video, got {result.content_type}")
    return video_normalise(result.data, target=form_video_target(form), limits=_video_limits())


def output_poster(clean: CleanImage) -> CleanImage:
    """The first frame of a normalised clip, in the clip's size (made from our file)."""
    return video_poster(clean.data, width=clean.width, height=clean.height, limits=_video_limits())


class _StoreTarget(NamedTuple):
    """What _store_file reads of an output: its token and its form's owner (`.arena`,
    `.params`, `.source_image_id`: a Battle, or an InstantOutput made for one)."""

    token: str
    battle: Battle


def output_render(
    *,
    owner: Battle,
    token: str,
    contender: Contender,
    prompt: str,
    seed: int,
    deadline_s: float,
    source: SourceInput | None = None,
) -> dict[str, object]:
    """Ask the contender for one output in `owner`'s form, normalise and store it under
    `token`; the fields to store on the output. Raises GeneratorError or MediaError.

    `owner` is the battle, or an instant output made for one (it has the same `.arena`,
    `.params` and `.source_image_id`), so both are made and normalised by this one path."""
    arena = owner.arena
    form = battle_output_form(owner)
    video = output_video_target(owner) if arena.modality == Modality.VIDEO else None
    # Both sides are asked for the battle's one form; each provider maps it to the nearest
    # thing it supports (result.mapped, stored on the output) and media.py delivers the form.
    request = GenerationRequest(
        prompt=prompt,
        # Modality's values are generators' modality literals (a str to the ORM); an edit
        # is an image request that carries the source image
        modality=Modality.IMAGE if source else arena.modality,  # type: ignore[arg-type]
        seed=seed,
        width=form.width,
        height=form.height,
        aspect_ratio=form.aspect_ratio,
        duration_s=video.duration_s if video else arena.duration_s,
        fps=video.fps if video else None,
        deadline_s=deadline_s,
        source_image=source.data if source else None,
    )
    started = time.perf_counter()
    generator = get_generator(provider_config(contender))
    if source and not generator.supports_edit:
        raise BadConfiguration(f"provider kind {contender.provider.kind} cannot edit images")
    database_connection_release()  # no pooled connection held while the provider works
    result = generator.generate(request)
    stored = _store_file(_StoreTarget(token, owner), result)  # type: ignore[arg-type]
    received = stored.pop("received", None)
    delivered = form_delivered(form, video)
    used: dict[str, object] = {
        **result.used,
        "battle_params": owner.params or {},
        "delivered": delivered,
    }
    if received:
        used["received"] = received
    return {
        **stored,
        "seed": result.used.get("seed", seed),
        "params_used": used,
        "params_mapped": result.mapped,
        "latency_s": result.latency_s or (time.perf_counter() - started),
        "cost": Decimal(str(result.cost)) if result.cost is not None else None,
    }


def output_attempt(render: Callable[[], dict[str, object]]) -> tuple[str, dict[str, object]]:
    """Run one render (`output_render`): ("", the fields to store), or a provider's or the
    normalisation's failure as (its code, the error fields to store)."""
    try:
        return "", render()
    except GeneratorError as exc:
        return exc.code, {"error_code": exc.code, "error": exc.message[:5000]}
    except MediaError as exc:
        return FailureCode.BAD_OUTPUT, {
            "error_code": FailureCode.BAD_OUTPUT,
            "error": str(exc)[:5000],
        }


def output_generate(*, output_id: int) -> None:
    """Generate one side. Idempotent: a finished output or an ended battle is left alone."""
    output = _claim(output_id)
    if output is None:
        return
    battle = output.battle
    contender = battle.contender_on(output.side)
    source = source_image_input(battle)
    failed_code, fields = output_attempt(
        lambda: output_render(
            owner=battle,
            token=output.token,
            contender=contender,
            prompt=battle.prompt.text,
            seed=battle.seed,
            deadline_s=_deadline_s(battle),
            source=source,
        )
    )
    if failed_code:
        logger.warning("output %s (%s) failed: %s", output_id, contender.name, fields["error"])
        _finish(output_id, failed_code=failed_code, fields=fields)
        return
    _finish(output_id, fields={**fields, "input_sha256": source.sha256 if source else ""})


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


class ContenderTrial(NamedTuple):
    """An operator's test generate: the stored check, and the output as voters would get it
    (`data`: the normalised image or MP4, b"" on failure; `poster`: a video's first frame)."""

    check: ProviderCheck
    data: bytes = b""
    content_type: str = ""
    poster: bytes = b""


def _trial_form(
    arena: Arena | None, modality: str, width: int | None, height: int | None
) -> OutputForm:
    """What a test generate asks for: the arena's default form (its first offered aspect
    ratio, resolution and duration, else its width, height and duration), or the size the
    operator typed with the rest of that default."""
    params: dict[str, object] = dict(arena_default_params(arena)) if arena else {}
    if arena is not None and not (width and height):
        return arena_output_form(arena, params)
    video = modality == Modality.VIDEO
    duration = (arena.duration_s if arena else None) or settings.ARENA_VIDEO_DEFAULT_SECONDS
    return output_form(  # the operator's size wins over the arena's aspect and resolution
        params={k: v for k, v in params.items() if k == "duration_s"},
        width=width or 512,
        height=height or 512,
        duration_s=duration if video else None,
        max_side=settings.ARENA_OUTPUT_MAX_SIDE,
        even=video,
    )


def contender_test_generate(
    *,
    contender: Contender,
    prompt: str,
    width: int | None = None,
    height: int | None = None,
    seed: int = 0,
    deadline_s: float = 120.0,
) -> ContenderTrial:
    """Run one generation for an operator, in the form one of the contender's arenas would
    ask for, normalise it as a battle would, and record what was requested, sent (and mapped
    by the provider), received and delivered, so a changed size is never silent."""
    modalities = set(contender.arenas.values_list("modality", flat=True))
    editing = modalities == {Modality.IMAGE_EDIT}  # only edits: try one on a sample picture
    modality: str = (
        Modality.IMAGE_EDIT
        if editing
        else next(
            (m for m in (Modality.IMAGE, Modality.VIDEO, Modality.TEXT) if m in modalities),
            Modality.IMAGE,
        )
    )
    arena = contender.arenas.filter(modality=modality).order_by("pk").first()
    form = _trial_form(arena, modality, width, height)
    video = form_video_target(form) if modality == Modality.VIDEO else None
    source = None
    if editing:
        from arena.battles.uploads import sample_source_image

        source = sample_source_image(form.width, form.height)
    request = GenerationRequest(
        prompt=prompt_clean(prompt),
        # Modality's values are generators' modality literals (a str to the ORM); an edit
        # is an image request that carries the source image
        modality=Modality.IMAGE if editing else modality,  # type: ignore[arg-type]
        seed=seed,
        width=form.width,
        height=form.height,
        aspect_ratio=form.aspect_ratio,
        duration_s=video.duration_s if video else None,
        fps=video.fps if video else None,
        deadline_s=deadline_s,
        source_image=source,
    )
    requested = form_delivered(form, video)
    context = {
        "arena": arena.slug if arena else None,
        "modality": str(modality),  # the plain value, as the JSON column stores it
        "requested": requested,
    }
    started = time.perf_counter()
    try:
        result = get_generator(provider_config(contender)).generate(request)
        clean = (
            None
            if modality == Modality.TEXT
            else output_normalise(result, modality=modality, form=form)
        )
        poster = output_poster(clean) if clean and video else None
    except (GeneratorError, MediaError) as exc:
        code, message = (
            (exc.code, exc.message)
            if isinstance(exc, GeneratorError)
            else (FailureCode.BAD_OUTPUT, str(exc))
        )
        check = ProviderCheck.objects.create(
            contender=contender,
            ok=False,
            prompt=request.prompt,
            error_code=code,
            error=message[:5000],
            latency_s=time.perf_counter() - started,
            params_used=context,
        )
        return ContenderTrial(check)
    contender_resume(contender=contender)  # a working provider again: back in the sampler
    used: dict[str, object] = {**result.used, **context, "mapped": result.mapped}
    if clean is not None:
        used["received"] = clean.source
        used["delivered"] = {**requested, "width": clean.width, "height": clean.height}
    check = ProviderCheck.objects.create(
        contender=contender,
        ok=True,
        prompt=request.prompt,
        latency_s=result.latency_s or (time.perf_counter() - started),
        cost=Decimal(str(result.cost)) if result.cost is not None else None,
        params_used=used,
    )
    if clean is None:
        return ContenderTrial(check)
    return ContenderTrial(
        check, clean.data, clean.content_type, poster.data if poster is not None else b""
    )
