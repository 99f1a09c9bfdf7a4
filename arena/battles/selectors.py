"""Reads: what voters and pages may see. Nothing here names a model before the vote."""

from __future__ import annotations

from django.db.models import Prefetch
from django.urls import reverse

from arena.battles.errors import NotFound
from arena.battles.models import (
    Arena,
    Battle,
    BattleStatus,
    Contender,
    Output,
    OutputStatus,
    RevealPolicy,
    Side,
)

SIDE_LABELS = {Side.LEFT: "A", Side.RIGHT: "B"}


def arena_get(*, slug: str) -> Arena:
    arena = Arena.objects.filter(slug=slug, is_active=True).first()
    if arena is None:
        raise NotFound(f"There is no arena called '{slug}'.")
    return arena


def arenas_list() -> list[Arena]:
    return list(Arena.objects.filter(is_active=True))


def battle_get(*, battle_id: object) -> Battle:
    battle = (
        Battle.objects.select_related("arena", "prompt", "left", "right")
        .prefetch_related(Prefetch("outputs", queryset=Output.objects.order_by("side")))
        .filter(pk=battle_id)
        .first()
    )
    if battle is None:
        raise NotFound("There is no such battle.")
    return battle


def output_url(output: Output) -> str:
    return reverse("output-file", kwargs={"token": output.token})


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
                "text": output.text if visible and output.text else None,
            }
        )
    state: dict[str, object] = {
        "id": str(battle.id),
        "arena": battle.arena.slug,
        "modality": battle.arena.modality,
        "status": battle.status,
        "prompt": battle.prompt.text,
        "outputs": shown,
        "failure": battle.failure_reason or None,
        "vote": None,
        "reveal": None,
    }
    if battle.status == BattleStatus.VOTED:
        vote = getattr(battle, "vote", None)
        state["vote"] = {"choice": vote.choice} if vote else None
        state["reveal"] = {
            "left": contender_public(battle.left),
            "right": contender_public(battle.right),
        }
    return state


def provider_health(*, hours: float = 1.0) -> dict[int, dict[str, object]]:
    """Per provider: last successful output and the error rate over the recent window."""
    from datetime import timedelta

    from django.db.models import Count, Max, Q
    from django.utils import timezone

    since = timezone.now() - timedelta(hours=hours)
    finished = Output.objects.filter(
        contender__isnull=False, status__in=[OutputStatus.READY, OutputStatus.FAILED]
    ).exclude(error_code="cancelled")  # skipped because the other side failed
    last = dict(finished.filter(status=OutputStatus.READY)
                .values_list("contender__provider").annotate(at=Max("finished_at")))
    recent = (finished.filter(finished_at__gte=since).values("contender__provider")
              .annotate(total=Count("id"), failed=Count("id", filter=Q(
                  status=OutputStatus.FAILED))))
    health: dict[int, dict[str, object]] = {pid: {"last_success": at, "total": 0, "failed": 0,
                                                  "error_rate": None}
                                            for pid, at in last.items()}
    for row in recent:
        entry = health.setdefault(row["contender__provider"], {"last_success": None})
        entry.update(total=row["total"], failed=row["failed"],
                     error_rate=row["failed"] / row["total"] if row["total"] else None)
    return health


def costs_by_day(*, days: int = 30) -> list[dict[str, object]]:
    """Generation cost and output count per day and contender (operators' cost report)."""
    from datetime import timedelta

    from django.db.models import Count, Sum
    from django.db.models.functions import TruncDate
    from django.utils import timezone

    since = timezone.now() - timedelta(days=days)
    return list(
        Output.objects.filter(contender__isnull=False, finished_at__gte=since)
        .annotate(day=TruncDate("finished_at"))
        .values("day", "contender__name", "contender__provider__name")
        .annotate(outputs=Count("id"), cost=Sum("cost"))
        .order_by("-day", "contender__name")
    )
