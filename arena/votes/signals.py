"""What the votes app announces to the apps that build on it (they subscribe in their
``AppConfig.ready``; this app must not import them, see docs/architecture.md)."""

from __future__ import annotations

from django.dispatch import Signal

vote_stored = Signal()
"""A vote was stored and its transaction committed. Arguments: ``arena_id``. The
leaderboards app answers by scheduling a (debounced) refresh."""
