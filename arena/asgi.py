"""ASGI entry point: HTTP through Django, WebSockets through Channels with the session."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
django_asgi_app = get_asgi_application()


def daphne_leaves_forms_to_django() -> None:
    """daphne's twisted request parses every multipart body itself (a second in-memory copy
    of an upload) before Django sees it, and answers one it cannot parse with a bare,
    non-JSON 400; Django parses uploads (POST /api/uploads) under its own limits instead."""
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # another server
        return
    original = WebRequest.__init__
    if getattr(original, "forms_left_to_django", False):
        return

    def init(self: WebRequest, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        self._parsePOSTFormSubmission = False

    init.forms_left_to_django = True  # type: ignore[attr-defined]
    WebRequest.__init__ = init  # daphne is untyped (Any)


daphne_leaves_forms_to_django()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402

from arena.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            SessionMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
