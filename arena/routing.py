"""WebSocket routes. A slug longer than an arena slug can be (or any other path) is a 404, never
a crash: Channels refuses group names of 100 characters or more."""

from __future__ import annotations

from django.urls import path, re_path

from arena.battles.consumers import BattleConsumer, LeaderboardConsumer, NotFoundConsumer

websocket_urlpatterns = [
    path("ws/battles/<uuid:battle_id>/", BattleConsumer.as_asgi()),
    re_path(
        r"^ws/arenas/(?P<slug>[-a-zA-Z0-9_]{1,50})/leaderboard/$", LeaderboardConsumer.as_asgi()
    ),
    re_path(r"", NotFoundConsumer.as_asgi()),
]
