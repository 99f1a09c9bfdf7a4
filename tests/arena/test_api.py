"""The public JSON API through Django's test client, CSRF enforced like a browser."""

from __future__ import annotations

import json
from typing import Any

import pytest

from arena.battles.models import Battle, Contender
from arena.votes.models import Vote


def names_of_everything() -> list[str]:
    names = []
    for contender in Contender.objects.select_related("provider"):
        names += [
            contender.name,
            contender.organization,
            contender.provider.name,
            contender.model_id,
        ]
    return names


def test_arenas_lists_slug_title_modality_and_sets_csrf_cookie(demo_arena: Any, voter: Any) -> None:
    response = voter.get("/api/arenas")
    assert response.status_code == 200
    assert response.json() == [
        {
            "slug": "image-editing",
            "title": "Image Editing",
            "modality": "image_edit",
            "instant": False,
            "params": {},
        },
        {
            "slug": "text-to-image",
            "title": "Text to Image",
            "modality": "image",
            "instant": False,  # instant battles are off in tests unless one turns them on
            "params": {"aspect_ratio": ["1:1", "16:9", "9:16", "4:3", "3:4"]},
        },
        {
            "slug": "text-to-video",
            "title": "Text to Video",
            "modality": "video",
            "instant": False,
            "params": {
                "aspect_ratio": ["16:9", "9:16", "1:1"],
                "resolution": ["480p", "720p"],
                "duration_s": [4, 8],
            },
        },
    ]
    assert list(response.json()[2]["params"]) == ["aspect_ratio", "resolution", "duration_s"]
    assert "csrftoken" in voter.client.cookies


def test_full_battle_flow_reveals_only_after_the_vote(
    demo_arena: Any, voter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = voter.post("/api/arenas/text-to-image/battles", {"prompt": "a red fox"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) >= {"id", "status", "prompt", "outputs"}
    assert [o["side"] for o in body["outputs"]] == ["left", "right"]

    detail = voter.get(f"/api/battles/{body['id']}")
    state = detail.json()
    assert state["status"] == "ready"
    raw = detail.content.decode() + created.content.decode()
    for output in state["outputs"]:
        image = voter.get(output["url"])
        assert image.status_code == 200 and image["Content-Type"] == "image/webp"
        raw += "".join(f"{k}: {v}" for k, v in image.items())
        raw += b"".join(image.streaming_content).decode("latin-1")
    for name in names_of_everything():
        assert name not in raw, name

    with django_capture_on_commit_callbacks(execute=True):  # the leaderboard refresh too
        voted = voter.post(f"/api/battles/{body['id']}/vote", {"choice": "right"})
    assert voted.status_code == 200
    result = voted.json()
    assert result["choice"] == "right"
    battle = Battle.objects.get(pk=body["id"])
    assert result["left"] == {
        "name": battle.left.name,
        "organization": battle.left.organization,
        "demo": True,
    }
    assert result["right"]["name"] == battle.right.name
    after = voter.get(f"/api/battles/{body['id']}").json()
    assert after["status"] == "voted" and after["reveal"]["right"]["name"] == battle.right.name

    again = voter.post(f"/api/battles/{body['id']}/vote", {"choice": "left"})
    assert again.status_code == 409
    assert Vote.objects.count() == 1

    board = voter.get("/api/arenas/text-to-image/leaderboard").json()
    assert board["votes"] == 1
    assert {"votes", "computed_at", "rows"} <= set(board)
    assert set(board["rows"][0]) >= {"rank", "model", "rating", "votes", "win_rate"}
    winner = next(r for r in board["rows"] if r["model"] == battle.right.name)
    assert winner["votes"] == 1 and winner["win_rate"] == 1
    assert winner["rank"] is None and winner["provisional"]  # one vote ranks no one


def test_random_prompt_battle(demo_arena: Any, voter: Any) -> None:
    response = voter.post("/api/arenas/text-to-image/battles", {"random_prompt": True})
    assert response.status_code == 201
    assert response.json()["prompt"]


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        ('{"prompt": ""}', 400, "empty"),
        (json.dumps({"prompt": "x" * 10_000}), 400, "limit"),
        ("{not json", 400, "not valid JSON"),
        ("[1, 2]", 400, "JSON object"),
        ("{}", 400, "random_prompt"),
        ('{"random_prompt": "yes"}', 400, "true or false"),
        ('{"prompt": null}', 400, "text"),
    ],
)
def test_bad_battle_requests_get_clear_4xx(
    demo_arena: Any, voter: Any, raw: str, status: int, fragment: str
) -> None:
    response = voter.post("/api/arenas/text-to-image/battles", raw=raw)
    assert response.status_code == status
    assert fragment in response.json()["error"]["message"]
    assert Battle.objects.count() == 0


def test_unknown_arena_and_battle_are_404(demo_arena: Any, voter: Any) -> None:
    assert voter.post("/api/arenas/nope/battles", {"prompt": "a"}).status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert voter.get(f"/api/battles/{missing}").status_code == 404
    assert voter.post(f"/api/battles/{missing}/vote", {"choice": "left"}).status_code == 404
    assert voter.get("/api/arenas/nope/leaderboard").status_code == 404
    assert voter.get("/api/battles/not-a-uuid").status_code == 404
    assert voter.get("/api/nothing-here").json()["error"]["code"] == "not_found"


def test_bad_vote_choice_is_400_and_not_ready_is_409(demo_arena: Any, voter: Any) -> None:
    battle = voter.post("/api/arenas/text-to-image/battles", {"prompt": "a cat"}).json()
    bad = voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "maybe"})
    assert bad.status_code == 400
    early = voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "left"})
    assert early.status_code == 409


def test_unsafe_methods_need_the_csrf_token(demo_arena: Any, voter: Any) -> None:
    response = voter.client.post(
        "/api/arenas/text-to-image/battles", {"prompt": "a"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_another_voter_cannot_vote_on_my_battle(
    demo_arena: Any, make_voter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    me, other = make_voter(), make_voter()
    with django_capture_on_commit_callbacks(execute=True):
        battle = me.post("/api/arenas/text-to-image/battles", {"prompt": "a cat"}).json()
    theirs = other.post(f"/api/battles/{battle['id']}/vote", {"choice": "left"})
    missing = other.post(
        "/api/battles/00000000-0000-0000-0000-000000000000/vote", {"choice": "left"}
    )
    assert theirs.status_code == missing.status_code == 404  # existence is not revealed
    assert theirs.json() == missing.json()
    assert me.post(f"/api/battles/{battle['id']}/vote", {"choice": "left"}).status_code == 200


def test_openapi_document_lists_every_endpoint(voter: Any) -> None:
    doc = voter.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/api/arenas",
        "/api/arenas/{slug}/battles",
        "/api/arenas/{slug}/generations",
        "/api/generations/{id}",
        "/api/arenas/{slug}/leaderboard",
        "/api/arenas/{slug}/models",
        "/api/arenas/{slug}/votes",
        "/api/battles/{id}",
        "/api/battles/{id}/vote",
        "/api/uploads",
        "/api/battles/{id}/share",
        "/api/challenge",
    }


def test_pages_render(demo_arena: Any, voter: Any) -> None:
    home = voter.get("/")
    assert home.status_code == 200 and b"Text to Image" in home.content
    page = voter.get("/arena/text-to-image/")
    assert page.status_code == 200 and b"Model A" in page.content
    board = voter.get("/arena/text-to-image/leaderboard/")
    assert board.status_code == 200 and b"Demo Aurora" in board.content
    assert voter.get("/arena/nope/").status_code == 404


def test_the_api_carries_a_prompt_with_markup_as_plain_text(demo_arena: Any, voter: Any) -> None:
    """The JSON keeps the prompt verbatim (the page inserts it with textContent). That the
    page shows it literally without running it is tests/browser/test_xss.py; every
    server-rendered place escaping it is tests/arena/test_html_escaping.py."""
    evil = "<script>alert(1)</script>"
    battle = voter.post("/api/arenas/text-to-image/battles", {"prompt": evil}).json()
    assert battle["prompt"] == evil
    assert voter.get(f"/api/battles/{battle['id']}").json()["prompt"] == evil


def test_every_error_code_has_one_status_and_the_openapi_document_lists_them_all() -> None:
    from arena.api.openapi import OPENAPI
    from arena.api.responses import PayloadTooLarge, UnsupportedMediaType
    from arena.battles.errors import ERRORS, ArenaError, ErrorCode
    from arena.battles.moderation import ModerationUnavailable, PromptRefused
    from arena.battles.ratelimit import RateLimited
    from arena.votes.challenge import ProofOfWorkRequired

    assert set(ERRORS) == set(ErrorCode)
    for cls in (
        PayloadTooLarge,
        UnsupportedMediaType,
        ModerationUnavailable,
        PromptRefused,
        RateLimited,
        ProofOfWorkRequired,
        *ArenaError.__subclasses__(),
    ):
        assert cls.status == ERRORS[cls.code].status, cls
    schema = OPENAPI["components"]["schemas"]["Error"]  # type: ignore[index]
    assert schema["properties"]["error"]["properties"]["code"]["enum"] == [
        str(code) for code in ErrorCode
    ]
    assert ModerationUnavailable.status == 503 and ProofOfWorkRequired.status == 428


def test_the_openapi_document_fills_every_error_response_from_the_error_table() -> None:
    import json

    from arena.api.openapi import DOCUMENT, ERROR_MARKER, OPENAPI, error_response

    raw = DOCUMENT.read_text()
    assert f'"{ERROR_MARKER}"' in raw  # the data names error responses by status only
    served = json.dumps(OPENAPI)
    assert ERROR_MARKER not in served.replace("x-error-", "")  # every marker filled in
    responses = OPENAPI["paths"]["/api/battles/{id}/vote"]["post"]["responses"]
    assert responses["428"] == error_response(428)
    assert "proof_of_work_required" in responses["428"]["description"]
    assert responses["429"]["headers"]["Retry-After"]["schema"]["minimum"] == 1
