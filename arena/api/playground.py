"""The playground's JSON endpoints: thin adapters over arena.playground.services."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from arena.api.responses import allow_methods, api_view, json_body
from arena.battles.voters import client_address_hash, voter_id_from_session
from arena.playground import services


@allow_methods("POST")
@api_view
def generation_create(request: HttpRequest, slug: str) -> JsonResponse:
    body = json_body(request, fields=("model", "prompt", "params", "source_image"))
    generation = services.generation_create(
        arena_slug=slug,
        voter_id=voter_id_from_session(request.session),
        voter_address=client_address_hash(request),
        model=body.get("model"),
        prompt_text=body.get("prompt"),
        params=body.get("params"),
        source_image=body.get("source_image"),
    )
    return JsonResponse(services.generation_state(generation), status=201)


@allow_methods("GET")
@api_view
def generation_detail(request: HttpRequest, generation_id: str) -> JsonResponse:
    """The voter's own generation; anyone else's is a 404, like one that does not exist."""
    generation = services.generation_get_owned(
        generation_id=generation_id,
        voter_id=voter_id_from_session(request.session, create=False),
    )
    response = JsonResponse(services.generation_state(generation))
    patch_cache_control(response, private=True, no_cache=True)
    patch_vary_headers(response, ["Cookie"])
    return response
