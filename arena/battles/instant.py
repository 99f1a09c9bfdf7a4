"""Instant battles: whole battles drawn and made in advance on bank prompts, so a
random-prompt battle opens at once instead of waiting for two generations.

Per arena with ``Arena.instant_stock`` > 0, that many **pre-drawn battles** are kept ready or
on the way, within the arena's budget per rolling 24 hours (``instant_daily_outputs`` outputs,
two per battle, and ``instant_daily_cost``, from the providers' cost per output). The fill
draws each pair with the sampler exactly as a live battle does (the pair, its sides, and the
probability of that draw), takes a bank prompt the stock has not used, and makes exactly those
two outputs by the battles' own path (``generation.output_render``: the same request,
normalisation and storage) at the arena's default parameters; a failure counts toward the
model's health like a battle's.

A random-prompt battle at the default parameters takes the oldest ready pre-drawn battle
(both outputs made, both models still playing unchanged, a prompt its voter has not used
here) instead of drawing a pair, and stores the probability of that stored draw: the
sampler's at fill time, the probability under which its pair was drawn, which is what the
inverse-propensity weights need. None qualifies: the battle draws now and is generated live
as always. Whether a battle is instant depends on the stock level only, never on its pair.

Single use, per prompt: a pre-drawn battle's two outputs go to exactly one battle, which takes
their files, and its prompt to no other pre-drawn battle in stock. Were the same bytes shown
to several voters, anyone could note (prompt, bytes) → model from battles revealed after their
vote; were a prompt's outputs shared out among battles, a battle seen revealed on it would
rule those models out of the next (tests/arena/test_instant_attacks.py).

A pre-drawn battle with a model that stopped playing or changed since (provider, model id,
options, parameters, form: the fingerprint), older than ARENA_INSTANT_MAX_AGE_S, stuck, or
with one output failed is never served, and the periodic maintenance deletes both files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from arena.battles.errors import FailureCode, Unavailable
from arena.battles.health import contender_output_finished
from arena.battles.models import (
    Arena,
    Battle,
    Contender,
    InstantOutput,
    Modality,
    Output,
    OutputStatus,
    Prompt,
    Side,
)
from arena.battles.params import ParamValue, battle_params_resolve
from arena.battles.selectors import contenders_playing
from arena.battles.signals import instant_battle_served

logger = logging.getLogger(__name__)

IN_STOCK = (OutputStatus.PENDING, OutputStatus.GENERATING, OutputStatus.READY)
# The result fields an instant output hands to the battle's Output.
_HANDED = (
    "file",
    "poster",
    "content_type",
    "text",
    "width",
    "height",
    "seed",
    "params_used",
    "params_mapped",
    "latency_s",
    "cost",
    "attempts",
    "started_at",
    "finished_at",
)


def default_params(arena: Arena) -> dict[str, ParamValue]:
    """What a battle that chooses nothing gets (the only parameters made in advance)."""
    return battle_params_resolve(offered=arena.params or {}, requested=None)


def stock_fingerprint(*, arena: Arena, contender: Contender, params: object) -> str:
    """Everything an output depends on besides prompt and seed: a change to any of it makes
    the stock made before unservable."""
    provider = contender.provider
    config = {
        "kind": provider.kind,
        "base_url": provider.base_url,
        "model_id": contender.model_id,
        "options": provider.options,
        "parameters": contender.parameters,
        "modality": arena.modality,
        "size": [arena.width, arena.height, arena.duration_s],
        "params": params,
        "max_side": settings.ARENA_OUTPUT_MAX_SIDE,
        "fps": settings.ARENA_VIDEO_FPS,
    }
    encoded = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def arena_instant_on(arena: Arena) -> bool:
    """Does this arena make random-prompt battles from stock (its API flag `instant`)?"""
    return (
        settings.ARENA_INSTANT_BATTLES
        and arena.instant_stock > 0
        and arena.modality != Modality.IMAGE_EDIT
    )


def instant_eligible(
    *, arena: Arena, random_prompt: bool, side_by_side: bool, editing: bool, params: object
) -> bool:
    """Only anonymous random-prompt battles at the default parameters are made in advance."""
    return (
        arena_instant_on(arena)
        and random_prompt
        and not side_by_side
        and not editing
        and params == default_params(arena)
    )


class Claimed(NamedTuple):
    prompt: Prompt
    left: InstantOutput
    right: InstantOutput
    probability: float | None


class _Taken(Exception):
    """Another battle (or the cleanup) took one of the two outputs first."""


def _current_fingerprints(arena: Arena, params: object) -> dict[int, str]:
    """The fingerprint of every playing model now: stock made otherwise is not served."""
    return {
        c.pk: stock_fingerprint(arena=arena, contender=c, params=params)
        for c in contenders_playing(arena=arena)
    }


def stock_claim(*, arena: Arena, voter_id: str, params: object) -> Claimed | None:
    """Take the oldest ready pre-drawn battle: both outputs ready, both models still playing
    with the fingerprint they were made with, on a bank prompt this voter has not used here;
    None when the stock has none. Call inside the battle's transaction: the two are marked
    taken in it (rows locked, left then right, SKIP LOCKED, so concurrent battles pass each
    other instead of waiting, and never share an entry)."""
    current = _current_fingerprints(arena, params)
    servable = Q(pk__in=[])
    for contender_id, fingerprint in current.items():
        servable |= Q(contender_id=contender_id, fingerprint=fingerprint)
    ready = InstantOutput.objects.filter(
        servable,
        arena=arena,
        status=OutputStatus.READY,
        consumed_at__isnull=True,
        draw__isnull=False,
    )
    if voter_id:
        used = Battle.objects.filter(voter_id=voter_id, arena=arena).values("prompt__text_hash")
        ready = ready.exclude(prompt__text_hash__in=used)
    whole = ready.values("draw").annotate(n=Count("pk")).filter(n=2).values("draw")
    lefts = ready.filter(side=Side.LEFT, draw__in=whole)
    passed: list[uuid.UUID | None] = []
    for _ in range(4):
        first = (
            lefts.exclude(draw__in=passed)
            .order_by("created_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if first is None:
            return None
        second = (
            ready.filter(draw=first.draw, side=Side.RIGHT)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if second is None:
            passed.append(first.draw)
            continue
        try:
            with transaction.atomic():
                # the conditional update is what guarantees single use where rows cannot be
                # locked (SQLite): a second taker (or a withdrawal) leaves fewer than two rows
                taken = InstantOutput.objects.filter(
                    pk__in=[first.pk, second.pk],
                    consumed_at__isnull=True,
                    status=OutputStatus.READY,
                ).update(consumed_at=timezone.now())
                if taken != 2:
                    raise _Taken
        except _Taken:
            passed.append(first.draw)
            continue
        prompt = Prompt.objects.get(pk=first.prompt_id)
        return Claimed(prompt, first, second, first.sampling_probability)
    return None


def stock_consume(*, battle: Battle, claimed: Claimed) -> None:
    """The battle's two outputs from the claimed ones (new tokens; the files move to the
    battle and are served like any other output), and the battle ready at once."""
    for side, entry in ((Side.LEFT, claimed.left), (Side.RIGHT, claimed.right)):
        Output.objects.create(
            battle=battle,
            side=side,
            contender_id=entry.contender_id,
            status=OutputStatus.READY,
            **{name: getattr(entry, name) for name in _HANDED},
        )
    InstantOutput.objects.filter(pk__in=[claimed.left.pk, claimed.right.pk]).update(
        consumed_by=battle, file="", poster=""
    )
    instant_battle_served.send(sender=Battle, battle=battle)
    transaction.on_commit(partial(stock_fill_soon, arena_id=battle.arena_id))


def stock_fill_soon(*, arena_id: int) -> None:
    """Top the arena's stock up, at most once per ARENA_INSTANT_DEBOUNCE_S (a burst of
    battles asks once)."""
    if not settings.ARENA_INSTANT_BATTLES:
        return
    if not cache.add(f"instant-fill:{arena_id}", 1, timeout=settings.ARENA_INSTANT_DEBOUNCE_S):
        return
    from arena.battles.dispatch import task_enqueue
    from arena.battles.tasks import instant_stock_fill_task

    try:
        task_enqueue(instant_stock_fill_task, arena_id)
    except Exception:
        logger.exception("could not queue the instant stock fill of arena %s", arena_id)


# ----------------------------------------------------------------------------------- filling
def _draws_in_stock(arena: Arena, fingerprints: dict[int, str]) -> int:
    """Pre-drawn battles still to serve (made or on the way), both outputs of a playing model
    at its current fingerprint."""
    rows = InstantOutput.objects.filter(
        arena=arena, consumed_at__isnull=True, status__in=IN_STOCK, draw__isnull=False
    ).values_list("draw", "contender_id", "fingerprint")
    good: dict[object, int] = {}
    for draw, contender_id, fingerprint in rows:
        if fingerprints.get(contender_id) == fingerprint:
            good[draw] = good.get(draw, 0) + 1
    return sum(1 for n in good.values() if n == 2)


def instant_stock_fill(
    *, arena_id: int, now: datetime | None = None, rng: random.Random | None = None
) -> int:
    """Queue pre-drawn battles until ``instant_stock`` of them are ready or on the way, within
    the arena's daily budget; returns how many outputs were queued (two per battle).

    Each is drawn by the sampler exactly as a live battle is (services.pair_drawn: the pair,
    its sides, and the probability of that draw, stored for IPW), on a bank prompt the stock
    has not used yet (else one not in stock now), made by those two models only."""
    now = now or timezone.now()
    if not settings.ARENA_INSTANT_BATTLES:
        return 0
    arena = Arena.objects.filter(pk=arena_id, is_active=True).first()
    if arena is None or not arena.instant_stock or arena.modality == Modality.IMAGE_EDIT:
        return 0
    params = default_params(arena)
    fingerprints = _current_fingerprints(arena, params)
    if len(fingerprints) < 2:
        return 0
    bank = Prompt.objects.filter(source=Prompt.Source.BANK, modality=arena.modality)
    if not bank.exists():
        from arena.battles.bank import prompt_bank_load

        prompt_bank_load(modality=arena.modality)
    from arena.battles.services import pair_drawn

    rng = rng or random.Random(secrets.randbits(64))
    queued: list[tuple[int, str]] = []
    with transaction.atomic():
        # one fill at a time; NO KEY UPDATE does not hold up battles inserted meanwhile (their
        # foreign key takes KEY SHARE on the arena row, which a plain FOR UPDATE would block)
        Arena.objects.select_for_update(no_key=True).filter(pk=arena.pk).first()
        wanted = arena.instant_stock - _draws_in_stock(arena, fingerprints)
        if wanted <= 0:
            return 0
        spent = InstantOutput.objects.filter(
            arena=arena, created_at__gte=now - timedelta(days=1)
        ).aggregate(n=Count("pk"), cost=Sum("cost"))
        count, cost = int(spent["n"]), Decimal(spent["cost"] or 0)
        stock = InstantOutput.objects.filter(arena=arena)
        busy = stock.filter(consumed_at__isnull=True, status__in=IN_STOCK).values("prompt_id")
        # a prompt serves one battle: never one in stock, and one never used before first
        fresh = list(bank.exclude(pk__in=stock.values("prompt_id")).values_list("pk", flat=True))
        reused = list(
            bank.filter(pk__in=stock.values("prompt_id"))
            .exclude(pk__in=busy)
            .values_list("pk", flat=True)
        )
        rng.shuffle(fresh)
        rng.shuffle(reused)
        for prompt_id in (fresh + reused)[:wanted]:
            if count + 2 > arena.instant_daily_outputs:
                break
            try:
                contenders, left_i, right_i, probability = pair_drawn(arena=arena, rng=rng)
            except Unavailable:  # fewer than two playing models now
                break
            pair = (contenders[left_i], contenders[right_i])
            prices = [c.provider.cost_per_output for c in pair]
            draw_cost = sum((p for p in prices if p is not None), Decimal(0))
            cap = arena.instant_daily_cost
            if cap is not None and cost + draw_cost > cap:
                break
            seed = rng.randrange(2**31)  # one seed for both sides, like a battle's
            draw = uuid.uuid4()
            for side, contender, price in zip((Side.LEFT, Side.RIGHT), pair, prices, strict=True):
                entry = InstantOutput.objects.create(
                    arena=arena,
                    prompt_id=prompt_id,
                    contender=contender,
                    draw=draw,
                    side=side,
                    sampling_probability=probability,
                    fingerprint=stock_fingerprint(arena=arena, contender=contender, params=params),
                    seed=seed,
                    params=params,
                    cost=price,
                )
                queued.append((entry.pk, contender.provider.kind))
            count += 2
            cost += draw_cost
        for entry_id, kind in queued:
            transaction.on_commit(partial(_enqueue, entry_id, kind))
    return len(queued)


def _enqueue(entry_id: int, provider_kind: str) -> None:
    from arena.battles.dispatch import queue_for, task_enqueue
    from arena.battles.tasks import instant_output_generate_task

    try:
        task_enqueue(instant_output_generate_task, entry_id, queue=queue_for(provider_kind))
    except Exception:
        logger.exception("could not queue instant output %s", entry_id)
        _finish(
            entry_id,
            failed_code=FailureCode.QUEUE_UNAVAILABLE,
            fields={"error_code": FailureCode.QUEUE_UNAVAILABLE, "error": "queue unreachable"},
        )


# ---------------------------------------------------------------------------------- making one
def instant_output_generate(*, entry_id: int) -> None:
    """Make one output in advance. Idempotent: a finished or withdrawn one is left alone."""
    with transaction.atomic():
        entry = InstantOutput.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None or entry.status not in (OutputStatus.PENDING, OutputStatus.GENERATING):
            return
        entry.status = OutputStatus.GENERATING
        entry.attempts += 1
        entry.started_at = entry.started_at or timezone.now()
        entry.save(update_fields=["status", "attempts", "started_at"])
    from arena.battles.generation import output_attempt, output_render

    entry = InstantOutput.objects.select_related("arena", "prompt", "contender__provider").get(
        pk=entry_id
    )
    failed_code, fields = output_attempt(
        lambda: output_render(
            # an instant output has the form a battle has (.arena, .params; never an edit)
            owner=entry,  # type: ignore[arg-type]
            token=entry.token,
            contender=entry.contender,
            prompt=entry.prompt.text,
            seed=entry.seed,
            deadline_s=float(entry.arena.generation_timeout_s),
        )
    )
    if failed_code:
        logger.warning("instant output %s failed: %s", entry_id, fields["error"])
        _finish(entry_id, failed_code=failed_code, fields=fields)
        return
    if fields.get("cost") is None:
        fields.pop("cost", None)  # keep the provider's price per output (the budget's)
    _finish(entry_id, fields=fields)


def instant_output_fail_unexpected(*, entry_id: int, message: str) -> None:
    """Last resort for a task that crashed."""
    _finish(
        entry_id,
        failed_code=FailureCode.PROVIDER_ERROR,
        fields={"error_code": FailureCode.CRASH, "error": message[:5000]},
    )


def _finish(entry_id: int, *, fields: dict[str, object], failed_code: str = "") -> None:
    """Store the result; a failure counts toward the model's health like a battle's side."""
    with transaction.atomic():
        entry = InstantOutput.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None or entry.status not in (OutputStatus.PENDING, OutputStatus.GENERATING):
            _files_delete([fields.get("file"), fields.get("poster")])  # withdrawn meanwhile
            return
        for name, value in fields.items():
            setattr(entry, name, value)
        entry.status = OutputStatus.FAILED if failed_code else OutputStatus.READY
        entry.finished_at = timezone.now()
        entry.save()
        if failed_code and entry.draw is not None:
            _partner_withdraw(entry)
        if contender_output_finished(
            contender_id=entry.contender_id, error_code=failed_code, error=entry.error
        ):
            logger.warning("contender %s paused after repeated failures", entry.contender_id)


# -------------------------------------------------------------------------------- maintenance
def _files_delete(names: Sequence[object]) -> None:
    for name in names:
        if name:
            try:
                default_storage.delete(str(name))
            except OSError:
                logger.exception("could not delete %s", name)


def _withdraw(entries: list[InstantOutput], code: str) -> int:
    """Unconsumed stock that must not be served: files deleted, marked failed (the row stays
    for the daily budget until it is a day old)."""
    if not entries:
        return 0
    with transaction.atomic():
        # Read again under the row locks: a battle may have taken one since the caller listed
        # it (its file is the battle's now), or its output may have been made meanwhile.
        # (SKIP LOCKED: a row another transaction holds is being taken by a battle.)
        locked = list(
            InstantOutput.objects.select_for_update(skip_locked=True)
            .filter(pk__in=[e.pk for e in entries], consumed_at__isnull=True)
            .only("pk", "file", "poster")
        )
        InstantOutput.objects.filter(pk__in=[e.pk for e in locked]).update(
            status=OutputStatus.FAILED, error_code=code, file="", poster=""
        )
        names = [name for e in locked for name in (e.file.name, e.poster.name)]
        # once the withdrawal is committed (a battle's transaction may roll back)
        transaction.on_commit(partial(_files_delete, names))
    return len(locked)


def _partner_withdraw(entry: InstantOutput) -> None:
    """The other half of a pre-drawn battle whose output failed: no battle can take it
    alone (the caller holds the failed row's lock)."""
    partners = InstantOutput.objects.filter(
        draw=entry.draw, consumed_at__isnull=True, status__in=IN_STOCK
    ).exclude(pk=entry.pk)
    _withdraw(list(partners), "partner_failed")


def instant_stock_clean(*, now: datetime | None = None) -> int:
    """Withdraw pre-drawn battles (both outputs) that are too old, stuck, half failed, or of a
    model (or arena) that changed or no longer plays; forget rows older than the budget's
    day. Returns how many outputs were withdrawn."""
    now = now or timezone.now()
    unconsumed = InstantOutput.objects.filter(consumed_at__isnull=True, status__in=IN_STOCK)
    withdrawn = 0
    for arena in Arena.objects.filter(pk__in=unconsumed.values("arena_id")):
        current: dict[int, str] = {}
        if arena.is_active and arena.instant_stock and arena.modality != Modality.IMAGE_EDIT:
            current = _current_fingerprints(arena, default_params(arena))
        stuck_before = now - timedelta(
            seconds=arena.generation_timeout_s + settings.ARENA_STALE_GRACE_S
        )
        old_before = now - timedelta(seconds=settings.ARENA_INSTANT_MAX_AGE_S)
        draws: dict[object, list[InstantOutput]] = {}
        for entry in unconsumed.filter(arena=arena).only(
            "pk", "draw", "contender_id", "fingerprint", "status", "created_at", "file", "poster"
        ):
            # an entry of the per-model design (no draw) is never served: withdrawn
            draws.setdefault(entry.draw or entry.pk, []).append(entry)
        halves = set(
            InstantOutput.objects.filter(
                arena=arena, draw__in=[d for d in draws if isinstance(d, uuid.UUID)]
            )
            .exclude(consumed_at__isnull=True, status__in=IN_STOCK)
            .values_list("draw", flat=True)
        )
        changed, broken, stuck, old = [], [], [], []
        for draw, entries in draws.items():
            if not isinstance(draw, uuid.UUID) or any(
                current.get(e.contender_id) != e.fingerprint for e in entries
            ):
                changed += entries
            elif draw in halves or len(entries) != 2:
                broken += entries
            elif any(e.created_at < old_before for e in entries):
                old += entries
            elif any(
                e.status != OutputStatus.READY and e.created_at < stuck_before for e in entries
            ):
                stuck += entries
        withdrawn += _withdraw(changed, "withdrawn")
        withdrawn += _withdraw(broken, "partner_failed")
        withdrawn += _withdraw(old, "expired")
        withdrawn += _withdraw(stuck, FailureCode.TIMEOUT)
    keep_after = now - timedelta(seconds=max(86400.0, settings.ARENA_INSTANT_MAX_AGE_S) + 3600)
    # Consumed rows have no file (their battle has it); failed ones none either.
    InstantOutput.objects.filter(created_at__lt=keep_after).filter(
        Q(consumed_at__isnull=False) | Q(status=OutputStatus.FAILED)
    ).delete()
    return withdrawn


def instant_stock_maintain() -> int:
    """Periodic (beat, the embedded sweeper): clean, then top up every instant arena; returns
    how many outputs were queued."""
    instant_stock_clean()
    queued = 0
    for arena_id in Arena.objects.filter(is_active=True, instant_stock__gt=0).values_list(
        "pk", flat=True
    ):
        queued += instant_stock_fill(arena_id=arena_id)
    return queued


def stock_summary(arena: Arena) -> dict[str, int]:
    """Counts for operators, in pre-drawn battles: ready (both outputs made), on the way,
    and served."""
    ready: dict[object, int] = {}
    for draw, status in InstantOutput.objects.filter(
        arena=arena, consumed_at__isnull=True, status__in=IN_STOCK, draw__isnull=False
    ).values_list("draw", "status"):
        ready[draw] = ready.get(draw, 0) + (status == OutputStatus.READY)
    served = (
        InstantOutput.objects.filter(arena=arena, consumed_at__isnull=False, draw__isnull=False)
        .values("draw")
        .distinct()
        .count()
    )
    done = sum(1 for n in ready.values() if n == 2)
    return {"ready": done, "making": len(ready) - done, "served": served}
