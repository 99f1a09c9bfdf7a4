from __future__ import annotations

from django.urls import path, re_path

from arena.api import playground, views

urlpatterns = [
    path("arenas", views.arenas_list, name="api-arenas"),
    path("arenas/<slug:slug>/battles", views.battle_create, name="api-battle-create"),
    path("arenas/<slug:slug>/leaderboard", views.leaderboard, name="api-leaderboard"),
    path("arenas/<slug:slug>/models", views.arena_models, name="api-arena-models"),
    path("arenas/<slug:slug>/votes", views.votes_export, name="api-votes-export"),
    path(
        "arenas/<slug:slug>/generations",
        playground.generation_create,
        name="api-generation-create",
    ),
    path(
        "generations/<uuid:generation_id>",
        playground.generation_detail,
        name="api-generation",
    ),
    path("battles/<uuid:battle_id>", views.battle_detail, name="api-battle"),
    path("battles/<uuid:battle_id>/vote", views.battle_vote, name="api-vote"),
    path("battles/<uuid:battle_id>/share", views.battle_share, name="api-share"),
    path("uploads", views.upload_create, name="api-uploads"),
    path("challenge", views.challenge, name="api-challenge"),
    path("openapi.json", views.openapi, name="api-openapi"),
    path("docs", views.api_docs, name="api-docs"),
    # Any other path under /api/ (a newline included: "." would not match it) is a JSON 404.
    re_path(r"^(?P<path>[\s\S]*)$", views.not_found),
]
