"""Sharing a voted battle: an explicit, revocable choice of its voter.

A battle is private to its voter (see selectors.battle_get_owned). After the vote the voter may
make a share link, /s/<token>, that shows anyone the prompt, both outputs, the models' names and
the vote; revoking it makes the link (and its output URLs) read as missing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from arena.battles.errors import Conflict, NotFound
from arena.battles.models import Battle, BattleStatus, OutputStatus, Side, new_share_token
from arena.battles.selectors import SIDE_LABELS, contender_public, uuid_or_none

# What the battle page last told this voter about the export: True "prompts may be published",
# False "visible only to you". Absent for an API client that never loaded the page.
PROMPT_NOTICE_KEY = "arena_prompt_notice"


def prompt_notice_record(session: Any) -> None:
    """Remember which privacy notice the page showed (the cookie changes only with it)."""
    shown = settings.ARENA_EXPORT_PROMPTS
    if session is not None and session.get(PROMPT_NOTICE_KEY) is not shown:
        session[PROMPT_NOTICE_KEY] = shown


def prompt_publishable(session: Any) -> bool:
    """May the export publish the prompt of a battle this voter makes now? Only while the
    operator publishes prompts, and never for a voter whose page still promises privacy (a tab
    opened before the setting changed). An API client follows the setting, as documented."""
    told = session.get(PROMPT_NOTICE_KEY) if session is not None else None
    return bool(settings.ARENA_EXPORT_PROMPTS) and told is not False


@dataclass(frozen=True)
class Share:
    token: str
    url: str
    created: bool  # False: the battle was already shared and the same link comes back


def share_url(token: str) -> str:
    return reverse("share", kwargs={"token": token})


def _owned_for_update(*, battle_id: object, voter_id: str) -> Battle:
    pk = uuid_or_none(battle_id)
    battle = None
    if pk and voter_id:
        battle = Battle.objects.select_for_update().filter(pk=pk, voter_id=voter_id).first()
    if battle is None:
        raise NotFound("There is no such battle.")  # the same answer as battle_get_owned
    return battle


@transaction.atomic
def battle_share(*, battle_id: object, voter_id: str) -> Share:
    """Make (or return the existing) share link of the voter's own voted battle.

    Only after the vote: the link shows the names, and the voter must have chosen blind first.
    """
    battle = _owned_for_update(battle_id=battle_id, voter_id=voter_id)
    if battle.share_token:
        return Share(battle.share_token, share_url(battle.share_token), created=False)
    if battle.status == BattleStatus.FAILED:
        raise Conflict("This battle failed, so there is nothing to share.")
    if battle.status != BattleStatus.VOTED:
        raise Conflict("A battle can be shared only after you have voted on it.")
    battle.share_token = new_share_token()
    battle.shared_at = timezone.now()
    battle.save(update_fields=["share_token", "shared_at"])
    return Share(battle.share_token, share_url(battle.share_token), created=True)


@transaction.atomic
def battle_unshare(*, battle_id: object, voter_id: str) -> None:
    """Revoke the share link (idempotent): the old link and its files read as missing."""
    battle = _owned_for_update(battle_id=battle_id, voter_id=voter_id)
    if battle.share_token is not None:
        battle.share_token = None
        battle.shared_at = None
        battle.save(update_fields=["share_token", "shared_at"])


def battle_shared_view(battle: Battle) -> dict[str, object]:
    """What the public share page shows: prompt, both outputs, names and the vote. No battle
    id, voter, timing or whether the vote counted (that is for the voter alone)."""
    token = battle.share_token or ""
    outputs = []
    for output in sorted(battle.outputs.all(), key=lambda o: o.side != Side.LEFT):
        ready = output.status == OutputStatus.READY
        outputs.append(
            {
                "side": output.side,
                "label": SIDE_LABELS[Side(output.side)],
                "url": (
                    reverse("share-output", kwargs={"token": token, "side": output.side})
                    if ready and output.file
                    else None
                ),
                "content_type": output.content_type if ready else None,
                "text": output.text if ready and output.text else None,
                "model": contender_public(battle.contender_on(output.side)),
            }
        )
    vote = getattr(battle, "vote", None)
    return {
        "arena": {
            "slug": battle.arena.slug,
            "title": battle.arena.title,
            "modality": battle.arena.modality,
        },
        "prompt": battle.prompt.text,
        "outputs": outputs,
        "choice": vote.choice if vote else None,
    }
