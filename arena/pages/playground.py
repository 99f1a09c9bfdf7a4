"""The playground page and its private output files (see arena.playground)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from arena.battles.errors import NotFound
from arena.battles.voters import voter_id_from_session
from arena.pages.views import _arena_or_404, _file_response
from arena.playground.services import generation_file_owned, playground_models


@require_GET
@ensure_csrf_cookie
def arena_playground(request: HttpRequest, slug: str) -> HttpResponse:
    """Try one model with every parameter the arena offers; nothing here is counted."""
    arena = _arena_or_404(slug)
    voter_id_from_session(request.session)
    response = render(
        request,
        "playground.html",
        {"arena": arena, "mode": "playground", "models": playground_models(arena=arena)},
    )
    patch_cache_control(response, private=True, no_cache=True)
    return response


@require_GET
def generation_file(request: HttpRequest, token: str, poster: bool = False) -> HttpResponseBase:
    """A playground output, only for the voter who asked for it (or staff), like battles'."""
    user = getattr(request, "user", None)
    staff = bool(user and user.is_active and user.is_staff)
    try:
        generation = generation_file_owned(
            token=token, voter_id=voter_id_from_session(request.session, create=False), staff=staff
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if poster and not generation.poster:
        raise Http404("No such output.")
    response = _file_response(
        request,
        generation,  # type: ignore[arg-type]  # the same file fields as an Output
        cache_control="private, max-age=86400, immutable",
        poster=poster,
    )
    patch_vary_headers(response, ["Cookie"])
    return response
