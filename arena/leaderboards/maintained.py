"""Vote cells kept by PostgreSQL as votes arrive, stop counting or go (issue 10): a refresh
reads O(pairs) rows of :class:`~arena.leaderboards.models.PairCell` and
:class:`~arena.leaderboards.models.StyleCell`, whatever the number of votes.

Statement-level triggers with transition tables do the bookkeeping in the same transaction
as the change, so the cells always equal a recount of the committed votes:

* votes inserted, deleted, or updated (``is_valid``, ``choice`` or ``battle_id`` changed:
  exclusions, flagged voters): the old rows' contribution is subtracted, the new rows'
  added; rows of one statement that fall in one cell are summed first;
* a prompt's category changed: its counted votes move between category cells;
* an arena's size changed (it defines the aspect and pixel covariates): its style cells are
  recounted.

A battle's contenders, prompt, sampling probability and outputs are fixed before it can be
voted on (and a voted battle cannot be deleted: the vote protects it), so no trigger watches
them. :func:`cells_rebuild` recounts from the votes (migration backfill, the benchmark's
bulk load, a change of the style bins, or a refresh that finds the totals off).

Cells are upserted in key order, so two transactions never wait on each other's cells in
opposite orders (no deadlock between concurrent votes and a bulk exclusion).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

# One row per vote of {votes} (a relation with the vote table's columns) that counts, with
# its cell coordinates and covariate differences; {prompts} supplies the category.
_CONTRIBUTION = """
SELECT b.arena_id, pr.category, b.left_id, b.right_id, v.choice,
       coalesce(b.sampling_probability, -1.0)::float8 AS p,
       width_bucket(s.x_lat, cb.edges) AS bl,
       floor(s.x_pix / cb.step + 0.5)::int AS bp, floor(s.x_asp / cb.step + 0.5)::int AS ba,
       s.x_lat, s.x_pix, s.x_asp, ({sign})::int AS sign
FROM {votes} v
JOIN battles_battle b ON b.id = v.battle_id
JOIN {prompts} pr ON pr.id = b.prompt_id
JOIN battles_arena a ON a.id = b.arena_id
CROSS JOIN (SELECT coalesce((SELECT ARRAY(SELECT jsonb_array_elements_text(latency_edges)::float8)
                             FROM leaderboards_cellbins WHERE id = 1), '{{}}'::float8[]) AS edges,
                   coalesce((SELECT size_step FROM leaderboards_cellbins WHERE id = 1),
                            0.01)::float8 AS step) cb
LEFT JOIN battles_output ol ON ol.battle_id = b.id AND ol.side = 'left'
LEFT JOIN battles_output orr ON orr.battle_id = b.id AND orr.side = 'right'
CROSS JOIN LATERAL (SELECT
    coalesce(nullif(ol.width, 0), a.width)::float8 AS wl,
    coalesce(nullif(ol.height, 0), a.height)::float8 AS hl,
    coalesce(nullif(orr.width, 0), a.width)::float8 AS wr,
    coalesce(nullif(orr.height, 0), a.height)::float8 AS hr,
    a.width::float8 / a.height::float8 AS aspect,
    ol.id IS NULL OR orr.id IS NULL AS missing) o
CROSS JOIN LATERAL (SELECT
    CASE WHEN o.missing THEN 0.0::float8 ELSE greatest(-120.0::float8, least(120.0::float8,
        coalesce(ol.latency_s, 0.0) - coalesce(orr.latency_s, 0.0))) END AS x_lat,
    CASE WHEN o.missing THEN 0.0::float8 ELSE ln((o.wl * o.hl) / (o.wr * o.hr)) END AS x_pix,
    CASE WHEN o.missing THEN 0.0::float8
         ELSE abs(ln((o.wl / o.hl) / o.aspect)) - abs(ln((o.wr / o.hr) / o.aspect)) END AS x_asp) s
WHERE v.is_valid {where}
"""

_PAIR_KEY = "arena_id, category, left_id, right_id, choice, probability"
_STYLE_KEY = "arena_id, left_id, right_id, choice, probability, bin_latency, bin_pixels, bin_aspect"
_STYLE_VALUES = (
    "votes, sum_latency, sum_pixels, sum_aspect, min_latency, max_latency, "
    "min_pixels, max_pixels, min_aspect, max_aspect"
)


def _pair_upsert(source: str) -> str:
    return f"""
INSERT INTO leaderboards_paircell AS c ({_PAIR_KEY}, votes)
SELECT arena_id, category, left_id, right_id, choice, p, sum(sign)
FROM ({source}) d GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(sign) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT ({_PAIR_KEY}) DO UPDATE SET votes = c.votes + EXCLUDED.votes;
"""


def _style_upsert(source: str) -> str:
    def fresh_or(column: str, merged: str) -> str:
        # a cell back from zero votes starts afresh (no stale bounds, no round-off in sums)
        return f"{column} = CASE WHEN c.votes <= 0 THEN EXCLUDED.{column} ELSE {merged} END"

    merges = ", ".join(
        [
            fresh_or(f"sum_{k}", f"c.sum_{k} + EXCLUDED.sum_{k}")
            for k in ("latency", "pixels", "aspect")
        ]
        + [
            fresh_or(f"{f}_{k}", f"{g}(c.{f}_{k}, EXCLUDED.{f}_{k})")
            for k in ("latency", "pixels", "aspect")
            for f, g in (("min", "least"), ("max", "greatest"))
        ]
    )
    return f"""
INSERT INTO leaderboards_stylecell AS c ({_STYLE_KEY}, {_STYLE_VALUES})
SELECT arena_id, left_id, right_id, choice, p, bl, bp, ba, sum(sign), sum(sign * x_lat),
       sum(sign * x_pix), sum(sign * x_asp), min(x_lat), max(x_lat), min(x_pix), max(x_pix),
       min(x_asp), max(x_asp)
FROM ({source}) d GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING sum(sign) <> 0
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
ON CONFLICT ({_STYLE_KEY}) DO UPDATE SET votes = c.votes + EXCLUDED.votes, {merges};
"""


def _contribution(
    votes: str, *, sign: int, prompts: str = "battles_prompt", where: str = ""
) -> str:
    return _CONTRIBUTION.format(votes=votes, prompts=prompts, sign=sign, where=where)


_CHANGED = (
    "(SELECT {side}.* FROM old_votes o JOIN new_votes n ON n.id = o.id "
    "WHERE (o.is_valid, o.choice, o.battle_id) IS DISTINCT FROM "
    "(n.is_valid, n.choice, n.battle_id))"
)
_VOTES_CHANGED = (
    _contribution(_CHANGED.format(side="o"), sign=-1)
    + " UNION ALL "
    + _contribution(_CHANGED.format(side="n"), sign=1)
)
_PROMPT_VOTES = (
    "(SELECT v.* FROM votes_vote v JOIN battles_battle b ON b.id = v.battle_id "
    "JOIN old_prompts op ON op.id = b.prompt_id JOIN new_prompts np "
    "ON np.id = op.id WHERE op.category IS DISTINCT FROM np.category)"
)
_PROMPTS_CHANGED = (
    _contribution(_PROMPT_VOTES, sign=-1, prompts="old_prompts")
    + " UNION ALL "
    + _contribution(_PROMPT_VOTES, sign=1, prompts="new_prompts")
)


def _function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND\n$fn$;\n"
    )


INSTALL_SQL = "".join(
    [
        _function(
            "arena_cells_votes_inserted",
            _pair_upsert(_contribution("new_votes", sign=1))
            + _style_upsert(_contribution("new_votes", sign=1)),
        ),
        _function(
            "arena_cells_votes_deleted",
            _pair_upsert(_contribution("old_votes", sign=-1))
            + _style_upsert(_contribution("old_votes", sign=-1)),
        ),
        _function(
            "arena_cells_votes_updated",
            _pair_upsert(_VOTES_CHANGED) + _style_upsert(_VOTES_CHANGED),
        ),
        _function("arena_cells_prompts_updated", _pair_upsert(_PROMPTS_CHANGED)),
        _function("arena_cells_arena_resized", "PERFORM arena_cells_recount_style(NEW.id);"),
        """
CREATE OR REPLACE FUNCTION arena_cells_recount_style(arena bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
DELETE FROM leaderboards_stylecell WHERE arena_id = arena;
"""
        + _style_upsert(_contribution("votes_vote", sign=1, where="AND b.arena_id = arena"))
        + """
END
$fn$;
DROP TRIGGER IF EXISTS arena_cells_votes_inserted ON votes_vote;
CREATE TRIGGER arena_cells_votes_inserted AFTER INSERT ON votes_vote
    REFERENCING NEW TABLE AS new_votes FOR EACH STATEMENT
    EXECUTE FUNCTION arena_cells_votes_inserted();
DROP TRIGGER IF EXISTS arena_cells_votes_deleted ON votes_vote;
CREATE TRIGGER arena_cells_votes_deleted AFTER DELETE ON votes_vote
    REFERENCING OLD TABLE AS old_votes FOR EACH STATEMENT
    EXECUTE FUNCTION arena_cells_votes_deleted();
DROP TRIGGER IF EXISTS arena_cells_votes_updated ON votes_vote;
CREATE TRIGGER arena_cells_votes_updated AFTER UPDATE ON votes_vote
    REFERENCING OLD TABLE AS old_votes NEW TABLE AS new_votes FOR EACH STATEMENT
    EXECUTE FUNCTION arena_cells_votes_updated();
DROP TRIGGER IF EXISTS arena_cells_prompts_updated ON battles_prompt;
CREATE TRIGGER arena_cells_prompts_updated AFTER UPDATE ON battles_prompt
    REFERENCING OLD TABLE AS old_prompts NEW TABLE AS new_prompts FOR EACH STATEMENT
    EXECUTE FUNCTION arena_cells_prompts_updated();
DROP TRIGGER IF EXISTS arena_cells_arena_resized ON battles_arena;
CREATE TRIGGER arena_cells_arena_resized AFTER UPDATE OF width, height ON battles_arena
    FOR EACH ROW WHEN (OLD.width IS DISTINCT FROM NEW.width
                       OR OLD.height IS DISTINCT FROM NEW.height)
    EXECUTE FUNCTION arena_cells_arena_resized();
""",
    ]
)

UNINSTALL_SQL = """
DROP TRIGGER IF EXISTS arena_cells_votes_inserted ON votes_vote;
DROP TRIGGER IF EXISTS arena_cells_votes_deleted ON votes_vote;
DROP TRIGGER IF EXISTS arena_cells_votes_updated ON votes_vote;
DROP TRIGGER IF EXISTS arena_cells_prompts_updated ON battles_prompt;
DROP TRIGGER IF EXISTS arena_cells_arena_resized ON battles_arena;
DROP FUNCTION IF EXISTS arena_cells_votes_inserted();
DROP FUNCTION IF EXISTS arena_cells_votes_deleted();
DROP FUNCTION IF EXISTS arena_cells_votes_updated();
DROP FUNCTION IF EXISTS arena_cells_prompts_updated();
DROP FUNCTION IF EXISTS arena_cells_arena_resized();
DROP FUNCTION IF EXISTS arena_cells_recount_style(bigint);
"""


def maintained() -> bool:
    """Whether this database keeps the cells (PostgreSQL; elsewhere the refresh groups the
    votes itself)."""
    return connection.vendor == "postgresql"


def _bins_wanted() -> tuple[list[float], float]:
    return (
        [float(e) for e in sorted(settings.ARENA_STYLE_LATENCY_EDGES_S)],
        float(settings.ARENA_STYLE_SIZE_STEP),
    )


def cells_rebuild(arena_ids: Sequence[int] | None = None) -> None:
    """Recount the cells of these arenas (all when None) from their counted votes, with the
    style bins of the settings; votes arriving meanwhile wait for it (the cell tables are
    locked), then count on top. One scan of the votes, two grouping sets."""
    edges, step = _bins_wanted()
    where = "" if arena_ids is None else "AND b.arena_id = ANY(%(arenas)s)"
    source = _contribution("votes_vote", sign=1, where=where)
    arenas = None if arena_ids is None else [int(a) for a in arena_ids]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "LOCK TABLE leaderboards_paircell, leaderboards_stylecell, "
            "leaderboards_cellbins IN EXCLUSIVE MODE"
        )
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            "INSERT INTO leaderboards_cellbins (id, latency_edges, size_step) "
            "VALUES (1, %s::jsonb, %s) ON CONFLICT (id) DO UPDATE SET "
            "latency_edges = EXCLUDED.latency_edges, size_step = EXCLUDED.size_step",
            [_json(edges), step],
        )
        scope = "" if arenas is None else " WHERE arena_id = ANY(%(arenas)s)"
        params = None if arenas is None else {"arenas": arenas}
        cursor.execute("DELETE FROM leaderboards_paircell" + scope, params)
        cursor.execute("DELETE FROM leaderboards_stylecell" + scope, params)
        cursor.execute(
            f"""
CREATE TEMP TABLE arena_cells_recount ON COMMIT DROP AS
SELECT GROUPING(category) AS by_style, arena_id, category, left_id, right_id, choice, p,
       bl, bp, ba, count(*) AS n, sum(x_lat) AS s_lat, sum(x_pix) AS s_pix,
       sum(x_asp) AS s_asp, min(x_lat) AS lo_lat, max(x_lat) AS hi_lat, min(x_pix) AS lo_pix,
       max(x_pix) AS hi_pix, min(x_asp) AS lo_asp, max(x_asp) AS hi_asp
FROM ({source}) d
GROUP BY GROUPING SETS ((arena_id, category, left_id, right_id, choice, p),
                        (arena_id, left_id, right_id, choice, p, bl, bp, ba))
""",
            params,
        )
        cursor.execute(f"""
INSERT INTO leaderboards_paircell ({_PAIR_KEY}, votes)
SELECT arena_id, category, left_id, right_id, choice, p, n FROM arena_cells_recount
WHERE by_style = 0""")
        cursor.execute(f"""
INSERT INTO leaderboards_stylecell ({_STYLE_KEY}, {_STYLE_VALUES})
SELECT arena_id, left_id, right_id, choice, p, bl, bp, ba, n, s_lat, s_pix, s_asp, lo_lat,
       hi_lat, lo_pix, hi_pix, lo_asp, hi_asp FROM arena_cells_recount WHERE by_style = 1""")
        cursor.execute("DROP TABLE arena_cells_recount")
    logger.info("recounted the vote cells of %s", "every arena" if arenas is None else arenas)


def bins_current() -> bool:
    """Whether the maintained style cells use the style bins of the settings."""
    from arena.leaderboards.models import CellBins

    row = CellBins.objects.filter(pk=1).values_list("latency_edges", "size_step").first()
    if row is None:
        return False
    edges, step = _bins_wanted()
    return [float(e) for e in row[0]] == edges and float(row[1]) == step


def _json(values: list[float]) -> str:
    import json

    return json.dumps(values)
