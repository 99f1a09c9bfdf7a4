"""URL routes: pages, the JSON API, the admin and opaque output files."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("arena.api.urls")),
    path("", include("arena.pages.urls")),
]
