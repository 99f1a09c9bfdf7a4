"""Command line: ``python -m ratings BATTLES_FILE [options]``.

Errors in the input (missing file, bad column, unknown winner) print one line on stderr
and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Sequence

from ratings.errors import NoBattlesError, RatingsError
from ratings.io import read_battles
from ratings.leaderboard import Leaderboard, compute_leaderboard
from ratings.outcomes import Battles, keep_mask
from ratings.provisional import ProvisionalRow, split_provisional

__all__ = ["main", "render"]

EXIT_INPUT_ERROR = 2


def _anchor(text: str) -> tuple[str, float]:
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected MODEL=VALUE, got {text!r}")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"anchor value {value!r} is not a number") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ratings",
        description="Rate models from pairwise battles (Bradley–Terry or online Elo).",
    )
    p.add_argument(
        "battles",
        metavar="BATTLES_FILE",
        help=".jsonl, .json (list of objects), .csv or .parquet with columns "
        "model_a, model_b, winner",
    )
    p.add_argument("--method", choices=("bt", "elo"), default="bt")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap rounds for 95%% intervals (0: none; default 1000)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument(
        "--anchor",
        type=_anchor,
        metavar="MODEL=VALUE",
        help="pin one model's rating (default: mean rating 1000)",
    )
    p.add_argument("--exclude-ties", action="store_true", help="drop ties and both-bad ties")
    p.add_argument(
        "--both-bad",
        choices=("tie", "exclude"),
        default="tie",
        help="count 'tie (bothbad)' as a tie (default) or drop it",
    )
    p.add_argument(
        "--min-votes",
        type=int,
        default=0,
        metavar="N",
        help="models with fewer than N votes (after the tie rule) are provisional: listed "
        "without rating or rank, their votes left out of the fit (the site's "
        "ARENA_MIN_VOTES_TO_RANK; default 0: every model is ranked)",
    )
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument(
        "--input-format",
        choices=("jsonl", "json", "csv", "parquet"),
        help="override detection from the file extension",
    )
    return p


def _fmt(x: float, digits: int = 1) -> str:
    return "" if math.isnan(x) else f"{x:.{digits}f}"


def render(board: Leaderboard, fmt: str, provisional: Sequence[ProvisionalRow] = ()) -> str:
    """Render a leaderboard as ``table``, ``json`` or ``csv`` text; provisional models come
    last, without rank or rating."""
    if fmt == "json":
        out = board.to_dict()
        out["provisional"] = [
            {
                "model": r.model,
                "votes": r.votes,
                "wins": r.wins,
                "ties": r.ties,
                "losses": r.losses,
                "win_rate": r.win_rate,
            }
            for r in provisional
        ]
        return json.dumps(out, indent=2)
    header = ["rank", "model", "rating", "ci_low", "ci_high", "votes", "win_rate"]
    body = [
        [
            str(r.rank),
            r.model,
            _fmt(r.rating),
            _fmt(r.ci_low),
            _fmt(r.ci_high),
            str(r.votes),
            _fmt(r.win_rate, 3),
        ]
        for r in board.rows
    ]
    body += [
        [
            "provisional",
            r.model,
            "",
            "",
            "",
            str(r.votes),
            "" if r.win_rate is None else _fmt(r.win_rate, 3),
        ]
        for r in provisional
    ]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(body)
        return buf.getvalue().rstrip("\n")
    widths = [max(len(h), *(len(row[k]) for row in body)) for k, h in enumerate(header)]
    lines = [
        "  ".join(
            h.ljust(widths[k]) if k == 1 else h.rjust(widths[k]) for k, h in enumerate(header)
        )
    ]
    for row in body:
        lines.append(
            "  ".join(
                c.ljust(widths[k]) if k == 1 else c.rjust(widths[k]) for k, c in enumerate(row)
            )
        )
    note = f"{board.num_battles} battles, method={board.method}"
    if board.bootstrap_rounds:
        note += f", {board.bootstrap_rounds} bootstrap rounds (seed {board.seed})"
    if board.regularized:
        note += f", regularized (prior {board.prior_strength:g})"
    if provisional:
        note += f"; {len(provisional)} provisional (fewer than the minimum votes, not ranked)"
    return "\n".join(lines + ["", note])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.bootstrap < 0 or args.min_votes < 0:
        print("error: --bootstrap and --min-votes must be >= 0", file=sys.stderr)
        return EXIT_INPUT_ERROR
    provisional: list[ProvisionalRow] = []
    try:
        battles = read_battles(args.battles, args.input_format)
        if args.min_votes:
            battles, provisional = _ranked_only(battles, args)
        board = compute_leaderboard(
            battles,
            method=args.method,
            bootstrap_rounds=args.bootstrap,
            seed=args.seed,
            anchor=args.anchor,
            exclude_ties=args.exclude_ties,
            both_bad=args.both_bad,
            # the table and CSV show only the chosen rating; JSON also carries online Elo
            online_elo=args.method == "elo" or args.format == "json",
        )
    except (RatingsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    print(render(board, args.format, provisional))
    return 0


def _ranked_only(
    battles: Battles, args: argparse.Namespace
) -> tuple[Battles, list[ProvisionalRow]]:
    """The tie rule first (the threshold counts rated votes), then the provisional split."""
    keep = keep_mask(battles.winner, exclude_ties=args.exclude_ties, both_bad=args.both_bad)
    weights = None if battles.weights is None else battles.weights[keep]
    rated = Battles(
        battles.models, battles.model_a[keep], battles.model_b[keep], battles.winner[keep], weights
    )
    ranked, provisional = split_provisional(rated, min_votes=args.min_votes)
    if not len(ranked):
        raise NoBattlesError(f"no model has {args.min_votes} votes yet: every model is provisional")
    return ranked, provisional
