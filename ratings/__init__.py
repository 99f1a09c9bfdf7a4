"""Pairwise model-evaluation ratings: Bradley–Terry, online Elo, bootstrap intervals.

Pure numpy/scipy; importing this package never imports Django. The main entry point is
:func:`compute_leaderboard`; the pieces (loader, pair tables, fits, bootstrap, matrices) are
exported for reuse and testing.
"""

from __future__ import annotations

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
from ratings.elo import EloParams, bootstrap_online_elo, compute_online_elo
from ratings.errors import (
    InvalidBattleError,
    NoBattlesError,
    RatingsError,
    UnknownModelError,
    UnknownWinnerError,
)
from ratings.io import BattleFileError, read_battle_rows
from ratings.leaderboard import Leaderboard, LeaderboardRow, compute_leaderboard, rank_by_intervals
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
    "keep_mask",
    "bootstrap_bradley_terry",
    "bootstrap_elo",
    "bootstrap_online_elo",
    "compute_leaderboard",
    "compute_online_elo",
    "fit_bradley_terry",
    "fit_bradley_terry_with_covariates",
    "is_strongly_connected",
    "load_battles",
    "parse_winner",
    "percentile_interval",
    "pair_counts",
    "predicted_win_probability",
    "rank_by_intervals",
    "read_battle_rows",
    "simulate_battles",
    "win_fraction_matrix",
]
