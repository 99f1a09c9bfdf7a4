"""Server-rendered pages; the battle page's JavaScript speaks the JSON API and the WebSocket."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.views.csrf import csrf_failure as html_csrf_failure
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from arena.api.views import csrf_failure as api_csrf_failure
from arena.battles import selectors, sharing
from arena.battles.errors import NotFound
from arena.battles.models import Arena, Output
from arena.battles.voters import voter_id_from_session
from arena.leaderboards import charts
from arena.leaderboards.export import leaderboard_csv
from arena.leaderboards.rows import BoardRow
from arena.leaderboards.selectors import (
    leaderboard_categories,
    leaderboard_history,
    leaderboard_latest,
)
from arena.pages.ranges import ranged_file_response


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"arenas": selectors.arenas_list()})


def _arena_or_404(slug: str) -> Arena:
    try:
        return selectors.arena_get(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@ensure_csrf_cookie
def arena_battle(request: HttpRequest, slug: str, side_by_side: bool = False) -> HttpResponse:
    """The battle page; `?battle=<id>` resumes one of the voter's own battles (anyone else's,
    or one of another arena, is a 404 like a battle that does not exist). side_by_side: the
    named mode's page (two model selects, names from the start, votes never counted)."""
    arena = _arena_or_404(slug)
    voter_id = voter_id_from_session(request.session)  # the voter exists before the first battle
    sharing.prompt_notice_record(request.session)
    battle_id = request.GET.get("battle")
    if battle_id is not None:
        try:
            battle = selectors.battle_get_owned(battle_id=battle_id, voter_id=voter_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        if battle.arena_id != arena.pk:
            raise Http404("There is no such battle.")
    response = render(
        request,
        "battle.html",
        {
            "arena": arena,
            "export_prompts": settings.ARENA_EXPORT_PROMPTS,
            # when the sweeper gives up on a side: past it the page calls the battle expired
            "expires_after_s": int(arena.generation_timeout_s + settings.ARENA_STALE_GRACE_S),
            "mode": "side_by_side" if side_by_side else "battle",
            "models": selectors.arena_contenders(arena=arena) if side_by_side else [],
        },
    )
    patch_cache_control(response, private=True, no_cache=True)
    return response


@require_GET
def arena_leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    """Reads the latest snapshot and draws it; `?fragment=1` returns only the live part.

    Rendered once per snapshot and category, then served from the cache with an ETag."""
    from arena.leaderboards.serving import cached_leaderboard_response

    arena = _arena_or_404(slug)
    category = request.GET.get("category", "")
    fmt = request.GET.get("format", "")
    if fmt:  # the page's download links: the same board as CSV or JSON
        return leaderboard_download(request, arena=arena, category=category, fmt=fmt)
    fragment = bool(request.GET.get("fragment"))

    def draw() -> HttpResponse:
        categories = leaderboard_categories(arena=arena)
        if category and category not in categories:
            raise Http404("No leaderboard for this category yet.")
        board = leaderboard_latest(arena=arena, category=category)
        model_ids = dict(arena.contenders.values_list("name", "pk"))  # rows link to model pages
        here = set(model_ids.values())

        def model_id(row: BoardRow) -> int | None:
            return row.contender_id if row.contender_id in here else model_ids.get(row.model)

        board = {
            **board,
            "rows": [
                {**raw, "model_id": model_id(BoardRow.from_dict(raw))}
                for raw in cast("list[dict[str, Any]]", board["rows"])
            ],
        }
        matrices = board.get("matrices") or {}
        context = {
            "arena": arena,
            "board": board,
            "category": category,
            "categories": categories,
            "ratings_chart": mark_safe(charts.ratings_interval_svg(board["rows"])),  # noqa: S308
            "win_chart": mark_safe(
                charts.heatmap_svg(  # noqa: S308 - escaped inside
                    matrices.get("models", []),
                    matrices.get("win_fraction", []),
                    title="Win fraction of row model against column model",
                    percent=True,
                )
            ),
            "count_chart": mark_safe(
                charts.heatmap_svg(  # noqa: S308
                    matrices.get("models", []),
                    matrices.get("battle_counts", []),
                    title="Battles between each pair",
                    percent=False,
                )
            ),
            "history_chart": mark_safe(
                charts.history_svg(  # noqa: S308
                    leaderboard_history(arena=arena, category=category),
                    charts.model_colours([str(r["model"]) for r in board["rows"]]),
                )
            ),
        }
        style = matrices.get("style") or {}
        context["style_rows"] = list(
            zip(
                style.get("covariates", []),
                style.get("coefficients", []),
                style.get("coef_ci_low", []),
                style.get("coef_ci_high", []),
                strict=False,
            )
        )
        context["ranked_rows"] = [r for r in board["rows"] if not r.get("provisional")]
        context["provisional_rows"] = [r for r in board["rows"] if r.get("provisional")]
        context["export_prompts"] = settings.ARENA_EXPORT_PROMPTS
        template = "_leaderboard_body.html" if fragment else "leaderboard.html"
        return render(request, template, context)

    return cached_leaderboard_response(
        request,
        arena=arena,
        category=category,
        kind="fragment" if fragment else "page",
        render=draw,
    )


@require_GET
def arena_model(request: HttpRequest, slug: str, contender_id: int) -> HttpResponse:
    """One model of an arena: what it is, its rating over time and its win rates."""
    from arena.leaderboards.models_page import model_summary

    arena = _arena_or_404(slug)
    try:
        contender = selectors.arena_contender_get(arena=arena, contender_id=contender_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    summary = model_summary(arena=arena, contender=contender)
    history = mark_safe(
        charts.history_svg(  # noqa: S308 - escaped inside
            summary.history, charts.model_colours([contender.name])
        )
    )
    return render(
        request,
        "model.html",
        {
            "arena": arena,
            "summary": summary,
            "model": selectors.contender_listing(contender),
            "history_chart": history,
        },
    )


def leaderboard_download(
    request: HttpRequest,
    *,
    arena: Arena,
    category: str,
    fmt: str,
) -> HttpResponse:
    """?format=csv or ?format=json: the board as a file, cached per snapshot like the page."""
    from arena.leaderboards.serving import cached_leaderboard_response

    if fmt not in ("csv", "json"):
        return HttpResponseBadRequest(
            "format must be csv or json.", content_type="text/plain; charset=utf-8"
        )

    def encode() -> HttpResponse:
        if category and category not in leaderboard_categories(arena=arena):
            raise Http404("No leaderboard for this category yet.")
        board = leaderboard_latest(arena=arena, category=category)
        if fmt == "csv":
            response = HttpResponse(leaderboard_csv(board), content_type="text/csv; charset=utf-8")
        else:
            response = JsonResponse(board)
        return response

    response = cached_leaderboard_response(
        request, arena=arena, category=category, kind=f"download-{fmt}", render=encode
    )
    name = "-".join(filter(None, [arena.slug, "leaderboard", slugify(category)]))
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


# Defence in depth where hostile text meets strangers: the share page shows a voter's prompt to
# anyone and needs no script at all; an output file opened on its own runs nothing either.
SHARE_PAGE_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
OUTPUT_FILE_CSP = "default-src 'none'; sandbox"


def _file_response(
    request: HttpRequest, output: Output, *, cache_control: str, poster: bool = False
) -> HttpResponseBase:
    """The file (or a video's poster frame), or the byte range a video player asks for when
    it seeks (ranges.py)."""
    # a stored output always has its file (and a video its poster): the views checked
    name = cast(str, output.poster.name if poster else output.file.name)
    response = ranged_file_response(
        default_storage.open(name, "rb"),
        size=default_storage.size(name),
        content_type="image/webp" if poster else output.content_type,
        range_header=request.headers.get("Range", ""),
    )
    response["Cache-Control"] = cache_control
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = OUTPUT_FILE_CSP
    return response


@require_GET
def output_file(request: HttpRequest, token: str, poster: bool = False) -> HttpResponseBase:
    """Serve an output by its opaque token, only to the voter who owns the battle (or staff):
    anyone else gets the 404 of a missing file. The URL never changes and names nothing."""
    user = getattr(request, "user", None)
    staff = bool(user and user.is_active and user.is_staff)
    try:
        output = selectors.output_get_owned(
            token=token, voter_id=voter_id_from_session(request.session, create=False), staff=staff
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if poster and not output.poster:
        raise Http404("No such output.")
    # Private: never kept by a shared cache; keyed by the cookie that proves ownership.
    response = _file_response(
        request, output, cache_control="private, max-age=86400, immutable", poster=poster
    )
    patch_vary_headers(response, ["Cookie"])
    return response


@require_GET
def share_page(request: HttpRequest, token: str) -> HttpResponse:
    """A battle its voter chose to share: prompt, both outputs, names and the vote."""
    try:
        battle = selectors.battle_get_shared(token=token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = render(request, "share.html", {"shared": sharing.battle_shared_view(battle)})
    # Revocable: no shared cache may keep it; not for search engines.
    patch_cache_control(response, private=True, no_cache=True)
    response["X-Robots-Tag"] = "noindex"
    response["Content-Security-Policy"] = SHARE_PAGE_CSP
    return response


@require_GET
def share_output(request: HttpRequest, token: str, side: str) -> HttpResponseBase:
    """One output of a shared battle, reachable only while the share link stands."""
    try:
        output = selectors.output_get_shared(share_token=token, side=side)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    # Short and private: a revoked link stops working within minutes, even in a browser cache.
    response = _file_response(request, output, cache_control="private, max-age=300")
    response["X-Robots-Tag"] = "noindex"
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_csrf_failure(request, reason)
    return html_csrf_failure(request, reason)
