"""Server-rendered pages; the battle page's JavaScript speaks the JSON API and the WebSocket."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.csrf import csrf_failure as html_csrf_failure
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from arena.api.views import csrf_failure as api_csrf_failure
from arena.battles import selectors
from arena.battles.errors import NotFound
from arena.battles.models import Output, OutputStatus
from arena.battles.voters import voter_id_from_session
from arena.leaderboards import charts
from arena.leaderboards.selectors import (
    leaderboard_categories,
    leaderboard_history,
    leaderboard_latest,
)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"arenas": selectors.arenas_list()})


def _arena_or_404(slug: str):  # type: ignore[no-untyped-def]
    try:
        return selectors.arena_get(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@ensure_csrf_cookie
def arena_battle(request: HttpRequest, slug: str) -> HttpResponse:
    arena = _arena_or_404(slug)
    voter_id_from_session(request.session)  # the voter exists before the first battle
    return render(request, "battle.html", {"arena": arena})


@require_GET
def arena_leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    """Reads the latest snapshot and draws it; `?fragment=1` returns only the live part.

    Rendered once per snapshot and category, then served from the cache with an ETag."""
    from arena.leaderboards.serving import cached_leaderboard_response

    arena = _arena_or_404(slug)
    category = request.GET.get("category", "")
    fragment = bool(request.GET.get("fragment"))

    def draw() -> HttpResponse:
        categories = leaderboard_categories(arena=arena)
        if category and category not in categories:
            raise Http404("No leaderboard for this category yet.")
        board = leaderboard_latest(arena=arena, category=category)
        matrices = board.get("matrices") or {}
        context = {
            "arena": arena,
            "board": board,
            "category": category,
            "categories": categories,
            "ratings_chart": mark_safe(charts.ratings_interval_svg(board["rows"])),  # noqa: S308
            "win_chart": mark_safe(charts.heatmap_svg(  # noqa: S308 - escaped inside
                matrices.get("models", []), matrices.get("win_fraction", []),
                title="Win fraction of row model against column model", percent=True)),
            "count_chart": mark_safe(charts.heatmap_svg(  # noqa: S308
                matrices.get("models", []), matrices.get("battle_counts", []),
                title="Battles between each pair", percent=False)),
            "history_chart": mark_safe(charts.history_svg(  # noqa: S308
                leaderboard_history(arena=arena, category=category),
                charts.model_colours([str(r["model"]) for r in board["rows"]]))),
        }
        style = matrices.get("style") or {}
        context["style_rows"] = list(zip(style.get("covariates", []),
                                         style.get("coefficients", []),
                                         style.get("coef_ci_low", []),
                                         style.get("coef_ci_high", []), strict=False))
        template = "_leaderboard_body.html" if fragment else "leaderboard.html"
        return render(request, template, context)

    return cached_leaderboard_response(request, arena=arena, category=category,
                                       kind="fragment" if fragment else "page", render=draw)


@require_GET
def output_file(request: HttpRequest, token: str) -> FileResponse:
    """Serve an output by its opaque token; the URL never changes and names nothing."""
    output = Output.objects.filter(token=token, status=OutputStatus.READY).first()
    if output is None or not output.file:
        raise Http404("No such output.")
    response = FileResponse(default_storage.open(output.file.name, "rb"),
                            content_type=output.content_type)
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["Content-Disposition"] = "inline"
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_csrf_failure(request, reason)
    return html_csrf_failure(request, reason)
