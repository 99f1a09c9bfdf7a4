"""Writes of the battle lifecycle: create, fail (with a reason a voter can read), sweep what
went stale. Generating one side lives in `generation.py`.

Services own their transactions and schedule tasks and pushes only after commit.
"""

from __future__ import annotations

import logging
import random
import secrets
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from arena.battles import events, instant, signals
from arena.battles.errors import PUBLIC_FAILURE, FailureCode, InvalidInput, Unavailable
from arena.battles.models import (
    Arena,
    Battle,
    BattleMode,
    BattleStatus,
    Contender,
    Modality,
    Output,
    OutputStatus,
    Prompt,
    Side,
)
from arena.battles.moderation import prompt_moderate
from arena.battles.params import battle_params_resolve
from arena.battles.ratelimit import creation_budget_spend
from arena.battles.sampling import arena_pair_probabilities, pair_draw
from arena.battles.selectors import (
    SIDE_LABELS,
    arena_get,
    battle_get,
    battle_state,
    contenders_playing,
    outputs_attach,
)
from arena.battles.uploads import (
    battle_source_image,
    editing_contenders,
    source_image_hold,
    uploads_delete_unused,
)

logger = logging.getLogger(__name__)


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


def prompt_random(*, arena: Arena, rng: random.Random, voter_id: str = "") -> Prompt:
    """A bank prompt this voter has not used in this arena yet (a repeated prompt would not
    count). An empty bank is filled from the shipped one first."""
    from arena.battles.bank import prompt_bank_load

    bank = Prompt.objects.filter(source=Prompt.Source.BANK, modality=arena.modality)
    if not bank.exists():
        prompt_bank_load(modality=arena.modality)
    fresh = bank
    if voter_id:
        used = Battle.objects.filter(voter_id=voter_id, arena=arena).values("prompt__text_hash")
        fresh = bank.exclude(text_hash__in=used)
    count = fresh.count()
    if count == 0:
        if bank.exists():
            raise InvalidInput(
                "You have used every prompt of this arena's bank: please type your own."
            )
        raise InvalidInput("This arena has no prompt bank yet: please type a prompt.")
    return fresh.order_by("pk")[rng.randrange(count)]


def battle_create(
    *,
    arena_slug: str,
    voter_id: str,
    voter_address: str = "",
    prompt_text: object = None,
    random_prompt: bool = False,
    rng: random.Random | None = None,
    prompt_publishable: bool | None = None,
    params: object = None,
    pair: tuple[Contender, Contender] | None = None,
    source_image: object = None,
) -> Battle:
    """Draw two distinct contenders, store the battle and queue one generation per side.

    prompt_publishable: what the voter was told (see sharing.prompt_publishable); None follows
    ARENA_EXPORT_PROMPTS. params: the voter's choice among the arena's offered parameters
    (see params.py); what it leaves out takes the arena's default. pair: the two models of a
    named side-by-side battle (see side_by_side.py), in place of the sampler's draw.
    An anonymous random-prompt battle at the default parameters may instead take a battle
    drawn and made in advance, ready at once (instant battles, see instant.py)."""
    rng = rng or random.Random(secrets.randbits(64))
    arena = arena_get(slug=arena_slug)
    creation_budget_spend(
        scope="battle", voter_id=voter_id, voter_address=voter_address, what="new battles"
    )
    chosen = battle_params_resolve(offered=arena.params or {}, requested=params)
    source = battle_source_image(arena=arena, voter_id=voter_id, upload_id=source_image)
    if random_prompt:
        prompt = prompt_random(arena=arena, rng=rng, voter_id=voter_id)
    else:
        text = prompt_clean(prompt_text)
        prompt_moderate(text)
        prompt = Prompt(text=text, source=Prompt.Source.USER, modality=arena.modality)
    # Instant battles (instant.py): the oldest battle drawn by the sampler and made in advance
    # stands in for this one's draw, bank prompt and generations; none ready: drawn now, live.
    instant_wanted = instant.instant_eligible(
        arena=arena,
        random_prompt=random_prompt,
        side_by_side=pair is not None,
        editing=source is not None,
        params=chosen,
    )
    probability: float | None
    with transaction.atomic():
        source = source_image_hold(source)  # the sweep cannot delete it under this battle
        claimed = (
            instant.stock_claim(arena=arena, voter_id=voter_id, params=chosen)
            if instant_wanted
            else None
        )
        if claimed is not None:
            # the stored draw's probability: the sampler's when the pair was drawn (for IPW)
            contenders = [claimed.left.contender, claimed.right.contender]
            left_i, right_i, probability = 0, 1, claimed.probability
            prompt, seed = claimed.prompt, int(claimed.left.seed)
        else:
            if pair is not None:
                contenders, left_i, right_i, probability = list(pair), 0, 1, None
            else:
                contenders, left_i, right_i, probability = pair_drawn(
                    arena=arena, rng=rng, editing=source is not None
                )
            seed = rng.randrange(2**31)
        if prompt.pk is None:
            prompt.save()
        battle = Battle.objects.create(
            arena=arena,
            prompt=prompt,
            left=contenders[left_i],
            right=contenders[right_i],
            voter_id=voter_id,
            voter_address=voter_address,
            seed=seed,
            sampling_probability=probability,
            mode=BattleMode.SIDE_BY_SIDE if pair is not None else BattleMode.ANONYMOUS,
            params=chosen,
            source_image=source,
            # What the voter was told now decides, not the setting at export time.
            prompt_publishable=(
                settings.ARENA_EXPORT_PROMPTS if prompt_publishable is None else prompt_publishable
            ),
            **(
                {"status": BattleStatus.READY, "ready_at": timezone.now()}
                if claimed is not None
                else {}
            ),
        )
        if claimed is not None:
            instant.stock_consume(battle=battle, claimed=claimed)
            return battle_get(battle_id=battle.pk)
        outputs = [
            Output(battle=battle, side=side, contender=battle.contender_on(side)) for side in Side
        ]
        if connection.features.can_return_rows_from_bulk_insert:
            Output.objects.bulk_create(outputs)  # one INSERT (no receivers on Output's saves)
        else:  # the INSERT would give no ids back (SQLite before 3.35): the sides need theirs
            for output in outputs:
                output.save(force_insert=True)
        for output in outputs:
            contender = battle.contender_on(output.side)
            transaction.on_commit(partial(_enqueue_or_fail, output, contender.provider.kind))
        if instant_wanted:  # a miss: the stock ran dry, or was never made
            transaction.on_commit(partial(instant.stock_fill_soon, arena_id=arena.pk))
    # The battle as stored (arena, prompt, both models and both outputs in hand): reading it
    # back was a third of the request's time. Its later states reach the voter by WebSocket,
    # which sends the current state as it opens.
    return outputs_attach(battle, outputs)


def pair_drawn(
    *, arena: Arena, rng: random.Random, editing: bool = False
) -> tuple[list[Contender], int, int, float]:
    """The sampler's draw among the arena's playing models, with its probability (for IPW);
    `editing`: only models that can edit an image (see uploads.editing_contenders)."""
    contenders = contenders_playing(arena=arena)
    if editing:
        contenders = editing_contenders(contenders)
    try:
        sampling = arena_pair_probabilities(
            arena_id=arena.pk,
            names=[c.name for c in contenders],
            weights=[c.sampling_weight for c in contenders],
        )
        left_i, right_i, probability = pair_draw(sampling, rng)
    except ValueError:
        raise Unavailable(
            "This arena needs at least two enabled models; please try again later."
        ) from None
    return contenders, left_i, right_i, probability


def _enqueue_or_fail(output: Output, provider_kind: str) -> None:
    """Queue one side; if the queue is unreachable, fail the battle now instead of letting it
    hang until the sweeper."""
    from arena.battles.dispatch import generation_enqueue

    try:
        generation_enqueue(output_id=output.pk, provider_kind=provider_kind)
    except Exception:
        logger.exception("could not queue output %s", output.pk)
        with transaction.atomic():
            battle = (
                Battle.objects.select_for_update().select_related("arena").get(pk=output.battle_id)
            )
            if battle.status in (BattleStatus.PENDING, BattleStatus.GENERATING):
                battle_fail(battle, side=None, code=FailureCode.QUEUE_UNAVAILABLE)
                transaction.on_commit(lambda: battle_state_announce(battle_id=battle.pk))


def battle_fail(battle: Battle, *, side: str | None, code: str) -> None:
    """Fail the battle with a reason a voter can read; the caller holds the battle's lock."""
    reason = PUBLIC_FAILURE.get(code, "the model's provider had an error")
    noun = (
        "a video"
        if battle.arena.modality == Modality.VIDEO
        else ("a text" if battle.arena.modality == Modality.TEXT else "an image")
    )
    who = f"Model {SIDE_LABELS[Side(side)]}" if side else "A model"
    battle.status = BattleStatus.FAILED
    battle.failure_reason = f"{who} could not produce {noun} ({reason}). Nothing was counted."
    battle.finished_at = timezone.now()
    battle.save(update_fields=["status", "failure_reason", "finished_at"])
    # A side that never started will not be generated now: say so instead of leaving it pending.
    battle.outputs.filter(status=OutputStatus.PENDING).update(
        status=OutputStatus.FAILED,
        error_code=FailureCode.CANCELLED,
        finished_at=battle.finished_at,
        error="not generated: the battle had already failed",
    )


def battle_state_announce(*, battle_id: object) -> None:
    events.battle_state_push(battle_id, battle_state(battle_get(battle_id=battle_id)))


def sweep_run(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic sweep: fail stale battles, let the apps above fail their own stale work
    (signals.sweep: the playground's generations), then delete unused old uploads."""
    now = now or timezone.now()
    counts = {"battles_failed": battles_fail_stale(now=now)}
    for _receiver, theirs in signals.sweep.send(sender=None, now=now):
        if isinstance(theirs, dict):
            counts.update(theirs)
    counts["uploads_deleted"] = uploads_delete_unused(now=now)
    return counts


def battles_fail_stale(*, now: datetime | None = None) -> int:
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
            late.update(
                status=OutputStatus.FAILED,
                error_code=FailureCode.TIMEOUT,
                error="no result before the arena's generation timeout",
                finished_at=timezone.now(),
            )
            battle_fail(locked, side=side, code=FailureCode.TIMEOUT)
            transaction.on_commit(partial(battle_state_announce, battle_id=locked.pk))
        failed += 1
    return failed
