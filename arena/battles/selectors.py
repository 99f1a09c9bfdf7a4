"""Reads: what voters and pages may see. Nothing here names a model before the vote."""

from __future__ import annotations

import re
import uuid
from typing import Any, cast

from django.db.models import Model, Prefetch, QuerySet
from django.urls import reverse

from arena.battles.errors import FailureCode, NotFound
from arena.battles.models import (
    Arena,
    Battle,
    BattleMode,
    BattleStatus,
    Contender,
    Output,
    OutputStatus,
    Prompt,
    Provider,
    RevealPolicy,
    Side,
)
from arena.battles.signals import vote_reason_words
from arena.rows import Loaded, RowsRead, Together, lock_of, primary_key, run_together, table

SIDE_LABELS = {Side.LEFT: "A", Side.RIGHT: "B"}
# What secrets.token_urlsafe makes (output and share tokens). Anything else is no token: a NUL
# byte would even make PostgreSQL refuse the query (a 500 instead of the 404 of a missing link).
TOKEN_SHAPE = re.compile(r"[-_A-Za-z0-9]{1,64}")


def token_or_empty(token: object) -> str:
    return token if isinstance(token, str) and TOKEN_SHAPE.fullmatch(token) else ""


def _arena_from() -> str:
    return f"FROM {table(Arena)} a WHERE a.slug = %s AND a.is_active"


_ARENA_BY_SLUG = RowsRead(((Arena, "a", None),), _arena_from)


def arena_get(*, slug: str) -> Arena:
    """An active arena (read on every battle and page: a prepared statement, arena.rows)."""
    found = _ARENA_BY_SLUG.row([slug]) if isinstance(slug, str) else None
    arena = cast(Arena | None, found[0][0]) if found else None
    if arena is None:
        raise NotFound(f"There is no arena called '{slug}'.")
    return arena


def arenas_list() -> list[Arena]:
    return list(Arena.objects.filter(is_active=True))


def _battles() -> QuerySet[Battle]:
    return Battle.objects.select_related("arena", "prompt", "left", "right").prefetch_related(
        Prefetch("outputs", queryset=Output.objects.order_by("side"))
    )


def outputs_attach(battle: Battle, outputs: list[Output]) -> Battle:
    """Give the battle the outputs already in hand, in `_battles()`'s order, as if they were
    prefetched (`battle.outputs.all()` reads them without a query), as Django's own
    prefetching stores them."""
    queryset = battle.outputs.all()
    queryset._result_cache = sorted(outputs, key=lambda o: o.side)
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    cache = getattr(battle, "_prefetched_objects_cache", None)
    if cache is None:
        cache = battle._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    cache["outputs"] = queryset
    return battle


def battle_owned_id(*, battle_id: object, voter_id: str) -> uuid.UUID:
    """The id of the voter's own battle, checked with one narrow query (a WebSocket checks
    ownership before joining the battle's group, and reads the state once joined); anyone
    else's reads as missing, like in `battle_get_owned`."""
    pk = uuid_or_none(battle_id)
    found = _BATTLE_OWNED.row([primary_key(Battle, pk), voter_id]) if pk and voter_id else None
    if found is None:
        raise NotFound("There is no such battle.")
    return cast(Battle, found[0][0]).pk


_BATTLE_OWNED = RowsRead(
    ((Battle, "b", ("id",)),), lambda: f"FROM {table(Battle)} b WHERE b.id = %s AND b.voter_id = %s"
)


def _battle_from(where: str, *, lock: bool = False) -> str:
    return (
        f"FROM {table(Battle)} b JOIN {table(Arena)} a ON a.id = b.arena_id "
        f"JOIN {table(Prompt)} p ON p.id = b.prompt_id WHERE {where}"
        + (lock_of("b") if lock else "")
    )


def _outputs_from(*, lock: bool = False, of_output: bool = False) -> str:
    # by id: the order in which every writer of a battle's outputs locks them
    battle = f"(SELECT s.battle_id FROM {table(Output)} s WHERE s.id = %s)" if of_output else "%s"
    return (
        f"FROM {table(Output)} o LEFT JOIN {table(Contender)} c ON c.id = o.contender_id "
        f"LEFT JOIN {table(Provider)} pv ON pv.id = c.provider_id "
        f"WHERE o.battle_id = {battle} ORDER BY o.id" + (lock_of("o") if lock else "")
    )


def _output_battle() -> str:
    return f"b.id = (SELECT o.battle_id FROM {table(Output)} o WHERE o.id = %s)"


_BATTLE_PARTS = ((Battle, "b", None), (Arena, "a", None), (Prompt, "p", None))
_OUTPUT_PARTS = ((Output, "o", None), (Contender, "c", None), (Provider, "pv", None))
_BATTLE_BY_ID = RowsRead(_BATTLE_PARTS, lambda: _battle_from("b.id = %s"))
# the owner is part of the read: another voter's battle costs what a missing one does (one
# statement that finds nothing), so not even the time of its 404 tells that it exists
_BATTLE_OWNED_BY_ID = RowsRead(_BATTLE_PARTS, lambda: _battle_from("b.id = %s AND b.voter_id = %s"))
_BATTLE_OF_OUTPUT = RowsRead(_BATTLE_PARTS, lambda: _battle_from(_output_battle()))
_BATTLE_OF_OUTPUT_LOCKED = RowsRead(
    _BATTLE_PARTS, lambda: _battle_from(_output_battle(), lock=True)
)
_OUTPUTS = RowsRead(_OUTPUT_PARTS, _outputs_from)
_OUTPUTS_OF_OUTPUT = RowsRead(_OUTPUT_PARTS, lambda: _outputs_from(of_output=True))
_OUTPUTS_OF_OUTPUT_LOCKED = RowsRead(
    _OUTPUT_PARTS, lambda: _outputs_from(lock=True, of_output=True)
)


def _battle_loaded(read: RowsRead, *params: object) -> Battle | None:
    """A battle with its arena, prompt and outputs (each with its contender and provider),
    and both contenders taken from its outputs: two prepared statements (arena.rows), where
    the ORM's select_related and prefetch cost more Python time to build than to run."""
    found = read.row(params)
    if found is None:
        return None
    battle_id = cast(Battle, found[0][0]).pk
    return _battle_assembled(found, _OUTPUTS.rows([primary_key(Battle, battle_id)]))


def _battle_assembled(found: tuple[list[Any], list[Any]], output_rows: Loaded) -> Battle:
    (battle, arena, prompt), _ = found
    battle = cast(Battle, battle)
    battle.arena, battle.prompt = cast(Arena, arena), cast(Prompt, prompt)
    outputs = []
    for (output, contender, provider), _ in output_rows:
        output = cast(Output, output)
        if contender is not None:
            cast(Contender, contender).provider = cast(Provider, provider)
        output.contender = cast(Contender | None, contender)
        output.battle = battle
        outputs.append(output)
        if contender is not None and output.contender_id == battle.left_id:
            battle.left = cast(Contender, contender)
        elif contender is not None and output.contender_id == battle.right_id:
            battle.right = cast(Contender, contender)
    return outputs_attach(battle, outputs)


def battle_of_output_reads(
    output_id: int, *, lock: bool = False
) -> tuple[tuple[RowsRead, list[object]], tuple[RowsRead, list[object]]]:
    """The two reads of `battle_of_output`, for `arena.rows.run_together` (a caller may send
    its own statements with them); `battle_of_output_assembled` makes their rows a battle."""
    if lock:
        return (_BATTLE_OF_OUTPUT_LOCKED, [output_id]), (_OUTPUTS_OF_OUTPUT_LOCKED, [output_id])
    return (_BATTLE_OF_OUTPUT, [output_id]), (_OUTPUTS_OF_OUTPUT, [output_id])


def battle_of_output_assembled(battle_rows: Together, output_rows: Together) -> Battle | None:
    if not isinstance(battle_rows, list) or not isinstance(output_rows, list):
        raise TypeError("expected the rows of battle_of_output_reads")
    return _battle_assembled(battle_rows[0], output_rows) if battle_rows else None


def battle_of_output(output_id: int, *, lock: bool = False) -> Battle | None:
    """The battle of this output, loaded as `_battle_loaded` says (None if there is none),
    both reads sent at once. With `lock`, the battle's row is locked first, then its
    outputs' rows (read after the battle's lock is held, so they are the versions committed
    by whoever held it before)."""
    return battle_of_output_assembled(*run_together(*battle_of_output_reads(output_id, lock=lock)))


def battle_get(*, battle_id: object) -> Battle:
    """Any battle, for services and operators; what a voter may read goes through
    battle_get_owned or battle_get_shared."""
    # an id from a URL or a task: Django validates it (a bad one is ValidationError)
    battle = _battle_loaded(_BATTLE_BY_ID, primary_key(Battle, battle_id))
    if battle is None:
        raise NotFound("There is no such battle.")
    return battle


def uuid_or_none(value: object) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def battle_get_owned(*, battle_id: object, voter_id: str) -> Battle:
    """The voter's own battle. Another voter's battle reads exactly like a missing one (same
    404, same message), so a leaked or guessed id reveals neither the prompt nor that the
    battle exists."""
    pk = uuid_or_none(battle_id)
    battle = (
        _battle_loaded(_BATTLE_OWNED_BY_ID, primary_key(Battle, pk), voter_id)
        if pk and voter_id
        else None
    )
    if battle is None or battle.voter_id != voter_id:
        raise NotFound("There is no such battle.")
    return battle


def battle_get_shared(*, token: str) -> Battle:
    """A battle its voter chose to share (only voted battles can be); revoked reads as
    missing."""
    battle = None
    if token := token_or_empty(token):
        battle = (
            _battles()
            .select_related("vote")
            .filter(share_token=token, status=BattleStatus.VOTED)
            .first()
        )
    if battle is None:
        raise NotFound("There is no such shared battle (the link may have been revoked).")
    return battle


def output_get_owned(*, token: str, voter_id: str, staff: bool = False) -> Output:
    """A ready output file for the voter who owns its battle (or staff); else missing."""
    output = None
    if token := token_or_empty(token):
        output = (
            Output.objects.select_related("battle")
            .filter(token=token, status=OutputStatus.READY)
            .exclude(file="")
            .first()
        )
    if output is None or not (staff or (voter_id and output.battle.voter_id == voter_id)):
        raise NotFound("No such output.")
    return output


def output_get_shared(*, share_token: str, side: str) -> Output:
    """One side's file of a shared battle, reachable through the share token only."""
    output = None
    if (share_token := token_or_empty(share_token)) and side in Side.values:
        output = (
            Output.objects.filter(
                battle__share_token=share_token,
                battle__status=BattleStatus.VOTED,
                side=side,
                status=OutputStatus.READY,
            )
            .exclude(file="")
            .first()
        )
    if output is None:
        raise NotFound("No such output.")
    return output


def output_url(output: Output) -> str:
    return reverse("output-file", kwargs={"token": output.token})


def output_poster_url(output: Output) -> str:
    return reverse("output-poster", kwargs={"token": output.token})


def arena_contenders(*, arena: Arena) -> list[Contender]:
    """The models an arena's battles are drawn from now (enabled, with an enabled provider)."""
    return list(
        Contender.objects.filter(arenas=arena, enabled=True, provider__enabled=True)
        .select_related("provider")
        .order_by("name")
    )


def contenders_playing(*, arena: Arena) -> list[Contender]:
    """The models the sampler draws from now: enabled, with an enabled provider, not paused
    (by id: the order the sampler's probabilities are computed in)."""
    playing = []
    for (contender, provider), _ in _CONTENDERS_PLAYING.rows([arena.pk]):
        contender = cast(Contender, contender)
        contender.provider = cast(Provider, provider)
        playing.append(contender)
    return playing


def _contenders_playing_from() -> str:
    member = cast("type[Model]", Contender.arenas.through)  # the m2m's table
    return (
        f"FROM {table(Contender)} c JOIN {table(Provider)} pv ON pv.id = c.provider_id "
        f"WHERE c.enabled AND pv.enabled AND c.paused_at IS NULL AND c.id IN "
        f"(SELECT m.contender_id FROM {table(member)} m WHERE m.arena_id = %s) ORDER BY c.id"
    )


_CONTENDERS_PLAYING = RowsRead(
    ((Contender, "c", None), (Provider, "pv", None)), _contenders_playing_from
)


def arena_contender_get(*, arena: Arena, contender_id: object) -> Contender:
    """One model that plays (or played) in the arena; anything else is a 404."""
    contender = None
    if isinstance(contender_id, int) or (
        isinstance(contender_id, str) and contender_id.isdigit() and len(contender_id) < 12
    ):
        contender = (
            Contender.objects.filter(arenas=arena, pk=int(contender_id))
            .select_related("provider")
            .first()
        )
    if contender is None:
        raise NotFound("There is no such model in this arena.")
    return contender


def contender_listing(contender: Contender) -> dict[str, object]:
    """A model as GET /api/arenas/{slug}/models lists it (public facts only)."""
    return {
        "id": contender.pk,
        "name": contender.name,
        "organization": contender.organization,
        "license": contender.license,
        "link": contender.link,
        "demo": contender.is_demo,
    }


def contender_public(contender: Contender) -> dict[str, object]:
    return {
        "name": contender.name,
        "organization": contender.organization,
        "demo": contender.is_demo,
    }


def battle_state(battle: Battle) -> dict[str, object]:
    """The public shape of a battle, the same for the API, the page and WebSocket pushes.

    With the "together" reveal policy nothing per side shows until both are ready: while the
    battle runs, both sides read the battle's own status (so neither which task started first
    nor which finished first shows), and a ready side reads "generating" until the other is
    ready too, so speed cannot betray a model. Once a side failed the battle is over and says
    which side failed.
    """
    outputs = sorted(battle.outputs.all(), key=lambda o: o.side != Side.LEFT)
    all_ready = bool(outputs) and all(o.status == OutputStatus.READY for o in outputs)
    hold_back = battle.arena.reveal_policy == RevealPolicy.TOGETHER and not all_ready
    running = battle.status in (BattleStatus.PENDING, BattleStatus.GENERATING)
    shown = []
    for output in outputs:
        status = output.status
        visible = status == OutputStatus.READY and not hold_back
        if hold_back and running:
            status = battle.status  # one identical status for both sides
        elif status == OutputStatus.READY and hold_back:
            status = OutputStatus.GENERATING
        shown.append(
            {
                "side": output.side,
                "label": SIDE_LABELS[Side(output.side)],
                "status": status,
                "url": output_url(output) if visible else None,
                "content_type": output.content_type if visible else None,
                "poster": output_poster_url(output) if visible and output.poster else None,
                "text": output.text if visible and output.text else None,
            }
        )
    state: dict[str, object] = {
        "id": str(battle.id),
        "arena": battle.arena.slug,
        "modality": battle.arena.modality,
        "status": battle.status,
        "prompt": battle.prompt.text,
        "params": battle.params or {},
        # image editing: the voter's own upload (private to them, like the outputs)
        "source_image": f"/u/{battle.source_image_id}" if battle.source_image_id else None,
        "mode": battle.mode,
        # A side-by-side voter chose both models: their names show from the start.
        "models": (
            {"left": contender_public(battle.left), "right": contender_public(battle.right)}
            if battle.mode == BattleMode.SIDE_BY_SIDE
            else None
        ),
        "outputs": shown,
        "failure": battle.failure_reason or None,
        "vote": None,
        "reveal": None,
    }
    if battle.status == BattleStatus.VOTED:
        vote = getattr(battle, "vote", None)
        # Only the battle's own voter reads this state (API, page, WebSocket): whether the vote
        # counted, and why not, is for them alone (the share page never says).
        state["vote"] = (
            {
                "choice": vote.choice,
                "counted": vote.is_valid,
                "not_counted_reason": _voter_reason(vote.invalid_reason),
            }
            if vote
            else None
        )
        state["reveal"] = {
            "left": contender_public(battle.left),
            "right": contender_public(battle.right),
        }
    return state


def _voter_reason(reason: str) -> str | None:
    """The votes app's words for why a vote did not count (it answers the signal: votes
    depend on battles, not the reverse)."""
    for _, words in vote_reason_words.send(sender=None, reason=reason):
        if words is not None:
            return str(words)
    return None


def provider_health(*, hours: float = 1.0) -> dict[int, dict[str, object]]:
    """Per provider: last successful output and the error rate over the recent window."""
    from datetime import timedelta

    from django.db.models import Count, Max, Q
    from django.utils import timezone

    since = timezone.now() - timedelta(hours=hours)
    finished = Output.objects.filter(
        contender__isnull=False, status__in=[OutputStatus.READY, OutputStatus.FAILED]
    ).exclude(error_code=FailureCode.CANCELLED)  # skipped because the other side failed
    last = dict(
        finished.filter(status=OutputStatus.READY)
        .values_list("contender__provider")
        .annotate(at=Max("finished_at"))
    )
    recent = (
        finished.filter(finished_at__gte=since)
        .values("contender__provider")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(status=OutputStatus.FAILED)))
    )
    health: dict[int, dict[str, object]] = {
        pid: {"last_success": at, "total": 0, "failed": 0, "error_rate": None}
        for pid, at in last.items()
    }
    for row in recent:
        entry = health.setdefault(row["contender__provider"], {"last_success": None})
        entry.update(
            total=row["total"],
            failed=row["failed"],
            error_rate=row["failed"] / row["total"] if row["total"] else None,
        )
    return health


def costs_by_day(*, days: int = 30) -> list[dict[str, Any]]:
    """Generation cost and output count per day and contender (operators' cost report),
    outputs made in advance for instant battles included: those a battle took are counted
    as its outputs, the others (still in stock, or withdrawn unserved) on their own."""
    from datetime import timedelta

    from django.db.models import Count, Sum
    from django.db.models.functions import TruncDate
    from django.utils import timezone

    from arena.battles.models import InstantOutput

    since = timezone.now() - timedelta(days=days)
    fields = ("day", "contender__name", "contender__provider__name")
    totals: dict[tuple[Any, ...], dict[str, Any]] = {}
    made = (
        Output.objects.filter(contender__isnull=False, finished_at__gte=since),
        # made (a result stored) but taken by no battle
        InstantOutput.objects.filter(consumed_at__isnull=True, finished_at__gte=since).exclude(
            params_used={}
        ),
    )
    for queryset in made:
        rows = (
            queryset.annotate(day=TruncDate("finished_at"))
            .values(*fields)
            .annotate(outputs=Count("id"), cost=Sum("cost"))
            .order_by()
        )
        for row in rows:
            key = tuple(row[f] for f in fields)
            total = totals.setdefault(key, {**{f: row[f] for f in fields}, "outputs": 0})
            total["outputs"] += row["outputs"]
            if row["cost"] is not None:
                total["cost"] = total.get("cost", 0) + row["cost"]
    for total in totals.values():
        total.setdefault("cost", None)
    return sorted(totals.values(), key=lambda r: (-r["day"].toordinal(), r["contender__name"]))
