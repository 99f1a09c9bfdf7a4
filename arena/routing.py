"""WebSocket routes."""

from __future__ import annotations

from django.urls import path

from arena.battles.consumers import BattleConsumer, LeaderboardConsumer

websocket_urlpatterns = [
    path("ws/battles/<uuid:battle_id>/", BattleConsumer.as_asgi()),
    path("ws/arenas/<slug:slug>/leaderboard/", LeaderboardConsumer.as_asgi()),
]
