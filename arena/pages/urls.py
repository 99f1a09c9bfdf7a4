from __future__ import annotations

from django.urls import path, re_path

from arena.pages import playground, uploads, views

urlpatterns = [
    path("", views.home, name="home"),
    path("arena/<slug:slug>/", views.arena_battle, name="arena"),
    path(
        "arena/<slug:slug>/side-by-side/",
        views.arena_battle,
        {"side_by_side": True},
        name="arena-side-by-side",
    ),
    path("arena/<slug:slug>/playground/", playground.arena_playground, name="playground"),
    path("arena/<slug:slug>/leaderboard/", views.arena_leaderboard, name="leaderboard"),
    path("arena/<slug:slug>/models/<int:contender_id>/", views.arena_model, name="model"),
    path("o/<str:token>/poster", views.output_file, {"poster": True}, name="output-poster"),
    path("o/<str:token>", views.output_file, name="output-file"),
    path("u/<str:upload_id>", uploads.upload_file, name="upload-file"),
    path(
        "g/<str:token>/poster",
        playground.generation_file,
        {"poster": True},
        name="generation-poster",
    ),
    path("g/<str:token>", playground.generation_file, name="generation-file"),
    path("s/<str:token>", views.share_page, name="share"),
    re_path(r"^s/(?P<token>[^/]+)/(?P<side>left|right)$", views.share_output, name="share-output"),
]
