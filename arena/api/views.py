"""The public JSON API: thin adapters over the services and selectors."""

from __future__ import annotations

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import ensure_csrf_cookie

from arena.api.openapi import OPENAPI
from arena.api.responses import allow_methods, api_view, error_response, json_body
from arena.battles import selectors, services, sharing
from arena.battles.errors import ErrorCode, InvalidInput, NotFound
from arena.battles.instant import arena_instant_on
from arena.battles.models import BattleMode
from arena.battles.params import arena_params_public
from arena.battles.side_by_side import battle_mode_parse, side_by_side_pair
from arena.battles.voters import client_address_hash, voter_id_from_session
from arena.leaderboards.export import leaderboard_csv, votes_export_csv, votes_export_jsonl
from arena.leaderboards.selectors import leaderboard_categories, leaderboard_latest
from arena.votes.challenge import (
    CHALLENGE_SOLUTION_FIELDS,
    challenge_issue,
    challenge_solve,
    voter_is_verified,
)
from arena.votes.models import voter_reason
from arena.votes.services import vote_cast


@allow_methods("GET")
@ensure_csrf_cookie
@api_view
def arenas_list(request: HttpRequest) -> JsonResponse:
    arenas = [
        {
            "slug": a.slug,
            "title": a.title,
            "modality": a.modality,
            "instant": arena_instant_on(a),
            "params": arena_params_public(a.params),
        }
        for a in selectors.arenas_list()
    ]
    return JsonResponse(arenas, safe=False)


@allow_methods("GET")
@api_view
def arena_models(request: HttpRequest, slug: str) -> JsonResponse:
    """The arena's enabled models: who they are, never which side of a battle they were."""
    arena = selectors.arena_get(slug=slug)
    return JsonResponse(
        [selectors.contender_listing(c) for c in selectors.arena_contenders(arena=arena)],
        safe=False,
    )


@allow_methods("POST")
@api_view
def battle_create(request: HttpRequest, slug: str) -> JsonResponse:
    body = json_body(
        request, fields=("prompt", "random_prompt", "params", "mode", "models", "source_image")
    )
    random_prompt = body.get("random_prompt", False)
    if not isinstance(random_prompt, bool):
        raise InvalidInput("random_prompt must be true or false.")
    if not random_prompt and "prompt" not in body:
        raise InvalidInput('Send {"prompt": "..."} or {"random_prompt": true}.')
    if random_prompt and body.get("prompt") not in (None, ""):
        raise InvalidInput('Send either a prompt or "random_prompt": true, not both.')
    voter_id = voter_id_from_session(request.session)
    mode, models = body.get("mode"), body.get("models")
    pair = (  # the arena is read here only for a side-by-side request (the service reads it)
        side_by_side_pair(arena=selectors.arena_get(slug=slug), mode=mode, models=models)
        if mode is not None or models is not None
        else None
    )
    battle = services.battle_create(
        arena_slug=slug,
        voter_id=voter_id,
        voter_address=client_address_hash(request),
        prompt_text=body.get("prompt"),
        random_prompt=random_prompt,
        prompt_publishable=sharing.prompt_publishable(request.session),
        params=body.get("params"),
        source_image=body.get("source_image"),
        pair=pair,
    )
    return JsonResponse(selectors.battle_state(battle), status=201)


@allow_methods("POST")
@api_view
def upload_create(request: HttpRequest) -> JsonResponse:
    """An image to edit (multipart field `image`): validated, stripped, private to its voter."""
    from arena.api.upload_views import upload_from_request

    return upload_from_request(request)


@allow_methods("GET")
@api_view
def battle_detail(request: HttpRequest, battle_id: str) -> JsonResponse:
    """The voter's own battle; anyone else's is a 404, like a battle that does not exist."""
    battle = selectors.battle_get_owned(
        battle_id=battle_id, voter_id=voter_id_from_session(request.session, create=False)
    )
    response = JsonResponse(selectors.battle_state(battle))
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["Cookie"])
    return response


@allow_methods("POST", "DELETE")
@api_view
def battle_share(request: HttpRequest, battle_id: str) -> HttpResponseBase:
    """POST: make (or return the same) public link of the voter's voted battle; DELETE:
    revoke it."""
    voter_id = voter_id_from_session(request.session, create=False)
    if request.method == "DELETE":
        sharing.battle_unshare(battle_id=battle_id, voter_id=voter_id)
        return HttpResponse(status=204)
    json_body(request, fields=())  # no fields: anything sent is named in a 400, not ignored
    share = sharing.battle_share(battle_id=battle_id, voter_id=voter_id)
    return JsonResponse({"url": share.url}, status=201 if share.created else 200)


def idempotency_key(request: HttpRequest) -> str:
    """The Idempotency-Key header; control characters (which HTTP forbids in a header and
    PostgreSQL cannot store) are refused with a clear message."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise InvalidInput("Idempotency-Key must not contain control characters.")
    return key


@allow_methods("POST")
@api_view
def battle_vote(request: HttpRequest, battle_id: str) -> JsonResponse:
    body = json_body(request, fields=("choice",))
    voter_id = voter_id_from_session(request.session, create=False)
    cast = vote_cast(
        battle_id=battle_id,
        voter_id=voter_id,
        voter_address=client_address_hash(request),
        choice=body.get("choice"),
        idempotency_key=idempotency_key(request),
        proof_of_work=voter_is_verified(session=request.session, voter_id=voter_id),
    )
    battle = cast.battle
    return JsonResponse(
        {
            "battle": str(battle.pk),
            "choice": cast.vote.choice,
            "replayed": cast.replayed,
            "counted": cast.vote.is_valid,
            "not_counted_reason": voter_reason(cast.vote.invalid_reason),
            "left": selectors.contender_public(battle.left),
            "right": selectors.contender_public(battle.right),
        }
    )


@allow_methods("GET", "POST")
@api_view
def challenge(request: HttpRequest) -> JsonResponse:
    """GET: whether this voter must still solve a proof of work, and a challenge if so.
    POST: the solution; marks this session's voter id verified."""
    voter_id = voter_id_from_session(request.session)
    if request.method == "POST":
        body = json_body(request, fields=CHALLENGE_SOLUTION_FIELDS)
        if not voter_is_verified(session=request.session, voter_id=voter_id):
            challenge_solve(session=request.session, voter_id=voter_id, body=body)
        return JsonResponse({"verified": True})
    if voter_is_verified(session=request.session, voter_id=voter_id):
        return JsonResponse({"verified": True})
    return JsonResponse({"verified": False, **challenge_issue().as_dict()})


@allow_methods("GET")
@api_view
def leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    """The latest snapshot as JSON (or `?format=csv`: the table), encoded once per snapshot
    and served with an ETag."""
    from arena.leaderboards.serving import cached_leaderboard_response

    arena = selectors.arena_get(slug=slug)
    category = request.GET.get("category", "")
    fmt = request.GET.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidInput("format must be json or csv.")

    def encode() -> HttpResponse:
        if category and category not in leaderboard_categories(arena=arena):
            raise NotFound(f"There is no leaderboard for the category '{category}' yet.")
        board = leaderboard_latest(arena=arena, category=category)
        if fmt == "csv":
            return HttpResponse(leaderboard_csv(board), content_type="text/csv; charset=utf-8")
        return JsonResponse(board)

    return cached_leaderboard_response(
        request,
        arena=arena,
        category=category,
        kind="json" if fmt == "json" else "csv",
        render=encode,
    )


@allow_methods("GET")
@api_view
def votes_export(request: HttpRequest, slug: str) -> HttpResponseBase:
    """Counted votes (the default), or `?mode=side_by_side`: the named side-by-side votes,
    which are never counted."""
    arena = selectors.arena_get(slug=slug)
    fmt = request.GET.get("format", "jsonl")
    mode = battle_mode_parse(request.GET.get("mode"))
    if fmt == "jsonl":
        response = StreamingHttpResponse(
            votes_export_jsonl(arena=arena, mode=mode), content_type="application/x-ndjson"
        )
    elif fmt == "csv":
        response = StreamingHttpResponse(
            votes_export_csv(arena=arena, mode=mode), content_type="text/csv; charset=utf-8"
        )
    else:
        raise InvalidInput("format must be jsonl or csv.")
    suffix = "-side-by-side" if mode == BattleMode.SIDE_BY_SIDE else ""
    response["Content-Disposition"] = f'attachment; filename="{arena.slug}-votes{suffix}.{fmt}"'
    return response


@allow_methods("GET")
def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(OPENAPI)


# The reference page runs only the vendored Swagger UI and our own loader (no inline script).
API_DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


@allow_methods("GET")
def api_docs(request: HttpRequest) -> HttpResponse:
    """An interactive reference drawn by Swagger UI from /api/openapi.json, all served here."""
    response = render(request, "api_docs.html")
    response["Content-Security-Policy"] = API_DOCS_CSP
    return response


def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return error_response(ErrorCode.NOT_FOUND, "There is no such API endpoint.")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return error_response(
        ErrorCode.CSRF_FAILED,
        "Missing or wrong CSRF token: send the csrftoken cookie's value in the X-CSRFToken "
        "header (GET /api/arenas sets the cookie).",
    )
