"""Battle outcomes and the loader that turns raw rows into compact index arrays.

The accepted winner strings are exactly those of the public LMSYS / LMArena battle dumps
(``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``), so the same files can be rated here and
by the FastChat reference code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Literal

import numpy as np
import numpy.typing as npt

from ratings.errors import InvalidBattleError, NoBattlesError, RatingsError, UnknownWinnerError

__all__ = [
    "WINNER_STRINGS",
    "Battles",
    "BothBad",
    "IndexedBattles",
    "Winner",
    "battles_from_arrays",
    "factorize_battle_columns",
    "keep_mask",
    "load_battles",
    "parse_winner",
]

BothBad = Literal["tie", "exclude"]


class Winner(enum.IntEnum):
    """Outcome of one battle, as stored in the compact ``winner`` array."""

    A = 0
    B = 1
    TIE = 2
    BOTH_BAD = 3

    @property
    def label(self) -> str:
        """The LMSYS dump string for this outcome."""
        return WINNER_STRINGS[self]


WINNER_STRINGS: dict[Winner, str] = {
    Winner.A: "model_a",
    Winner.B: "model_b",
    Winner.TIE: "tie",
    Winner.BOTH_BAD: "tie (bothbad)",
}
_PARSE: dict[object, Winner] = {text: w for w, text in WINNER_STRINGS.items()}


def parse_winner(value: object, row: int = 0) -> Winner:
    """Map a winner string (or a :class:`Winner`) to a :class:`Winner`.

    Raises :class:`~ratings.errors.UnknownWinnerError` naming ``row`` and ``value`` otherwise.
    """
    if isinstance(value, Winner):
        return value
    try:
        return _PARSE[value]
    except (KeyError, TypeError):
        raise UnknownWinnerError(row, value) from None


@dataclass(frozen=True, eq=False)
class Battles:
    """Battles as parallel index arrays over a sorted tuple of model names.

    ``model_a[k]`` and ``model_b[k]`` index into ``models``; ``winner[k]`` holds a
    :class:`Winner` value; ``weights`` is ``None`` (every battle counts once) or a float
    array normalised to mean 1 (inverse-probability weights, see :func:`load_battles`).
    """

    models: tuple[str, ...]
    model_a: npt.NDArray[np.int64]
    model_b: npt.NDArray[np.int64]
    winner: npt.NDArray[np.int8]
    weights: npt.NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.winner.shape[0])

    @property
    def num_models(self) -> int:
        """Number of models (including models listed but without battles)."""
        return len(self.models)

    def index_of(self, model: str) -> int:
        """Position of ``model`` in :attr:`models`."""
        from ratings.errors import UnknownModelError

        try:
            return self.models.index(model)
        except ValueError:
            raise UnknownModelError(f"unknown model {model!r}") from None


def _normalise_weights(weights: npt.ArrayLike, n: int) -> npt.NDArray[np.float64]:
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise RatingsError(f"got {w.shape[0]} weights for {n} battles")
    bad = np.flatnonzero(~np.isfinite(w) | (w <= 0))
    if bad.size:
        raise InvalidBattleError(int(bad[0]), f"weight must be finite and > 0, got {w[bad[0]]!r}")
    return w / w.mean() if n else w


def keep_mask(
    winner: npt.NDArray[np.int8], *, exclude_ties: bool = False, both_bad: BothBad = "tie"
) -> npt.NDArray[np.bool_]:
    """Which battles survive ``exclude_ties`` / ``both_bad="exclude"`` (to align side data,
    e.g. covariates, with the filtered battles)."""
    if both_bad not in ("tie", "exclude"):
        raise RatingsError(f"both_bad must be 'tie' or 'exclude', got {both_bad!r}")
    if exclude_ties:
        return np.asarray(winner < Winner.TIE)
    if both_bad == "exclude":
        return np.asarray(winner != Winner.BOTH_BAD)
    return np.ones(winner.shape[0], dtype=bool)


def _filter(
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    win: npt.NDArray[np.int8],
    w: npt.NDArray[np.float64] | None,
    exclude_ties: bool,
    both_bad: BothBad,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int8],
    npt.NDArray[np.float64] | None,
]:
    keep = keep_mask(win, exclude_ties=exclude_ties, both_bad=both_bad)
    if not keep.all():
        a, b, win = a[keep], b[keep], win[keep]
        w = None if w is None else w[keep]
    return a, b, win, w


def load_battles(
    rows: Iterable[Sequence[object] | Mapping[str, object]],
    *,
    models: Iterable[str] | None = None,
    exclude_ties: bool = False,
    both_bad: BothBad = "tie",
    weights: npt.ArrayLike | None = None,
) -> Battles:
    """Turn ``(model_a, model_b, winner)`` rows into a :class:`Battles`.

    Parameters
    ----------
    rows
        Tuples ``(model_a, model_b, winner)`` or mappings with those keys (extra keys are
        ignored). ``winner`` is one of ``model_a | model_b | tie | tie (bothbad)``.
    models
        Extra model names to include even without battles (they get prior-only ratings).
    exclude_ties
        Drop ties and both-bad ties (FastChat's ``exclude_ties`` option).
    both_bad
        ``"tie"`` (default, FastChat semantics) counts ``tie (bothbad)`` as a tie;
        ``"exclude"`` drops those battles.
    weights
        Optional per-battle weights, e.g. ``1 / p`` for a battle sampled with probability
        ``p`` (inverse-probability weighting, Horvitz & Thompson 1952). They are rescaled
        to mean 1 after filtering so that "votes" keep their meaning.

    Raises
    ------
    UnknownWinnerError
        A winner value is not one of the four strings (message names the row and value).
    InvalidBattleError
        A model name is empty / not a string, or a model battles itself.
    NoBattlesError
        Nothing is left to rate.

    Notes
    -----
    Rows are split into three columns and factorised in bulk (a few dict passes and
    ``numpy.fromiter``, no per-row branching). When the bulk checks find anything wrong, the
    row-by-row reference loop runs instead, so errors name exactly the first bad row.
    """
    seq = rows if isinstance(rows, list | tuple) else list(rows)
    cols = _columns(seq)
    fast = None if cols is None else factorize_battle_columns(*cols, models=models)
    names, a, b, win = fast if fast is not None else _load_rows_reference(seq, models)
    w = None if weights is None else _normalise_weights(weights, a.shape[0])
    return _finish(names, a, b, win, w, exclude_ties, both_bad)


IndexedBattles = tuple[
    tuple[str, ...], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int8]
]
"""``(sorted model names, model_a index, model_b index, winner codes)`` before filtering."""

_WINNER_CODES: dict[object, int] = {text: int(w) for w, text in WINNER_STRINGS.items()}


def _columns(
    rows: Sequence[Sequence[object] | Mapping[str, object]],
) -> tuple[list[object], list[object], list[object]] | None:
    """The three columns of ``rows`` when every row is a plain sequence of length >= 3 or
    every row is a mapping with the three keys; ``None`` otherwise (reference path)."""
    types = set(map(type, rows))
    if all(issubclass(t, list | tuple) for t in types):
        if rows and min(map(len, rows)) < 3:
            return None
        keys: tuple[object, object, object] = (0, 1, 2)
    elif all(issubclass(t, Mapping) for t in types):
        keys = ("model_a", "model_b", "winner")
    else:
        return None
    try:
        return (
            list(map(itemgetter(keys[0]), rows)),
            list(map(itemgetter(keys[1]), rows)),
            list(map(itemgetter(keys[2]), rows)),
        )
    except (KeyError, IndexError, TypeError):
        return None


def factorize_battle_columns(
    model_a: Sequence[object],
    model_b: Sequence[object],
    winner: Sequence[object],
    *,
    models: Iterable[str] | None = None,
) -> IndexedBattles | None:
    """Bulk version of the loader's per-row work on three equal-length columns.

    Returns ``(sorted model names, model_a index, model_b index, winner codes)``, or ``None``
    when any row is invalid (a name that is not a non-empty string, a self-battle, a winner
    outside the four strings): the caller then runs the row-by-row loop for the exact error.
    """
    n = len(model_a)
    try:
        ua = dict.fromkeys(model_a)
        ub = dict.fromkeys(model_b)
        uw = set(winner)
    except TypeError:  # unhashable value: not a name / winner string anyway
        return None
    index: dict[str, None] = {}
    for name in (*ua, *ub):
        if not isinstance(name, str) or not name:
            return None
        index[name] = None
    if not all(isinstance(v, str) and v in _WINNER_CODES for v in uw):
        return None
    for extra in models or ():
        index.setdefault(extra)
    names = tuple(sorted(index))
    pos: dict[object, int] = {name: k for k, name in enumerate(names)}
    a = np.fromiter(map(pos.__getitem__, model_a), dtype=np.int64, count=n)
    b = np.fromiter(map(pos.__getitem__, model_b), dtype=np.int64, count=n)
    if np.any(a == b):
        return None
    win = np.fromiter(map(_WINNER_CODES.__getitem__, winner), dtype=np.int8, count=n)
    return names, a, b, win


def _load_rows_reference(
    rows: Iterable[Sequence[object] | Mapping[str, object]], models: Iterable[str] | None
) -> IndexedBattles:
    """The row-by-row loader (the original implementation): the reference semantics the bulk
    path must match, and the path that finds and names the first bad row."""
    index: dict[str, int] = {}
    a_list: list[int] = []
    b_list: list[int] = []
    w_list: list[int] = []
    setdefault = index.setdefault
    for row_no, row in enumerate(rows):
        if isinstance(row, Mapping):
            try:
                ma, mb, wv = row["model_a"], row["model_b"], row["winner"]
            except KeyError as exc:
                raise InvalidBattleError(row_no, f"missing key {exc.args[0]!r}") from None
        else:
            if len(row) < 3:
                raise InvalidBattleError(row_no, "expected (model_a, model_b, winner)")
            ma, mb, wv = row[0], row[1], row[2]
        if not isinstance(ma, str) or not isinstance(mb, str) or not ma or not mb:
            raise InvalidBattleError(
                row_no, f"model names must be non-empty strings: {ma!r}, {mb!r}"
            )
        if ma == mb:
            raise InvalidBattleError(row_no, f"model {ma!r} battles itself")
        win = _PARSE.get(wv) if isinstance(wv, str) else None
        if win is None:
            win = parse_winner(wv, row_no)
        a_list.append(setdefault(ma, len(index)))
        b_list.append(setdefault(mb, len(index)))
        w_list.append(int(win))
    for extra in models or ():
        setdefault(extra, len(index))
    names = sorted(index)
    remap = np.empty(len(index), dtype=np.int64)
    for new, name in enumerate(names):
        remap[index[name]] = new
    a = remap[np.asarray(a_list, dtype=np.int64)] if a_list else np.zeros(0, np.int64)
    b = remap[np.asarray(b_list, dtype=np.int64)] if b_list else np.zeros(0, np.int64)
    return tuple(names), a, b, np.asarray(w_list, dtype=np.int8)


def battles_from_arrays(
    models: Sequence[str],
    model_a: npt.ArrayLike,
    model_b: npt.ArrayLike,
    winner: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    exclude_ties: bool = False,
    both_bad: BothBad = "tie",
) -> Battles:
    """Build :class:`Battles` from integer index arrays (fast path for large data).

    ``models`` must be sorted and unique so results do not depend on input order;
    ``winner`` holds :class:`Winner` integer values.
    """
    names = tuple(models)
    if list(names) != sorted(set(names)):
        raise RatingsError("models must be sorted and unique")
    a = np.asarray(model_a, dtype=np.int64).reshape(-1)
    b = np.asarray(model_b, dtype=np.int64).reshape(-1)
    win = np.asarray(winner, dtype=np.int8).reshape(-1)
    if not (a.shape == b.shape == win.shape):
        raise RatingsError("model_a, model_b and winner must have the same length")
    m = len(names)
    for arr in (a, b):
        bad = np.flatnonzero((arr < 0) | (arr >= m))
        if bad.size:
            raise InvalidBattleError(int(bad[0]), f"model index {arr[bad[0]]} out of range")
    bad = np.flatnonzero((win < 0) | (win > 3))
    if bad.size:
        raise UnknownWinnerError(int(bad[0]), int(win[bad[0]]))
    same = np.flatnonzero(a == b)
    if same.size:
        raise InvalidBattleError(int(same[0]), f"model {names[a[same[0]]]!r} battles itself")
    w = None if weights is None else _normalise_weights(weights, a.shape[0])
    return _finish(names, a, b, win, w, exclude_ties, both_bad)


def _finish(
    names: tuple[str, ...],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    win: npt.NDArray[np.int8],
    w: npt.NDArray[np.float64] | None,
    exclude_ties: bool,
    both_bad: BothBad,
) -> Battles:
    a, b, win, w = _filter(a, b, win, w, exclude_ties, both_bad)
    if a.shape[0] == 0:
        raise NoBattlesError("no battles to rate (after excluding ties / both-bad)")
    if w is not None:
        w = w / w.mean()
    return Battles(names, a, b, win, w)
