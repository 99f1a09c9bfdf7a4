"""Test-only: create ready battles directly (run inside a live arena through `manage.py shell`)
and forge the signed session cookie of a given voter."""

from __future__ import annotations

import random


def ready_battles(count: int, voters: list[str], arena_slug: str = "text-to-image") -> list[str]:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import transaction
    from django.utils import timezone

    from arena.battles.models import (
        Arena,
        Battle,
        BattleStatus,
        Output,
        OutputStatus,
        Prompt,
        Side,
    )

    arena = Arena.objects.get(slug=arena_slug)
    contenders = list(arena.contenders.all())
    rng = random.Random(5)
    ids = []
    with transaction.atomic():
        for i in range(count):
            left, right = rng.sample(contenders, 2)
            prompt = Prompt.objects.create(text=f"seeded prompt {i}", modality=arena.modality)
            battle = Battle.objects.create(
                arena=arena,
                prompt=prompt,
                left=left,
                right=right,
                voter_id=voters[i % len(voters)],
                seed=i,
                status=BattleStatus.READY,
                ready_at=timezone.now(),
            )
            for side in Side:
                output = Output(
                    battle=battle, side=side, status=OutputStatus.READY, content_type="image/webp"
                )
                output.file.name = default_storage.save(
                    f"outputs/{output.token}.webp", ContentFile(b"RIFF0000WEBP")
                )
                output.save()
            ids.append(str(battle.pk))
    return ids


def ready_battles_command(count: int, voters: list[str]) -> str:
    """Python for `manage.py shell -c` printing the ids as JSON on the last line."""
    return (
        "import json; from tests.faults.seed import ready_battles; "
        f"print(json.dumps(ready_battles({count}, {voters!r})))"
    )


def session_cookie(voter_id: str, secret_key: str) -> str:
    """The signed-cookie session Django would issue to this voter (same SECRET_KEY)."""
    from django.contrib.sessions.serializers import JSONSerializer
    from django.core import signing

    return signing.dumps(
        {"arena_voter_id": voter_id},
        key=secret_key,
        compress=True,
        salt="django.contrib.sessions.backends.signed_cookies",
        serializer=JSONSerializer,
    )
