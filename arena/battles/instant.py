"""Instant battles: outputs of bank prompts made in advance, so a random-prompt battle opens at
once instead of waiting for two generations.

Per arena with ``Arena.instant_stock`` > 0, every playing model keeps that many outputs made
in advance (pairs need a shared prompt, so a prompt is made by every playing model at once),
within the arena's budget per rolling 24 hours (``instant_daily_outputs`` outputs and
``instant_daily_cost``, from the providers' cost per output). They are made by the battles'
own path (``generation.output_render``: the same request, normalisation and storage) at the
arena's default parameters, and a failure counts toward the model's health like a battle's.

A random-prompt battle at the default parameters still draws its pair with the sampler
first, exactly as a live battle does, so the stored draw probability is the sampler's and
does not depend on what is in stock; only then does it look for a bank prompt that has a
ready output of both drawn models and that this voter has not used here. Found: the battle is
made ready at once with those two outputs; else it is generated live as always.

Single use: an output made in advance goes to exactly one battle, which takes its file. Were
the same bytes shown to several voters, anyone could note (prompt, bytes) → model from battles
revealed after their vote and recognise the models of later battles, which is all vote
stuffing needs (see tests/arena/test_instant_battles.py).

Stock whose model or arena changed since (provider, model id, options, parameters, form: the
fingerprint) is never served, and the periodic maintenance deletes its files, as it does for
a model no longer playing and for stock older than ARENA_INSTANT_MAX_AGE_S.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from arena.battles.errors import FailureCode
from arena.battles.health import contender_output_finished
from arena.battles.media import MediaError
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
from generators.base import GeneratorError

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


class _Taken(Exception):
    """Another battle took one of the two outputs first."""


def stock_claim(
    *, arena: Arena, left: Contender, right: Contender, voter_id: str, params: object
) -> Claimed | None:
    """Take a ready output of both drawn models for one bank prompt this voter has not used
    here, oldest first; None when the stock has none. Call inside the battle's transaction:
    the two are marked taken in it (rows locked, SKIP LOCKED, so concurrent battles pass each
    other instead of waiting, and never share an output)."""
    ready = InstantOutput.objects.filter(
        arena=arena, status=OutputStatus.READY, consumed_at__isnull=True
    )
    # Rows are locked in one order (the lower contender id first) whatever the sides, or two
    # battles of the same pair drawn with swapped sides would each hold one half.
    low, high = sorted((left, right), key=lambda c: c.pk)
    highs = ready.filter(
        contender=high, fingerprint=stock_fingerprint(arena=arena, contender=high, params=params)
    )
    lows = ready.filter(
        contender=low,
        fingerprint=stock_fingerprint(arena=arena, contender=low, params=params),
        prompt_id__in=highs.values("prompt_id"),
    )
    if voter_id:
        used = Battle.objects.filter(voter_id=voter_id, arena=arena).values("prompt__text_hash")
        ready = ready.exclude(prompt__text_hash__in=used)
        lows = lows.exclude(prompt__text_hash__in=used)
    if not _every_model_stocked(arena=arena, ready=ready, params=params):
        return None
    passed: list[int] = []
    for _ in range(4):
        first = (
            lows.exclude(prompt_id__in=passed)
            .order_by("created_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if first is None:
            return None
        second = (
            highs.filter(prompt_id=first.prompt_id)
            .order_by("created_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if second is None:
            passed.append(first.prompt_id)
            continue
        try:
            with transaction.atomic():
                # the conditional update is what guarantees single use where rows cannot be
                # locked (SQLite): a second taker updates fewer than two rows and rolls back
                taken = InstantOutput.objects.filter(
                    pk__in=[first.pk, second.pk], consumed_at__isnull=True
                ).update(consumed_at=timezone.now())
                if taken != 2:
                    raise _Taken
        except _Taken:
            passed.append(first.prompt_id)
            continue
        prompt = Prompt.objects.get(pk=first.prompt_id)
        return Claimed(prompt, first, second) if low == left else Claimed(prompt, second, first)
    return None


def _every_model_stocked(*, arena: Arena, ready: QuerySet[InstantOutput], params: object) -> bool:
    """Does every playing model have a servable output? Else no battle is instant: were only
    the pairs of a model without stock (just added, its stock withdrawn, drawn dry) generated
    live, "live" would name that model to its voter (tests/arena/test_instant_attacks.py)."""
    playing = contenders_playing(arena=arena)
    wanted = Q(pk__in=[])
    for contender in playing:
        fingerprint = stock_fingerprint(arena=arena, contender=contender, params=params)
        wanted |= Q(contender=contender, fingerprint=fingerprint)
    stocked = ready.filter(wanted).values("contender_id").distinct().count()
    return stocked == len(playing)


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
    _alone_withdraw(arena_id=battle.arena_id, prompt_ids=[claimed.prompt.pk])
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
def _stock_counts(arena: Arena, fingerprints: dict[int, str]) -> dict[int, int]:
    """Unconsumed outputs (made or on the way) per playing model, of its current fingerprint."""
    counts = dict.fromkeys(fingerprints, 0)
    rows = (
        InstantOutput.objects.filter(arena=arena, consumed_at__isnull=True, status__in=IN_STOCK)
        .values_list("contender_id", "fingerprint")
        .annotate(n=Count("pk"))
    )
    for contender_id, fingerprint, n in rows:
        if fingerprints.get(contender_id) == fingerprint:
            counts[contender_id] += n
    return counts


def instant_stock_fill(*, arena_id: int, now: datetime | None = None) -> int:
    """Queue outputs until every playing model has ``instant_stock`` of them, a bank prompt
    at a time (made by every playing model), within the arena's daily budget; returns how
    many were queued."""
    now = now or timezone.now()
    if not settings.ARENA_INSTANT_BATTLES:
        return 0
    arena = Arena.objects.filter(pk=arena_id, is_active=True).first()
    if arena is None or not arena.instant_stock or arena.modality == Modality.IMAGE_EDIT:
        return 0
    contenders = contenders_playing(arena=arena)
    if len(contenders) < 2:
        return 0
    params = default_params(arena)
    fingerprints = {
        c.pk: stock_fingerprint(arena=arena, contender=c, params=params) for c in contenders
    }
    bank = Prompt.objects.filter(source=Prompt.Source.BANK, modality=arena.modality)
    if not bank.exists():
        from arena.battles.bank import prompt_bank_load

        prompt_bank_load(modality=arena.modality)
    queued: list[tuple[int, str]] = []
    with transaction.atomic():
        # one fill at a time; NO KEY UPDATE does not hold up battles inserted meanwhile (their
        # foreign key takes KEY SHARE on the arena row, which a plain FOR UPDATE would block)
        Arena.objects.select_for_update(no_key=True).filter(pk=arena.pk).first()
        rounds = arena.instant_stock - min(_stock_counts(arena, fingerprints).values())
        if rounds <= 0:
            return 0
        spent = InstantOutput.objects.filter(
            arena=arena, created_at__gte=now - timedelta(days=1)
        ).aggregate(n=Count("pk"), cost=Sum("cost"))
        count, cost = int(spent["n"]), Decimal(spent["cost"] or 0)
        prices = {c.pk: c.provider.cost_per_output for c in contenders}
        round_cost = sum((p for p in prices.values() if p is not None), Decimal(0))
        busy = InstantOutput.objects.filter(
            arena=arena, consumed_at__isnull=True, status__in=IN_STOCK
        ).values("prompt_id")
        prompt_ids = list(bank.exclude(pk__in=busy).values_list("pk", flat=True))
        rng = random.Random(secrets.randbits(64))
        rng.shuffle(prompt_ids)
        for prompt_id in prompt_ids[:rounds]:
            if count + len(contenders) > arena.instant_daily_outputs:
                break
            cap = arena.instant_daily_cost
            if cap is not None and cost + round_cost > cap:
                break
            seed = rng.randrange(2**31)  # one seed per prompt, like both sides of a battle
            for contender in contenders:
                entry = InstantOutput.objects.create(
                    arena=arena,
                    prompt_id=prompt_id,
                    contender=contender,
                    fingerprint=fingerprints[contender.pk],
                    seed=seed,
                    params=params,
                    cost=prices[contender.pk],
                )
                queued.append((entry.pk, contender.provider.kind))
            count += len(contenders)
            cost += round_cost
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
    from arena.battles.generation import output_render

    entry = InstantOutput.objects.select_related("arena", "prompt", "contender__provider").get(
        pk=entry_id
    )
    try:
        fields = output_render(
            # an instant output has the form a battle has (.arena, .params; never an edit)
            owner=entry,  # type: ignore[arg-type]
            token=entry.token,
            contender=entry.contender,
            prompt=entry.prompt.text,
            seed=entry.seed,
            deadline_s=float(entry.arena.generation_timeout_s),
        )
    except GeneratorError as exc:
        logger.warning("instant output %s failed: %s", entry_id, exc.message)
        _finish(
            entry_id,
            failed_code=exc.code,
            fields={"error_code": exc.code, "error": exc.message[:5000]},
        )
        return
    except MediaError as exc:
        _finish(
            entry_id,
            failed_code=FailureCode.BAD_OUTPUT,
            fields={"error_code": FailureCode.BAD_OUTPUT, "error": str(exc)[:5000]},
        )
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


def _alone_withdraw(*, arena_id: int, prompt_ids: list[int] | None = None) -> int:
    """Withdraw an output left alone on its prompt (the others taken by battles, or withdrawn):
    no pair can take it, yet counted as stock it would stop the fill (with five models one is
    left on every prompt: after about a hundred battles no battle would be instant until they
    expire), and it keeps its prompt from being made again."""
    stock = InstantOutput.objects.filter(
        arena_id=arena_id, consumed_at__isnull=True, status__in=IN_STOCK
    )
    if prompt_ids is not None:
        stock = stock.filter(prompt_id__in=prompt_ids)
    alone = stock.values("prompt_id").annotate(n=Count("pk")).filter(n=1).values_list("prompt_id")
    return _withdraw(list(stock.filter(prompt_id__in=alone)), "alone")


def instant_stock_clean(*, now: datetime | None = None) -> int:
    """Withdraw stock that is too old, stuck, or of a model (or arena) that changed or no
    longer plays; forget rows older than the budget's day. Returns how many were withdrawn."""
    now = now or timezone.now()
    unconsumed = InstantOutput.objects.filter(consumed_at__isnull=True, status__in=IN_STOCK)
    withdrawn = 0
    for arena in Arena.objects.filter(pk__in=unconsumed.values("arena_id")):
        current: dict[int, str] = {}
        if arena.is_active and arena.instant_stock and arena.modality != Modality.IMAGE_EDIT:
            params = default_params(arena)
            current = {
                c.pk: stock_fingerprint(arena=arena, contender=c, params=params)
                for c in contenders_playing(arena=arena)
            }
        stuck_before = now - timedelta(
            seconds=arena.generation_timeout_s + settings.ARENA_STALE_GRACE_S
        )
        old_before = now - timedelta(seconds=settings.ARENA_INSTANT_MAX_AGE_S)
        changed, stuck, old = [], [], []
        for entry in unconsumed.filter(arena=arena).only(
            "pk", "contender_id", "fingerprint", "status", "created_at", "file", "poster"
        ):
            if current.get(entry.contender_id) != entry.fingerprint:
                changed.append(entry)
            elif entry.created_at < old_before:
                old.append(entry)
            elif entry.status != OutputStatus.READY and entry.created_at < stuck_before:
                stuck.append(entry)
        withdrawn += _withdraw(changed, "withdrawn")
        withdrawn += _withdraw(old, "expired")
        withdrawn += _withdraw(stuck, FailureCode.TIMEOUT)
        withdrawn += _alone_withdraw(arena_id=arena.pk)
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
    """Counts for operators: unconsumed stock by status, and what was served."""
    counts = dict(
        InstantOutput.objects.filter(arena=arena, consumed_at__isnull=True)
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return {
        **{str(status): int(counts.get(status, 0)) for status in OutputStatus.values},
        "served": InstantOutput.objects.filter(arena=arena, consumed_at__isnull=False).count(),
    }
