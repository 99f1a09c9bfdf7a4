"""/livez, /healthz and /metrics: thin views over arena.ops.health and arena.ops.metrics."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from arena.ops.health import health_report
from arena.ops.metrics import metrics_render


@require_GET
def livez(request: HttpRequest) -> HttpResponse:
    """The process answers: touches neither the database nor the cache (the load benchmark's
    no-op, the ceiling for any view)."""
    return HttpResponse(b"ok\n", content_type="text/plain")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def metrics_allowed(request: HttpRequest) -> bool:
    """A bearer token (ARENA_METRICS_TOKEN) from anywhere, or an address in
    ARENA_METRICS_ALLOWED (networks; loopback by default)."""
    token = settings.ARENA_METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.ARENA_METRICS_ALLOWED_NETWORKS)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse(
            b"Metrics are only served to addresses in ARENA_METRICS_ALLOWED or with the "
            b"ARENA_METRICS_TOKEN bearer token.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_LATEST)
