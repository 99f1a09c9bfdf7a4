"""How far can K network addresses move a target model's rank on a 20-model board?

An attacker recognises its target model on screen with the accuracy measured by
bench/fingerprint.py, creates battles from K addresses and votes for the target whenever it
believes the target is on one side (skipping every other battle), casting the most counted
votes the defaults allow: ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY (200) per address per
day. An honest crowd casts N votes a day between uniformly drawn pairs under Bradley–Terry.
Ratings are the project's own Bradley–Terry fit (ratings/) on all counted votes; the rank is
1 + the number of models rated above the target. Pure numpy, seeded, a few seconds.

Recognition model: a multi-class accuracy `a` measured among `c`-chance contenders is turned
into a skill κ = (a − c) / (1 − c) (0 at chance, 1 when perfect) and applied to the board's
20 models: a side showing the target is flagged with probability 1/20 + κ·19/20, any other
side with probability (1 − that) / 19. At chance the flags carry no information.

    .venv/bin/python bench/rigging.py [--accuracy 0.30 --chance 0.29] [--honest-per-day 20000]
        [--target-rank 10] [--repeats 5] [--seed 0] [--json]

With --json the last line is {"ranks_moved": {"1": .., "10": .., "100": ..}, ...} for the
default accuracy over one day (mean over repeats), plus the same for a week and for the
accuracies in the sensitivity table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ratings import fit_bradley_terry, pair_counts, simulate_battles  # noqa: E402
from ratings.outcomes import Winner, battles_from_arrays  # noqa: E402

# Figures from the latest `bench/fingerprint.py` run (150 battles, seed 0): an attacker uses
# everything its client sees, so the default is the new code's accuracy on all features
# (served file: 0.257, i.e. chance; time to ready under "together": 0.350). Pass
# --accuracy/--chance to use another run's figures.
FINGERPRINT_ACCURACY = 0.370
FINGERPRINT_CHANCE = 0.260
FINGERPRINT_ACCURACY_SERVED = 0.257  # served bytes and metadata only
FINGERPRINT_ACCURACY_OLD = 1.0  # the code before issue 9: every provider told apart
MODELS = 20
K_VALUES = (1, 10, 100)


def counted_votes_per_address_per_day() -> int:
    """The project's default budget, if the settings module defines it; else 200."""
    try:
        from arena import settings

        return int(getattr(settings, "ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY", 200))
    except Exception:  # settings need an environment this benchmark does not set up
        return 200


def flag_probabilities(accuracy: float, chance: float, models: int) -> tuple[float, float]:
    """(P(flag | target side), P(flag | other side)) on a board of `models` models."""
    skill = min(1.0, max(0.0, (accuracy - chance) / (1.0 - chance)))
    hit = 1.0 / models + skill * (1.0 - 1.0 / models)
    return hit, (1.0 - hit) / (models - 1)


def attacker_votes(
    rng: np.random.Generator,
    *,
    n_votes: int,
    target: int,
    models: int,
    hit: float,
    false_flag: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(winners, losers) of the attacker's first `n_votes` votes: battles drawn as the sampler
    draws them, a vote only where exactly one side (or one of two) is flagged as the target."""
    winners: list[np.ndarray] = []
    losers: list[np.ndarray] = []
    have = 0
    while have < n_votes:
        batch = max(10_000, 4 * (n_votes - have) * models)
        a = rng.integers(0, models, batch)
        b = rng.integers(0, models - 1, batch)
        b = b + (b >= a)
        flag_a = rng.random(batch) < np.where(a == target, hit, false_flag)
        flag_b = rng.random(batch) < np.where(b == target, hit, false_flag)
        pick_a = flag_a & (~flag_b | (rng.random(batch) < 0.5))
        voted = flag_a | flag_b
        win = np.where(pick_a, a, b)[voted]
        lose = np.where(pick_a, b, a)[voted]
        take = min(n_votes - have, win.shape[0])
        winners.append(win[:take])
        losers.append(lose[:take])
        have += take
    return np.concatenate(winners), np.concatenate(losers)


def target_rank(
    model_a: np.ndarray, model_b: np.ndarray, winner: np.ndarray, names: list[str], target: int
) -> int:
    battles = battles_from_arrays(names, model_a, model_b, winner)
    ratings = fit_bradley_terry(pair_counts(battles)).ratings
    return int(1 + np.sum(ratings > ratings[target]))


def ranks_moved(
    *,
    accuracy: float,
    chance: float,
    k: int,
    days: int,
    honest_per_day: int,
    budget: int,
    target_rank_true: int,
    repeats: int,
    seed: int,
) -> float:
    """Mean over repeats of (rank without the attacker − rank with it)."""
    true_ratings = np.linspace(1200.0, 800.0, MODELS)  # ~21 points between neighbours
    target = target_rank_true - 1
    names = [f"model-{i:02d}" for i in range(MODELS)]
    hit, false_flag = flag_probabilities(accuracy, chance, MODELS)
    moved = []
    for r in range(repeats):
        rng = np.random.default_rng([seed, r, k, days])
        honest = simulate_battles(true_ratings, honest_per_day * days, seed=rng, models=names)
        before = target_rank(honest.model_a, honest.model_b, honest.winner, names, target)
        win, lose = attacker_votes(
            rng,
            n_votes=k * budget * days,
            target=target,
            models=MODELS,
            hit=hit,
            false_flag=false_flag,
        )
        a = np.concatenate([honest.model_a, win])
        b = np.concatenate([honest.model_b, lose])
        w = np.concatenate([honest.winner, np.full(win.shape[0], Winner.A, dtype=np.int8)])
        moved.append(before - target_rank(a, b, w, names, target))
    return float(np.mean(moved))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--accuracy",
        type=float,
        default=FINGERPRINT_ACCURACY,
        help="attacker's recognition accuracy (bench/fingerprint.py)",
    )
    parser.add_argument(
        "--chance", type=float, default=FINGERPRINT_CHANCE, help="chance level of that accuracy"
    )
    parser.add_argument("--honest-per-day", type=int, default=20_000)
    parser.add_argument(
        "--budget",
        type=int,
        default=None,
        help="counted votes per address per day (default: the settings)",
    )
    parser.add_argument("--target-rank", type=int, default=10, help="target's true rank")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    budget = args.budget or counted_votes_per_address_per_day()
    started = time.perf_counter()
    common = {
        "honest_per_day": args.honest_per_day,
        "budget": budget,
        "target_rank_true": args.target_rank,
        "repeats": args.repeats,
        "seed": args.seed,
    }

    def row(accuracy: float, chance: float, days: int) -> dict[str, float]:
        return {
            str(k): ranks_moved(accuracy=accuracy, chance=chance, k=k, days=days, **common)
            for k in K_VALUES
        }

    print(
        f"{MODELS} models, target truly ranked {args.target_rank}, {args.honest_per_day:,} "
        f"honest votes/day, {budget} counted votes per address per day, mean of "
        f"{args.repeats} runs; ranks moved up (negative: down)"
    )
    print(
        f"{'recognition accuracy':<38}{'period':>8}"
        + "".join(f"{'K=' + str(k):>9}" for k in K_VALUES)
    )
    cases = [
        ("measured, new code", args.accuracy, args.chance),
        ("new code, served file only", FINGERPRINT_ACCURACY_SERVED, FINGERPRINT_CHANCE),
        ("old code", FINGERPRINT_ACCURACY_OLD, args.chance),
        ("content-based (Huang et al.)", 0.95, args.chance),
    ]
    table: dict[str, dict[str, dict[str, float]]] = {}
    for label, accuracy, chance in cases:
        table[label] = {}
        for days, period in ((1, "1 day"), (7, "7 days")):
            table[label][period] = row(accuracy, chance, days)
            print(
                f"{label + f' ({accuracy:.2f})':<38}{period:>8}"
                + "".join(f"{table[label][period][str(k)]:>9.1f}" for k in K_VALUES)
            )
    print(f"{time.perf_counter() - started:.1f} s")
    if args.json:
        measured = table[cases[0][0]]
        print(
            json.dumps(
                {
                    "ranks_moved": measured["1 day"],
                    "ranks_moved_week": measured["7 days"],
                    "ranks_moved_served_only": table[cases[1][0]]["1 day"],
                    "ranks_moved_old": table[cases[2][0]]["1 day"],
                    "ranks_moved_accuracy_0_95": table[cases[3][0]]["1 day"],
                    "accuracy": args.accuracy,
                    "chance": args.chance,
                    "budget_per_address": budget,
                    "honest_per_day": args.honest_per_day,
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
