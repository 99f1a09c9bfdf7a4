"""URL routes: pages, the JSON API, the admin and opaque output files."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import defaults

from arena.api.responses import error_response
from arena.battles.errors import ErrorCode
from arena.ops import views as ops

urlpatterns = [
    path("livez", ops.livez, name="livez"),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("arena.api.urls")),
    path("", include("arena.pages.urls")),
]


def _api_or_default(
    default_view: Callable[..., HttpResponse], code: ErrorCode, message: str
) -> Callable[..., HttpResponse]:
    """Error handlers that answer JSON under /api/ and Django's page elsewhere."""

    def handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        if request.path.startswith("/api/"):
            return error_response(code, message)
        if exception is None:
            return default_view(request)
        return default_view(request, exception)

    return handler


handler400 = _api_or_default(
    defaults.bad_request,
    ErrorCode.BAD_REQUEST,
    "The request could not be read: send a JSON body with Content-Type: application/json.",
)
handler500 = _api_or_default(
    defaults.server_error,
    ErrorCode.SERVER_ERROR,
    "Something went wrong on our side and nothing was stored; please retry.",
)
