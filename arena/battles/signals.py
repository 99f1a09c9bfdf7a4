"""What the battles app announces to the apps that build on it.

Imports run one way (battles ← votes ← leaderboards, see docs/architecture.md): this app must
not import the ones above it, so they subscribe here (in their ``AppConfig.ready``).
"""

from __future__ import annotations

from django.dispatch import Signal

generation_finished = Signal()
"""One side of a battle was stored as ready or failed (sent inside its transaction).
Arguments: ``output`` (the saved Output: started_at, finished_at, contender_id) and ``outcome``
(the failure code, "" when it succeeded)."""

rating_uncertainty = Signal()
"""Asked while drawing a battle's pair: each receiver returns ``{contender name: width of the
rating's confidence interval}`` for ``arena`` (the leaderboards app answers from its latest
snapshot). Contenders no receiver names count as unrated."""
