"""Votes needed to settle the top of a leaderboard: uniform vs adaptive pair sampling.

Simulated voters judge pairs of models with known ratings (Bradley–Terry with ties from the
``τ·4p(1−p)`` model of ``ratings.simulate`` and a left-side position bias); a sampler picks
the pairs, in batches; after each batch the Bradley–Terry MLE is refitted on the pair table
(warm-started) and its Fisher covariance computed. A run stops at the first batch after which

* the top ``--top`` places are *resolved*: every adjacent difference among the top
  ``top + 1`` models, and the difference between the ``top``-th model and each model below,
  has a 95 % Fisher interval excluding 0, and
* the estimated top-``top`` order equals the true one.

"Votes" is the number of votes cast until then. At the adaptive run's stop, 95 % percentile
bootstrap intervals (``ratings.bootstrap_bradley_terry`` on the votes, plain BT MLE: the
adaptive design depends only on past outcomes, so the likelihood and its bootstrap stay valid
without re-weighting) are checked against the truth: "coverage" is the share of all models'
intervals, over all replications, that contain the true rating.

Scenarios: 20 and 50 models all starting together, and a newcomer (true rating at place
``--newcomer-rank``) joining a settled 50-model board, counted from its arrival.

    .venv/bin/python bench/sampling_sim.py --json          # ~2-3 min on a busy 2-core box

The last line is ``{"uniform_votes", "adaptive_votes", "savings_pct", "coverage", ...}`` for
the 50-model start (means over replications, with 95 % bootstrap intervals in ``*_ci``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ratings.bootstrap import bootstrap_bradley_terry  # noqa: E402
from ratings.bt import fit_bradley_terry  # noqa: E402
from ratings.counts import PairCounts  # noqa: E402
from ratings.outcomes import Battles, Winner  # noqa: E402
from ratings.sampling import (  # noqa: E402
    adaptive_pair_probabilities,
    fisher_covariance,
    uniform_pair_probabilities,
)
from ratings.simulate import outcome_probabilities  # noqa: E402

LN10_400 = math.log(10) / 400.0
Z95 = 1.959963984540054


def true_ratings(m: int, *, top: int, gap: float, span: float) -> np.ndarray:
    """The top ``top + 1`` models ``gap`` points apart, the rest spread evenly below, down to
    ``-span``: a crowded top, as on public arenas."""
    head = -gap * np.arange(top + 1, dtype=np.float64)
    rest = np.linspace(head[-1] - gap / 2, -span, m - top - 1) if m > top + 1 else []
    return np.concatenate([head, rest])


@dataclass
class State:
    """Pair tables (decisive wins and ties, both indexed ``[winner, loser]``) and the votes."""

    m: int
    wins: np.ndarray = field(init=False)
    ties: np.ndarray = field(init=False)
    a: list[np.ndarray] = field(default_factory=list)
    b: list[np.ndarray] = field(default_factory=list)
    w: list[np.ndarray] = field(default_factory=list)
    theta: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.wins = np.zeros((self.m, self.m))
        self.ties = np.zeros((self.m, self.m))

    def grow(self, m: int) -> None:
        """A newcomer joins (index ``m - 1``)."""
        for name in ("wins", "ties"):
            old = getattr(self, name)
            new = np.zeros((m, m))
            new[: self.m, : self.m] = old
            setattr(self, name, new)
        if self.theta is not None:
            self.theta = np.append(self.theta, self.theta.mean())
        self.m = m

    @property
    def games(self) -> np.ndarray:
        return self.wins + self.wins.T + self.ties + self.ties.T


def vote(
    rng: np.random.Generator,
    truth: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    tau: float,
    bias: float,
) -> np.ndarray:
    """Outcomes for left ``a`` vs right ``b``: BT on the truth plus a left-side bias (natural
    units), ties from the ``τ·4p(1−p)`` model."""
    p = 1.0 / (1.0 + np.exp(-((truth[a] - truth[b]) * LN10_400 + bias)))
    p_win, p_tie = outcome_probabilities(p, tau)
    u = rng.random(a.shape[0])
    return np.where(u < p_tie, Winner.TIE, np.where(u < p_tie + p_win, Winner.A, Winner.B)).astype(
        np.int8
    )


def fit(state: State) -> tuple[np.ndarray, np.ndarray]:
    """BT ratings (mean 1000 over models with votes; models without votes at that mean) and
    the Fisher covariance."""
    g = state.games
    seen = g.sum(axis=1) > 0
    idx = np.flatnonzero(seen)
    sub = np.ix_(idx, idx)
    wins, ties, n = state.wins[sub], state.ties[sub], g[sub]
    pi, pj = np.nonzero(np.triu(n, 1) > 0)
    counts = PairCounts(
        models=tuple(str(k) for k in idx),
        pair_i=pi.astype(np.int64),
        pair_j=pj.astype(np.int64),
        wins_i=wins[pi, pj],
        wins_j=wins[pj, pi],
        ties=ties[pi, pj] + ties[pj, pi],
        both_bad=np.zeros(pi.shape[0]),
        votes=n[pi, pj].astype(np.int64),
    )
    theta0 = None if state.theta is None else state.theta[idx] - state.theta[idx].mean()
    res = fit_bradley_terry(counts, theta0=theta0)
    ratings = np.full(state.m, 1000.0)
    ratings[idx] = res.ratings
    theta = np.zeros(state.m)
    theta[idx] = res.theta
    state.theta = theta
    return ratings, fisher_covariance(ratings, g, ties=state.ties + state.ties.T)


def covers(ratings: np.ndarray, cov: np.ndarray, truth: np.ndarray, which: str, top: int) -> bool:
    """Whether the 95 % Fisher intervals (ratings centred on their mean) contain the true
    ratings (centred the same way): of every model (``all``) or of the true top ``top + 1``."""
    if which == "none":
        return True
    m = ratings.shape[0]
    c = np.eye(m) - 1.0 / m
    sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", c, cov, c), 0.0))
    inside = np.abs((ratings - ratings.mean()) - (truth - truth.mean())) <= Z95 * sd
    if which == "top":
        inside = inside[np.argsort(-truth, kind="stable")[: top + 1]]
    return bool(np.all(inside))


def resolved(ratings: np.ndarray, cov: np.ndarray, truth: np.ndarray, top: int) -> bool:
    order = np.argsort(-ratings, kind="stable")
    if not np.array_equal(order[:top], np.argsort(-truth, kind="stable")[:top]):
        return False
    pairs = [(order[r], order[r + 1]) for r in range(top)]
    pairs += [(order[top - 1], order[r]) for r in range(top + 1, ratings.shape[0])]
    ca, cb = np.array(pairs).T
    sd = np.sqrt(np.maximum(cov[ca, ca] + cov[cb, cb] - 2 * cov[ca, cb], 0.0))
    return bool(np.all(ratings[ca] - ratings[cb] > Z95 * sd))


def run(
    state: State, truth: np.ndarray, policy: str, rng: np.random.Generator, args: argparse.Namespace
) -> int:
    """Cast votes in batches until the top is resolved; returns the votes cast (capped)."""
    votes = 0
    if state.a:
        ratings, cov = fit(state)
    else:
        ratings = np.full(state.m, 1000.0)
        cov = fisher_covariance(ratings, state.games)
    while votes < args.max_votes:
        if policy == "uniform" or not state.a:
            sampler = uniform_pair_probabilities(state.m)
        else:
            sampler = adaptive_pair_probabilities(
                ratings,
                cov,
                top=args.top,
                uniform_mix=args.uniform_mix,
                max_model_share=args.max_model_share,
            )
        a, b, _ = sampler.draw(rng, args.batch)
        w = vote(rng, truth, a, b, args.tau, args.bias)
        np.add.at(state.wins, (a[w == Winner.A], b[w == Winner.A]), 1.0)
        np.add.at(state.wins, (b[w == Winner.B], a[w == Winner.B]), 1.0)
        np.add.at(state.ties, (a[w == Winner.TIE], b[w == Winner.TIE]), 1.0)
        state.a.append(a)
        state.b.append(b)
        state.w.append(w)
        votes += args.batch
        ratings, cov = fit(state)
        if resolved(ratings, cov, truth, args.top) and covers(
            ratings, cov, truth, args.require_cover, args.top
        ):
            break
    return votes


def coverage(
    state: State, truth: np.ndarray, rounds: int, seed: int, top: int
) -> tuple[int, int, float, float, int]:
    """Models whose 95 % bootstrap interval contains the truth, models checked, the mean
    interval width of the true top ``top + 1`` and of the others, and hits among the top."""
    battles = Battles(
        tuple(f"m{k}" for k in range(state.m)),
        np.concatenate(state.a).astype(np.int64),
        np.concatenate(state.b).astype(np.int64),
        np.concatenate(state.w),
    )
    boot = bootstrap_bradley_terry(battles, rounds=rounds, seed=seed)
    t = truth - truth.mean() + 1000.0
    width = boot.ci_high - boot.ci_low
    head = np.zeros(state.m, dtype=bool)
    head[np.argsort(-truth, kind="stable")[: top + 1]] = True
    rest = float(width[~head].mean()) if (~head).any() else float("nan")
    inside = (boot.ci_low <= t) & (t <= boot.ci_high)
    return int(inside.sum()), state.m, float(width[head].mean()), rest, int(inside[head].sum())


def mean_ci(x: list[float], rng: np.random.Generator) -> tuple[float, float, float]:
    arr = np.asarray(x, dtype=np.float64)
    boots = rng.choice(arr, size=(2000, arr.shape[0])).mean(axis=1)
    return float(arr.mean()), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def savings_ci(
    uni: list[float], ada: list[float], rng: np.random.Generator
) -> tuple[float, float, float]:
    u, a = np.asarray(uni), np.asarray(ada)
    bu = rng.choice(u, size=(2000, u.shape[0])).mean(axis=1)
    ba = rng.choice(a, size=(2000, a.shape[0])).mean(axis=1)
    s = 100 * (1 - ba / bu)
    return (
        float(100 * (1 - a.mean() / u.mean())),
        float(np.quantile(s, 0.025)),
        float(np.quantile(s, 0.975)),
    )


def scenario(m: int, reps: int, args: argparse.Namespace, newcomer: bool) -> dict[str, object]:
    truth_full = true_ratings(m, top=args.top, gap=args.gap, span=args.span)
    out: dict[str, list[float]] = {"uniform": [], "adaptive": []}
    hits = total = top_hits = top_total = 0
    capped = 0
    widths: dict[str, list[float]] = {
        f"{p}_{part}": [] for p in ("uniform", "adaptive") for part in ("top", "rest")
    }
    for rep in range(reps):
        for policy in ("uniform", "adaptive"):
            rng = np.random.default_rng([args.seed, m, rep, int(newcomer)])
            if newcomer:
                # the newcomer is the model at place --newcomer-rank; the others settle first
                k = args.newcomer_rank - 1
                others = np.delete(truth_full, k)
                state = State(m - 1)
                run(state, others, policy, rng, args)
                state.grow(m)
                truth = np.append(others, truth_full[k])
            else:
                state, truth = State(m), truth_full
            n = run(state, truth, policy, rng, args)
            capped += n >= args.max_votes
            out[policy].append(float(n))
            if not args.no_coverage:
                h, t, w_top, w_rest, h_top = coverage(state, truth, args.rounds, rep, args.top)
                if policy == "adaptive":
                    hits, total = hits + h, total + t
                    top_hits, top_total = top_hits + h_top, top_total + min(args.top + 1, t)
                widths[f"{policy}_top"].append(w_top)
                widths[f"{policy}_rest"].append(w_rest)
    crng = np.random.default_rng(args.seed)
    u, ulo, uhi = mean_ci(out["uniform"], crng)
    a, alo, ahi = mean_ci(out["adaptive"], crng)
    s, slo, shi = savings_ci(out["uniform"], out["adaptive"], crng)
    return {
        "models": m,
        "newcomer": newcomer,
        "reps": reps,
        "uniform_votes": round(u),
        "uniform_votes_ci": [round(ulo), round(uhi)],
        "adaptive_votes": round(a),
        "adaptive_votes_ci": [round(alo), round(ahi)],
        "savings_pct": round(s, 1),
        "savings_pct_ci": [round(slo, 1), round(shi, 1)],
        "coverage": None if not total else round(hits / total, 4),
        "intervals_checked": total,
        "coverage_top": None if not top_total else round(top_hits / top_total, 4),
        # mean 95 % bootstrap interval width at the stop: the true top + 1 models, the others
        **{
            f"{key}_ci_width": round(float(np.nanmean(v)), 1) if v else None
            for key, v in widths.items()
        },
        "runs_capped": int(capped),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print the summary as JSON last")
    ap.add_argument("--models", default="20,50", help="sizes of the all-start scenarios")
    ap.add_argument("--reps", type=int, default=8, help="replications per scenario")
    ap.add_argument("--newcomer-reps", type=int, default=6)
    ap.add_argument("--no-newcomer", action="store_true")
    ap.add_argument("--newcomer-rank", type=int, default=4)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--gap", type=float, default=25.0, help="rating gap between top models")
    ap.add_argument("--span", type=float, default=500.0, help="best minus worst true rating")
    ap.add_argument("--tau", type=float, default=0.3, help="tie rate of an even pair")
    ap.add_argument("--bias", type=float, default=0.1, help="left-side bias, natural units")
    ap.add_argument("--batch", type=int, default=500, help="votes between refits")
    ap.add_argument("--max-votes", type=int, default=400_000)
    ap.add_argument("--uniform-mix", type=float, default=0.15)
    ap.add_argument("--max-model-share", type=float, default=0.25)
    ap.add_argument("--rounds", type=int, default=200, help="bootstrap rounds at the stop")
    ap.add_argument("--no-coverage", action="store_true")
    ap.add_argument(
        "--require-cover",
        choices=["none", "top", "all"],
        default="none",
        help="also wait until the 95 %% Fisher intervals of the top+1 (or all) models "
        "contain the truth",
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    results = []
    sizes = [int(s) for s in args.models.split(",") if s]
    for m in sizes:
        results.append(scenario(m, args.reps, args, newcomer=False))
        print(json.dumps(results[-1]), flush=True)
    if not args.no_newcomer:
        results.append(scenario(max(sizes), args.newcomer_reps, args, newcomer=True))
        print(json.dumps(results[-1]), flush=True)
    head = next(r for r in results if r["models"] == max(sizes) and not r["newcomer"])
    summary = {
        "uniform_votes": head["uniform_votes"],
        "adaptive_votes": head["adaptive_votes"],
        "savings_pct": head["savings_pct"],
        "coverage": head["coverage"],
        "savings_pct_ci": head["savings_pct_ci"],
        "uniform_votes_ci": head["uniform_votes_ci"],
        "adaptive_votes_ci": head["adaptive_votes_ci"],
        "reps": head["reps"],
        "fit": "plain BT MLE (design depends only on past outcomes), 95% percentile bootstrap",
        "scenarios": results,
        "params": {k: v for k, v in vars(args).items() if k != "json"},
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if not args.json:
        for r in results:
            kind = "newcomer" if r["newcomer"] else "start"
            print(
                f"{r['models']:>3} models {kind:>8}: uniform {r['uniform_votes']:>7} "
                f"adaptive {r['adaptive_votes']:>7} savings {r['savings_pct']:>5} % "
                f"{r['savings_pct_ci']} coverage {r['coverage']}"
            )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
