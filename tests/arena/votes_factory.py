"""Votes for leaderboard tests, built the one way: an arena of demo models, voted battles with
outputs (sizes and latencies for style control) and Bradley–Terry outcomes, in bulk (thousands
in a second); and ready battles voted on from several threads at once.

Used by the refresh-at-scale, maintained-cells, honest-leaderboard, Elo-checkpoint and
serving-overhead tests."""

from __future__ import annotations

import functools
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from arena.battles.models import (
    Arena,
    Battle,
    BattleStatus,
    Contender,
    Output,
    OutputStatus,
    Prompt,
    Provider,
    ProviderKind,
)
from arena.votes.models import Choice, InvalidReason, Vote
from arena.votes.services import vote_cast

LATENCIES = (1.0, 2.5, 4.0, 9.0)
# None: the arena's size. Power-of-two ratios only: ln(1.5) and -ln(2/3) differ in the last
# bit, and whether such values pool into one row of the style fit then depends on summation
# order (the per-vote and the cell fits would differ by chance, not by method).
SIZES = ((512, 512), (1024, 1024), (1024, 512), (None, None))
CATEGORIES = ("animals", "space", "")

# (width, height, latency_s) of one side's output
OutputShape = tuple[int | None, int | None, float]
Shape = Callable[[Contender, int, random.Random], OutputShape]


def make_arena(
    *, slug: str = "scale", contenders: int = 6, **fields: Any
) -> tuple[Arena, list[Contender]]:
    """A 512×512 arena (`fields` set the rest) with `contenders` demo models in three orgs."""
    arena = Arena.objects.create(slug=slug, title=slug, width=512, height=512, **fields)
    provider, _ = Provider.objects.get_or_create(name="bench", kind=ProviderKind.DEMO)
    models = []
    for k in range(contenders):
        contender = Contender.objects.create(
            name=f"{slug}-model-{k}", provider=provider, organization=f"org {k % 3}"
        )
        contender.arenas.add(arena)
        models.append(contender)
    return arena, models


def bt_choice(rng: random.Random, gap: float, *, both_bad: float, tie: float) -> str:
    """A Bradley–Terry outcome for strength gap `gap` (left minus right), with a share of
    'both bad' and of ties (cumulative thresholds: both_bad < tie)."""
    u = rng.random()
    if u < both_bad:
        return Choice.BOTH_BAD
    if u < tie:
        return Choice.TIE
    return Choice.LEFT if rng.random() < 1 / (1 + math.exp(-gap)) else Choice.RIGHT


@dataclass
class Voted:
    """One voted battle to create: its pair, prompt, voter, outcome and outputs."""

    left: Contender
    right: Contender
    prompt: Prompt
    voter_id: str
    seed: int
    choice: str
    outputs: Sequence[tuple[str, Contender, OutputShape]]
    probability: float | None = None
    invalid_reason: str = ""


def votes_bulk_create(
    arena: Arena, voted: Iterable[Voted], *, second_of: Callable[[int], int]
) -> list[Vote]:
    """Create the battles, outputs and votes in bulk; the k-th vote is dated a day ago plus
    `second_of(k)` seconds (equal times are allowed: the pk decides)."""
    battles, outputs, votes = [], [], []
    for item in voted:
        battle = Battle(
            arena=arena,
            prompt=item.prompt,
            left=item.left,
            right=item.right,
            status=BattleStatus.VOTED,
            voter_id=item.voter_id,
            seed=item.seed,
            sampling_probability=item.probability,
        )
        battles.append(battle)
        for side, contender, (width, height, latency) in item.outputs:
            outputs.append(
                Output(
                    battle=battle,
                    side=side,
                    contender=contender,
                    status=OutputStatus.READY,
                    width=width,
                    height=height,
                    latency_s=latency,
                )
            )
        votes.append(
            Vote(
                battle=battle,
                choice=item.choice,
                voter_id=item.voter_id,
                is_valid=not item.invalid_reason,
                invalid_reason=item.invalid_reason,
            )
        )
    Battle.objects.bulk_create(battles)
    Output.objects.bulk_create(outputs)
    Vote.objects.bulk_create(votes)
    start = timezone.now() - timedelta(days=1)
    for k, vote in enumerate(votes):  # auto_now_add ignores given times: set the order after
        vote.created_at = start + timedelta(seconds=second_of(k))
    Vote.objects.bulk_update(votes, ["created_at"])
    return votes


def add_votes(
    arena: Arena, models: list[Contender], n: int, *, seed: int, voter_count: int = 40
) -> list[Vote]:
    """n voted battles between random pairs, over three categories, with sizes and latencies
    per model, a missing output now and then and some votes not counted (too fast)."""
    rng = random.Random(seed)
    strength = {m.pk: rng.gauss(0, 1) for m in models}
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(text=f"{arena.slug} {seed} prompt {i}", category=CATEGORIES[i % 3])
            for i in range(max(3, n // 10))
        ]
    )
    voted = []
    for i in range(n):
        left, right = rng.sample(models, 2)
        voter = f"voter-{rng.randrange(voter_count)}"
        prompt = rng.choice(prompts)
        probability = rng.choice((0.05, 0.1, 0.2))
        outputs = []
        for side, contender in (("left", left), ("right", right)):
            if side == "right" and i % 17 == 0:
                continue  # a missing output: its covariates count as zero
            width, height = SIZES[contender.pk % len(SIZES)]
            latency = LATENCIES[(contender.pk + i % 2) % len(LATENCIES)]
            outputs.append((side, contender, (width, height, latency)))
        choice = bt_choice(rng, strength[left.pk] - strength[right.pk], both_bad=0.05, tie=0.2)
        voted.append(
            Voted(
                left,
                right,
                prompt,
                voter,
                seed=i,
                choice=choice,
                outputs=outputs,
                probability=probability,
                invalid_reason=InvalidReason.TOO_FAST if i % 23 == 0 else "",
            )
        )
    return votes_bulk_create(arena, voted, second_of=lambda k: k // 3)


def varied_outputs(contender: Contender, i: int, rng: random.Random) -> OutputShape:
    """Sizes and latencies that vary within each model (style control is identified)."""
    return rng.choice((512, 768)), 512, rng.uniform(0.5, 8.0)


def add_pair_votes(
    arena: Arena,
    pairs: list[tuple[Contender, Contender]],
    *,
    seed: int,
    strength: dict[int, float] | None = None,
    probability: Callable[[int], float | None] = lambda i: 0.1,
    outputs: Shape = varied_outputs,
    start_index: int = 0,
) -> list[Vote]:
    """One counted vote per pair given (sides swapped at random), outcomes from a
    Bradley–Terry model of `strength` with ties and some 'both bad'."""
    rng = random.Random(seed)
    strength = strength or {}
    prompt = Prompt.objects.create(text=f"{arena.slug} {seed}")
    voted = []
    for n, (left, right) in enumerate(pairs):
        i = start_index + n
        if rng.random() < 0.5:
            left, right = right, left
        shapes = [(side, c, outputs(c, i, rng)) for side, c in (("left", left), ("right", right))]
        gap = strength.get(left.pk, 0.0) - strength.get(right.pk, 0.0)
        choice = bt_choice(rng, gap, both_bad=0.04, tie=0.15)
        voted.append(
            Voted(
                left,
                right,
                prompt,
                f"voter-{i % 50}",
                seed=i,
                choice=choice,
                outputs=shapes,
                probability=probability(i),
            )
        )
    return votes_bulk_create(arena, voted, second_of=lambda k: start_index + k)


def ready_battles(
    arena: Arena, models: list[Contender], n: int, *, voters: int, category: str = "animals"
) -> list[Battle]:
    """n ready (unvoted) battles of neighbouring models in turn, by `voters` voters."""
    prompt = Prompt.objects.create(text=f"{arena.slug} prompt", category=category)
    now = timezone.now()
    return Battle.objects.bulk_create(
        [
            Battle(
                arena=arena,
                prompt=prompt,
                left=models[i % len(models)],
                right=models[(i + 1) % len(models)],
                status=BattleStatus.READY,
                voter_id=f"v{i % voters}",
                seed=i,
                ready_at=now,
            )
            for i in range(n)
        ]
    )


def cast_concurrently(
    battles: list[Battle], *, threads: int, alongside: Sequence[Callable[[], object]] = ()
) -> list[BaseException]:
    """Vote on `battles` through vote_cast from `threads` threads (left, right, tie and both
    bad in turn), with `alongside` running at the same time; the errors any of them raised."""
    errors: list[BaseException] = []

    def guarded(work: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - returned to the test
                errors.append(exc)
            finally:
                connection.close()

        return run

    def cast(mine: list[Battle]) -> None:
        for k, battle in enumerate(mine):
            vote_cast(
                battle_id=battle.pk,
                voter_id=battle.voter_id,
                choice=("left", "right", "tie", "both_bad")[k % 4],
            )

    workers = [
        threading.Thread(target=guarded(functools.partial(cast, battles[k::threads])))
        for k in range(threads)
    ]
    workers += [threading.Thread(target=guarded(work)) for work in alongside]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def recount(arena: Arena) -> Counter[tuple[str, str, str, str]]:
    """(category, left, right, choice) counts of the counted votes, one Python row each."""
    return Counter(
        Vote.objects.filter(battle__arena=arena, is_valid=True).values_list(
            "battle__prompt__category", "battle__left__name", "battle__right__name", "choice"
        )
    )
