"""Pairwise model-evaluation ratings: Bradley–Terry, online Elo, bootstrap intervals.

Pure numpy (scipy only in ``ratings.integrity``); importing this package never imports
Django. The main entry point is :func:`compute_leaderboard`; the pieces (loader, pair tables,
fits, bootstrap, matrices) are exported for reuse and testing.

The names below are loaded on first use (PEP 562), so ``import ratings`` itself costs
nothing and ``python -m ratings`` can configure the process (BLAS threads) before numpy
loads; ``from ratings import X`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ratings.bootstrap import (
        BootstrapResult,
        bootstrap_bradley_terry,
        bootstrap_elo,
        percentile_interval,
    )
    from ratings.bt import (
        DEFAULT_PRIOR,
        BTResult,
        fit_bradley_terry,
        is_strongly_connected,
        predicted_win_probability,
    )
    from ratings.counts import BattleCells, PairCounts, battle_cells, pair_counts
    from ratings.elo import EloParams, bootstrap_online_elo, compute_online_elo, online_elo
    from ratings.errors import (
        InvalidBattleError,
        NoBattlesError,
        RatingsError,
        UnknownModelError,
        UnknownWinnerError,
    )
    from ratings.io import BattleFileError, read_battle_rows, read_battles
    from ratings.leaderboard import (
        Leaderboard,
        LeaderboardRow,
        compute_leaderboard,
        rank_by_intervals,
    )
    from ratings.matrices import average_win_rate, battle_count_matrix, win_fraction_matrix
    from ratings.outcomes import (
        WINNER_STRINGS,
        Battles,
        Winner,
        battles_from_arrays,
        keep_mask,
        load_battles,
        parse_winner,
    )
    from ratings.simulate import simulate_battles
    from ratings.style import StyleResult, fit_bradley_terry_with_covariates

_EXPORTS: dict[str, tuple[str, ...]] = {
    "ratings.bootstrap": (
        "BootstrapResult",
        "bootstrap_bradley_terry",
        "bootstrap_elo",
        "percentile_interval",
    ),
    "ratings.bt": (
        "DEFAULT_PRIOR",
        "BTResult",
        "fit_bradley_terry",
        "is_strongly_connected",
        "predicted_win_probability",
    ),
    "ratings.counts": ("BattleCells", "PairCounts", "battle_cells", "pair_counts"),
    "ratings.elo": ("EloParams", "bootstrap_online_elo", "compute_online_elo", "online_elo"),
    "ratings.errors": (
        "InvalidBattleError",
        "NoBattlesError",
        "RatingsError",
        "UnknownModelError",
        "UnknownWinnerError",
    ),
    "ratings.io": ("BattleFileError", "read_battle_rows", "read_battles"),
    "ratings.leaderboard": (
        "Leaderboard",
        "LeaderboardRow",
        "compute_leaderboard",
        "rank_by_intervals",
    ),
    "ratings.matrices": ("average_win_rate", "battle_count_matrix", "win_fraction_matrix"),
    "ratings.outcomes": (
        "WINNER_STRINGS",
        "Battles",
        "Winner",
        "battles_from_arrays",
        "keep_mask",
        "load_battles",
        "parse_winner",
    ),
    "ratings.simulate": ("simulate_battles",),
    "ratings.style": ("StyleResult", "fit_bradley_terry_with_covariates"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "DEFAULT_PRIOR",
    "WINNER_STRINGS",
    "BTResult",
    "BattleCells",
    "BattleFileError",
    "Battles",
    "BootstrapResult",
    "EloParams",
    "InvalidBattleError",
    "Leaderboard",
    "LeaderboardRow",
    "NoBattlesError",
    "PairCounts",
    "RatingsError",
    "StyleResult",
    "UnknownModelError",
    "UnknownWinnerError",
    "Winner",
    "average_win_rate",
    "battle_cells",
    "battle_count_matrix",
    "battles_from_arrays",
    "bootstrap_bradley_terry",
    "bootstrap_elo",
    "bootstrap_online_elo",
    "compute_leaderboard",
    "compute_online_elo",
    "fit_bradley_terry",
    "fit_bradley_terry_with_covariates",
    "is_strongly_connected",
    "keep_mask",
    "load_battles",
    "online_elo",
    "pair_counts",
    "parse_winner",
    "percentile_interval",
    "predicted_win_probability",
    "rank_by_intervals",
    "read_battle_rows",
    "read_battles",
    "simulate_battles",
    "win_fraction_matrix",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'ratings' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
