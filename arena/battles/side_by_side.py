"""Named side-by-side battles: the voter picks both models and sees their names from the start.

Such a battle runs exactly like an anonymous one (same generation, normalisation and vote
flow), but its vote is stored with the reason ``side_by_side`` and so never reaches the
leaderboard, the pair cells, the Elo or the default export (see votes.services)."""

from __future__ import annotations

from arena.battles.errors import InvalidInput
from arena.battles.models import Arena, BattleMode, Contender
from arena.battles.selectors import arena_contenders


def battle_mode_parse(mode: object) -> BattleMode:
    if mode is None:
        return BattleMode.ANONYMOUS
    if not isinstance(mode, str) or mode not in BattleMode.values:
        raise InvalidInput(f"mode must be one of: {', '.join(BattleMode.values)}.")
    return BattleMode(mode)


def side_by_side_pair(
    *, arena: Arena, mode: object, models: object
) -> tuple[Contender, Contender] | None:
    """The two contenders a side-by-side request names (left, right in the order given), or
    None for an anonymous battle. Anything else is a 400 that says why."""
    parsed = battle_mode_parse(mode)
    if parsed == BattleMode.ANONYMOUS:
        if models is not None:
            raise InvalidInput(
                'models can only be chosen with "mode": "side_by_side" (an anonymous battle '
                "draws its two models)."
            )
        return None
    if (
        not isinstance(models, list)
        or len(models) != 2
        or not all(isinstance(m, int) and not isinstance(m, bool) for m in models)
    ):
        raise InvalidInput(
            'A side-by-side battle needs "models": [id_a, id_b], two model ids from '
            f"/api/arenas/{arena.slug}/models."
        )
    if models[0] == models[1]:
        raise InvalidInput("Choose two different models for a side-by-side battle.")
    enabled = {c.pk: c for c in arena_contenders(arena=arena)}
    missing = [str(m) for m in models if m not in enabled]
    if missing:
        raise InvalidInput(
            f"No enabled model with id {' or '.join(missing)} in this arena; see "
            f"/api/arenas/{arena.slug}/models."
        )
    left, right = enabled[models[0]], enabled[models[1]]
    paused = [c.name for c in (left, right) if c.paused_at is not None]
    if paused:
        raise InvalidInput(
            f"{' and '.join(paused)} {'is' if len(paused) == 1 else 'are'} paused after "
            "repeated provider failures; choose another model."
        )
    return left, right
