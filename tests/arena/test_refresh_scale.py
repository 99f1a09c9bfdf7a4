"""The leaderboard refresh at scale (issue 10): pair counts from the database, the same boards
as the per-vote pipeline, a query count that does not grow with votes, snapshots served with
ETags, and a refresh lock that cannot expire under a running refresh."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arena.battles.models import (
    Arena,
    Contender,
    Prompt,
)
from arena.leaderboards import cells as lb_cells
from arena.leaderboards import refresh, services
from arena.leaderboards.locks import refresh_lock
from arena.leaderboards.models import LeaderboardSnapshot
from arena.votes.detector import _assess_columns, _assess_one_by_one, _voter_ids
from arena.votes.models import Choice, EloRating, InvalidReason, Vote
from arena.votes.services import elo_rebuild
from arena.votes.stream import counted_vote_columns
from tests.arena import refresh_oracle
from tests.arena.votes_factory import (
    LATENCIES,
    add_votes,
    cast_concurrently,
    make_arena,
    ready_battles,
    recount,
)

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the production path (COPY, advisory lock, concurrent writers) is PostgreSQL's",
)


def _latency_edges() -> list[float]:
    """Bin edges between every possible latency difference, so each bin holds one value and
    the binned fit must equal the per-vote fit exactly."""
    diffs = sorted({a - b for a in LATENCIES for b in LATENCIES})
    return [(lo + hi) / 2 for lo, hi in zip(diffs, diffs[1:], strict=False)]


def cells_as_counter(arena: Arena) -> Counter[tuple[str, str, str, str]]:
    categories = lb_cells.arena_categories()
    cells, _ = lb_cells.cells_fetch(arena=arena, categories=categories, style=False, ipw=False)
    names = dict(Contender.objects.values_list("pk", "name"))
    choice = {code: c for c, code in lb_cells.OUTCOME_OF_CHOICE.items()}
    out: Counter[tuple[str, str, str, str]] = Counter()
    for left, right, outcome, n, g in zip(
        cells.left, cells.right, cells.outcome, cells.count, cells.group, strict=True
    ):
        out[
            (categories[g] if g >= 0 else "", names[left], names[right], str(choice[int(outcome)]))
        ] += int(n)
    return out


@pytest.fixture
def rounds(settings: Any) -> int:
    settings.ARENA_BOOTSTRAP_ROUNDS = 60
    settings.ARENA_STYLE_BOOTSTRAP_ROUNDS = 60
    settings.ARENA_STYLE_LATENCY_EDGES_S = _latency_edges()
    return 60


def test_pair_counts_equal_a_recount_after_exclusions_and_deletions(db: None, rounds: int) -> None:
    arena, models = make_arena()
    votes = add_votes(arena, models, 600, seed=1)
    assert cells_as_counter(arena) == recount(arena)
    Vote.objects.filter(pk__in=[v.pk for v in votes[::7]]).update(
        is_valid=False, invalid_reason=InvalidReason.FLAGGED_VOTER
    )
    Vote.objects.filter(pk__in=[v.pk for v in votes[1::11]]).delete()
    Prompt.objects.filter(pk=votes[2].battle.prompt_id).update(category="renamed")
    assert cells_as_counter(arena) == recount(arena)
    services.leaderboard_compute(arena=arena)
    board = LeaderboardSnapshot.objects.get(arena=arena, category="")
    assert board.votes == sum(recount(arena).values())
    for category in ("animals", "renamed"):
        snap = LeaderboardSnapshot.objects.get(arena=arena, category=category)
        assert snap.votes == sum(n for key, n in recount(arena).items() if key[0] == category)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_pair_counts_equal_a_recount_after_concurrent_votes(rounds: int) -> None:
    arena, models = make_arena(slug="concurrent")
    battles = ready_battles(arena, models, 80, voters=8)
    # a refresh while votes land: it must not break or lose any
    errors = cast_concurrently(
        battles, threads=4, alongside=[lambda: services.leaderboard_refresh(arena_id=arena.pk)]
    )
    assert not errors
    assert Vote.objects.filter(battle__arena=arena).count() == 80
    assert cells_as_counter(arena) == recount(arena)
    assert services.leaderboard_refresh(arena_id=arena.pk)
    assert LeaderboardSnapshot.objects.filter(arena=arena, category="").latest("pk").votes == sum(
        recount(arena).values()
    )


def _style_with_sequential_draws(
    arena: Arena, names: list[str], both_bad_counts: bool, rounds: int
) -> Any:
    from ratings.aggregate import style_from_cells

    _, cells = lb_cells.cells_fetch(arena=arena, categories=[], style=True, ipw=False)
    assert cells is not None and cells.x is not None
    position = {
        pk: names.index(name)
        for pk, name in Contender.objects.filter(arenas=arena).values_list("pk", "name")
    }
    return style_from_cells(
        names,
        [position[pk] for pk in cells.left],
        [position[pk] for pk in cells.right],
        cells.outcome,
        cells.count,
        cells.x,
        names=list(lb_cells.STYLE_COVARIATES),
        both_bad="tie" if both_bad_counts else "exclude",
        bootstrap_rounds=rounds,
        seed=0,
        sequential_draws=True,
    )


@pytest.mark.parametrize("both_bad_counts", [True, False])
def test_refreshed_boards_equal_the_per_vote_pipeline(
    db: None, rounds: int, settings: Any, both_bad_counts: bool
) -> None:
    arena, models = make_arena()
    Arena.objects.filter(pk=arena.pk).update(both_bad_counts_as_tie=both_bad_counts)
    arena.refresh_from_db()
    add_votes(arena, models, 3000, seed=7)
    names = sorted(m.name for m in models)
    expected = refresh_oracle.boards(arena=arena, names=names, rounds=rounds, style=True)
    contenders = {c.name: c for c in Contender.objects.filter(arenas=arena)}
    boards, got_names, _ = refresh.compute_boards(arena=arena, contenders=contenders, phases={})
    assert got_names == names
    assert [b.category for b in boards] == ["", "animals", "space"]
    for board in boards:
        old, old_elo, old_votes = expected[board.category]
        new = board.leaderboard
        assert board.votes == old_votes
        assert new is not None and old is not None
        assert [r.model for r in new.rows] == [r.model for r in old.rows]
        for a, b in zip(old.rows, new.rows, strict=True):
            assert a.rank == b.rank
            assert (a.votes, a.wins, a.ties, a.losses) == (b.votes, b.wins, b.ties, b.losses)
            for name in ("rating", "ci_low", "ci_high", "win_rate", "avg_win_prob"):
                assert getattr(b, name) == pytest.approx(getattr(a, name), abs=1e-6), name
        np.testing.assert_array_equal(new.battle_counts, old.battle_counts)
        elo = dict(zip(names, board.elo.tolist(), strict=True))
        for name, rating in old_elo.items():
            assert elo[name] == pytest.approx(rating, abs=1e-6)
        if board.category == "":
            assert new.style is not None and old.style is not None
            assert new.style.covariate_names == old.style.covariate_names
            assert len(new.style.covariate_names) == 3
            # The per-vote fit's Newton stops on a flat optimum: equal to ~1e-8 natural units.
            np.testing.assert_allclose(new.style.ratings, old.style.ratings, atol=1e-4)
            np.testing.assert_allclose(new.style.coefficients, old.style.coefficients, atol=1e-4)
            # The refresh draws its bootstrap rounds all at once (same distribution, another
            # stream); with the per-vote fit's own draws the intervals are the same.
            assert np.all(new.style.ci_low <= new.style.ratings)
            assert np.all(new.style.ratings <= new.style.ci_high)
            same_draws = _style_with_sequential_draws(arena, names, both_bad_counts, rounds)
            assert same_draws.rows == old.style.rows
            for name in (
                "ratings",
                "ci_low",
                "ci_high",
                "coefficients",
                "coef_ci_low",
                "coef_ci_high",
            ):
                np.testing.assert_allclose(
                    getattr(same_draws, name), getattr(old.style, name), atol=1e-4, err_msg=name
                )
    stored = dict(EloRating.objects.filter(arena=arena).values_list("contender__name", "rating"))
    for name, rating in expected[""][1].items():
        assert stored[name] == pytest.approx(rating, abs=1e-6)


def test_weighted_boards_equal_the_per_vote_pipeline(db: None, rounds: int, settings: Any) -> None:
    settings.ARENA_IPW = True
    arena, models = make_arena()
    add_votes(arena, models, 800, seed=3)
    contenders = {c.name: c for c in Contender.objects.filter(arenas=arena)}
    boards, names, _ = refresh.compute_boards(arena=arena, contenders=contenders, phases={})
    votes = list(
        Vote.objects.filter(battle__arena=arena, is_valid=True).values_list(
            "battle__left__name",
            "battle__right__name",
            "choice",
            "battle__sampling_probability",
            "battle_id",
        )
    )
    old = refresh_oracle.compute_leaderboard(
        [(a, b, refresh_oracle.WINNER_OF_CHOICE[Choice(c)]) for a, b, c, *_ in votes],
        bootstrap_rounds=rounds,
        seed=0,
        models=names,
        weights=[1 / v[3] for v in votes],
    )
    # the main board stays the unweighted recipe; the weighted fit sits beside it (issue 12)
    assert boards[0].leaderboard is not None and not boards[0].leaderboard.weighted
    assert boards[0].ipw is not None and boards[0].ipw["votes_without_probability"] == 0
    for a in old.rows:
        rating, low, high = boards[0].ipw_rows[a.model]
        assert rating == pytest.approx(a.rating, abs=0.006)
        assert low == pytest.approx(a.ci_low, abs=0.006)
        assert high == pytest.approx(a.ci_high, abs=0.006)


@needs_postgres
def test_refresh_query_count_does_not_grow_with_votes(
    db: None, rounds: int, django_assert_max_num_queries: Any
) -> None:
    arena, models = make_arena()
    services.leaderboard_compute(arena=arena)  # the first recounts the cells for the new bins
    counts = []
    for n in (150, 1500):
        add_votes(arena, models, n, seed=n)
        with CaptureQueriesContext(connection) as queries:
            services.leaderboard_compute(arena=arena)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(30):
        services.leaderboard_compute(arena=arena)


@needs_postgres
def test_voter_counters_flag_the_same_voters_as_one_by_one(
    db: None, rounds: int, settings: Any
) -> None:
    settings.ARENA_FLAG_MIN_VOTES = 15
    settings.ARENA_FLAG_P_VALUE = 0.05  # loose, so that both tests flag someone
    arena, models = make_arena()
    votes = add_votes(arena, models, 1500, seed=5, voter_count=30)
    bot = [v.pk for v in votes if v.voter_id == "voter-3"]
    Vote.objects.filter(pk__in=bot).update(choice=Choice.LEFT)  # always the left side
    elo_rebuild(arena=arena)  # the stored Elo the improbable-choices test uses
    ratings = dict(EloRating.objects.filter(arena=arena).values_list("contender_id", "rating"))
    for vote in Vote.objects.filter(voter_id="voter-5").select_related("battle"):
        weaker_left = ratings[vote.battle.left_id] < ratings[vote.battle.right_id]
        vote.choice = Choice.LEFT if weaker_left else Choice.RIGHT  # always the weaker model
        vote.save(update_fields=["choice"])
    columns = counted_vote_columns(arena=arena)

    def in_columns(since: Any) -> dict[str, Any]:
        verdicts = _assess_columns(columns=columns, since=since, ratings=ratings)
        names = _voter_ids(columns=columns, hashes=list(verdicts))
        assert len(names) == len(verdicts)
        return {names[h]: verdict for h, verdict in verdicts.items()}

    last = Vote.objects.filter(battle__arena=arena).latest("created_at").created_at
    for since in (
        None,
        timezone.now() - timedelta(days=2),
        last - timedelta(seconds=20),
        timezone.now(),
    ):  # all voters, all, the few of the last votes, none
        in_sql = in_columns(since)
        one_by_one = _assess_one_by_one(arena=arena, since=since, ratings=ratings)
        assert set(in_sql) == set(one_by_one)
        for voter, (reason, details) in in_sql.items():
            assert reason == one_by_one[voter][0]
            assert details["p_value"] == pytest.approx(one_by_one[voter][1]["p_value"], rel=1e-9)
    reasons = {voter: reason for voter, (reason, _) in in_columns(None).items()}
    assert reasons["voter-3"] == "always picks the same side"
    assert "choices improbable under the current ratings" in reasons.values()
    assert in_columns(timezone.now()) == {}


def test_leaderboard_page_and_api_answer_304_until_the_next_refresh(
    db: None, rounds: int, client: Any, django_assert_max_num_queries: Any
) -> None:
    arena, models = make_arena()
    add_votes(arena, models, 300, seed=2)
    services.leaderboard_compute(arena=arena)
    for url in (
        "/arena/scale/leaderboard/",
        "/arena/scale/leaderboard/?fragment=1",
        "/api/arenas/scale/leaderboard",
        "/api/arenas/scale/leaderboard?category=space",
    ):
        first = client.get(url)
        assert first.status_code == 200 and first["ETag"] and first["Last-Modified"]
        with django_assert_max_num_queries(2):  # the arena and the newest snapshot id
            again = client.get(url)
        assert again.content == first.content and again["ETag"] == first["ETag"]
        with django_assert_max_num_queries(2):
            cached = client.get(url, headers={"If-None-Match": first["ETag"]})
        assert cached.status_code == 304 and not cached.content
    page = client.get("/arena/scale/leaderboard/")
    api = client.get("/api/arenas/scale/leaderboard")
    assert page["ETag"] != api["ETag"]
    assert client.get("/api/arenas/scale/leaderboard?category=nope").status_code == 404
    add_votes(arena, models, 30, seed=9)
    services.leaderboard_compute(arena=arena)
    fresh = client.get("/api/arenas/scale/leaderboard", headers={"If-None-Match": api["ETag"]})
    assert fresh.status_code == 200 and fresh["ETag"] != api["ETag"]
    assert fresh.json()["votes"] > api.json()["votes"]


@pytest.mark.django_db(transaction=True)
def test_a_second_refresh_cannot_start_while_one_runs_past_the_old_timeout(
    monkeypatch: Any, rounds: int
) -> None:
    from django.core.cache import cache

    arena, _ = make_arena(slug="locked")
    started, release = threading.Event(), threading.Event()

    def slow_compute(*, arena: Arena) -> list[LeaderboardSnapshot]:
        started.set()
        release.wait(30)
        return []

    monkeypatch.setattr(services, "leaderboard_compute", slow_compute)
    results: list[bool] = []

    def first() -> None:
        try:
            results.append(services.leaderboard_refresh(arena_id=arena.pk))
        finally:
            connection.close()

    runner = threading.Thread(target=first)
    runner.start()
    try:
        assert started.wait(30)
        cache.clear()  # what the old 600 s cache lock did once it expired under a long refresh
        assert services.leaderboard_refresh(arena_id=arena.pk) is False
        with refresh_lock(arena.pk) as held:
            assert not held
    finally:
        release.set()
        runner.join()
    assert results == [True]
    assert services.leaderboard_refresh(arena_id=arena.pk) is True  # released when it ended


def test_the_embedded_lock_refuses_a_second_holder_and_survives_cache_loss(db: None) -> None:
    from django.core.cache import cache

    from arena.leaderboards import locks

    with locks._local_lock(41) as held:
        assert held
        cache.clear()
        with locks._local_lock(41) as second:
            assert not second
    with locks._local_lock(41) as again:
        assert again
