"""Settings, all read here from the environment.

Embedded default (nothing configured): SQLite, no Redis, generation in the web process, the
in-memory channel layer, a local-memory cache. `DATABASE_URL` switches to PostgreSQL;
`REDIS_URL` switches the Celery broker, the Channels layer and the cache to Redis together,
never one without the others (the in-memory layer cannot cross processes).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from arena.env import env_bool, env_float, env_int, env_list, env_str, persistent_secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ARENA_VAR_DIR", str(BASE_DIR / "var")))

# --- Safe defaults: debug, secret key, HTTPS ----------------------------------------------------
# DEBUG only when asked for. Without SECRET_KEY, a random key is generated once and kept in the
# var folder (mode 600): never a constant in the source. Several machines serving one site
# must share SECRET_KEY (set it, or share the file).
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or persistent_secret(VAR_DIR / "secret_key")
LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", LOCAL_HOSTS)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Settings that need HTTPS (redirect, HSTS, secure cookies) are on as soon as the site answers
# to a name other than the loopback ones, i.e. whenever it can be reached from elsewhere; a
# site that only answers on 127.0.0.1 (`make run`) is served over plain HTTP. ARENA_HTTPS=0/1
# overrides (e.g. 0 for a LAN demo over plain HTTP).
ARENA_HTTPS = env_bool("ARENA_HTTPS", any(h not in LOCAL_HOSTS for h in ALLOWED_HOSTS))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # Swagger UI's distribution files, served by /api/docs (no CDN at run time).
    "drf_spectacular_sidecar",
    "arena.battles",
    "arena.votes",
    "arena.playground",
    "arena.leaderboards",
    "arena.pages",
    "arena.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "arena.ops.middleware.LazyMessageMiddleware",  # the admin's messages, made on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "arena.urls"
ASGI_APPLICATION = "arena.asgi.application"
WSGI_APPLICATION = "arena.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI every concurrent request runs in its own thread: a bounded pool, checked on
        # checkout so a restarted server is survived, instead of one connection per thread.
        # Django's backend with that check made free for a connection whose socket shows it
        # alive (arena/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "arena.postgresql"
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 1),
            "max_size": env_int("DB_POOL_MAX", 20),
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0),
        }
        # Statements run through arena.db.prepared_cursor (the vote's read) are prepared once
        # per connection; all others keep client-side binding. 0 for a transaction-mode
        # pooler that cannot keep prepared statements.
        if env_bool("DB_PREPARED_STATEMENTS", True):
            DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "arena.sqlite3")),
            # Generation threads and requests write concurrently: take the write lock up front
            # instead of failing on a lock upgrade, and wait for it.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker + Channels layer + cache, together --------------------------------
REDIS_URL = env_str("REDIS_URL")
# Lets several arenas (or test runs) share one Redis without seeing each other's keys.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "arena")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
if CELERY_BROKER_URL and not REDIS_URL:
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL is set without REDIS_URL: separate workers need the Redis channel "
        "layer to push outputs to browsers. Set REDIS_URL too."
    )
# With no broker, generation runs in threads of the web process through the same task code.
ARENA_EMBEDDED_TASKS = not CELERY_BROKER_URL

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "capacity": 1000,
                "expiry": 60,
                "prefix": f"{REDIS_KEY_PREFIX}:asgi",
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "arena.ops.cache.RedisCache",  # Django's, with its clients reused
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:cache",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------------------------
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task whose worker died unacknowledged is redelivered after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600),
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:",
}
ARENA_SWEEP_EVERY_S = env_float("ARENA_SWEEP_EVERY_S", 30.0)
CELERY_BEAT_SCHEDULE = {
    "battles-fail-stale": {
        "task": "arena.battles.tasks.battles_fail_stale_task",
        "schedule": ARENA_SWEEP_EVERY_S,
    },
    "instant-stock": {  # instant battles: top the stock up, drop stale or unservable stock
        "task": "arena.battles.tasks.instant_stock_task",
        "schedule": env_float("ARENA_INSTANT_EVERY_S", 60.0),
    },
    "leaderboards-refresh": {
        "task": "arena.leaderboards.tasks.leaderboards_refresh_all_task",
        "schedule": env_float("ARENA_LEADERBOARD_SAFETY_REFRESH_S", 300.0),
    },
}

# --- Sessions, static, media -------------------------------------------------------------------
SESSION_COOKIE_AGE = 60 * 60 * 24 * 365
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", ARENA_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if ARENA_HTTPS:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"  # outputs are served by an opaque view, never by path

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# --- The arena's own knobs ----------------------------------------------------------------------
ARENA_MAX_PROMPT_CHARS = env_int("ARENA_MAX_PROMPT_CHARS", 2000)
# `make run` loads the demo arena on a fresh database unless ARENA_DEMO=0.
ARENA_DEMO = env_bool("ARENA_DEMO", True)
# A contender whose provider failed this many outputs in a row leaves the sampler until an
# operator's "Test generate" succeeds (0: never pause).
ARENA_PAUSE_AFTER_FAILURES = env_int("ARENA_PAUSE_AFTER_FAILURES", 5)
# Tests only: run embedded generation synchronously at commit instead of in threads.
ARENA_TASKS_INLINE = env_bool("ARENA_TASKS_INLINE", False)
ARENA_GENERATION_THREADS = env_int("ARENA_GENERATION_THREADS", 8)
ARENA_OUTPUT_MAX_SIDE = env_int("ARENA_OUTPUT_MAX_SIDE", 1536)
ARENA_OUTPUT_MAX_BYTES = env_int("ARENA_OUTPUT_MAX_BYTES", 50 * 1024 * 1024)
ARENA_STALE_GRACE_S = env_float("ARENA_STALE_GRACE_S", 30.0)
# Instant battles (Arena.instant_stock): ARENA_INSTANT_BATTLES=0 turns them off everywhere
# (nothing made in advance, nothing served); outputs made in advance older than
# ARENA_INSTANT_MAX_AGE_S are deleted unserved; a battle that took stock tops it up, at most
# once per ARENA_INSTANT_DEBOUNCE_S.
ARENA_INSTANT_BATTLES = env_bool("ARENA_INSTANT_BATTLES", True)
ARENA_INSTANT_MAX_AGE_S = env_float("ARENA_INSTANT_MAX_AGE_S", 86400.0)
ARENA_INSTANT_DEBOUNCE_S = env_float("ARENA_INSTANT_DEBOUNCE_S", 2.0)

# --- Outputs in one form per battle, and hostile files (issue 9) ---------------------------------
# Every output is delivered at the arena's width × height (capped by ARENA_OUTPUT_MAX_SIDE);
# videos at one fps and duration. Provider files are checked from their header before decoding.
ARENA_VIDEO_FPS = env_int("ARENA_VIDEO_FPS", 24)
ARENA_VIDEO_DEFAULT_SECONDS = env_float("ARENA_VIDEO_DEFAULT_SECONDS", 4.0)  # arena sets none
ARENA_IMAGE_MAX_PIXELS = env_int("ARENA_IMAGE_MAX_PIXELS", 36_000_000)
# Images are encoded at the best WebP quality that fits this many bytes per served pixel, so
# a file's size does not tell a sharp native source from a soft one.
ARENA_IMAGE_BYTES_PER_PIXEL = env_float("ARENA_IMAGE_BYTES_PER_PIXEL", 0.12)
ARENA_VIDEO_MAX_SECONDS = env_float("ARENA_VIDEO_MAX_SECONDS", 120.0)
ARENA_VIDEO_MAX_SIDE = env_int("ARENA_VIDEO_MAX_SIDE", 4096)
ARENA_VIDEO_MAX_PIXELS = env_int("ARENA_VIDEO_MAX_PIXELS", 4096 * 2304)
ARENA_VIDEO_MAX_FRAMES = env_int("ARENA_VIDEO_MAX_FRAMES", 7200)
ARENA_VIDEO_TIMEOUT_S = env_float("ARENA_VIDEO_TIMEOUT_S", 120.0)
# Image editing: voters' uploads (POST /api/uploads), refused over these before decoding.
ARENA_UPLOAD_MAX_BYTES = env_int("ARENA_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
ARENA_UPLOAD_MAX_PIXELS = env_int("ARENA_UPLOAD_MAX_PIXELS", 25_000_000)
ARENA_UPLOAD_MAX_SIDE = env_int("ARENA_UPLOAD_MAX_SIDE", 2048)  # larger ones are scaled down
# The sweeper deletes an upload (row and file) this old that no battle or generation uses.
ARENA_UPLOAD_MAX_AGE_S = env_float("ARENA_UPLOAD_MAX_AGE_S", 24 * 3600.0)
for _name in (
    "ARENA_UPLOAD_MAX_BYTES",
    "ARENA_UPLOAD_MAX_PIXELS",
    "ARENA_UPLOAD_MAX_SIDE",
    "ARENA_UPLOAD_MAX_AGE_S",
    "ARENA_OUTPUT_MAX_SIDE",
    "ARENA_VIDEO_FPS",
    "ARENA_VIDEO_DEFAULT_SECONDS",
    "ARENA_IMAGE_BYTES_PER_PIXEL",
    "ARENA_IMAGE_MAX_PIXELS",
    "ARENA_VIDEO_MAX_SECONDS",
    "ARENA_VIDEO_MAX_SIDE",
    "ARENA_VIDEO_MAX_PIXELS",
    "ARENA_VIDEO_MAX_FRAMES",
    "ARENA_VIDEO_TIMEOUT_S",
):
    if not globals()[_name] > 0:
        raise ImproperlyConfigured(f"{_name} must be positive, got {globals()[_name]!r}")

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"  # no database on the vote path
CSRF_FAILURE_VIEW = "arena.pages.views.csrf_failure"

# --- Vote quality and abuse resistance ----------------------------------------------------------
ARENA_RATE_WINDOW_S = env_int("ARENA_RATE_WINDOW_S", 60)
ARENA_RATE_BATTLES_PER_VOTER = env_int("ARENA_RATE_BATTLES_PER_VOTER", 20)
ARENA_RATE_BATTLES_PER_ADDRESS = env_int("ARENA_RATE_BATTLES_PER_ADDRESS", 60)
ARENA_RATE_VOTES_PER_VOTER = env_int("ARENA_RATE_VOTES_PER_VOTER", 30)
ARENA_RATE_VOTES_PER_ADDRESS = env_int("ARENA_RATE_VOTES_PER_ADDRESS", 120)
ARENA_MIN_VOTE_SECONDS = env_float("ARENA_MIN_VOTE_SECONDS", 1.0)
ARENA_VOTER_DAILY_CAP = env_int("ARENA_VOTER_DAILY_CAP", 300)
ARENA_PROMPT_BLOCKLIST = env_list("ARENA_PROMPT_BLOCKLIST", [])
ARENA_MODERATION_URL = env_str("ARENA_MODERATION_URL")
ARENA_MODERATION_KEY_ENV = env_str("ARENA_MODERATION_KEY_ENV", "ARENA_MODERATION_KEY")
ARENA_MODERATION_FAIL_CLOSED = env_bool("ARENA_MODERATION_FAIL_CLOSED", True)  # 503 + retry
ARENA_FLAG_MIN_VOTES = env_int("ARENA_FLAG_MIN_VOTES", 20)
ARENA_FLAG_P_VALUE = env_float("ARENA_FLAG_P_VALUE", 1e-4)

# --- Vote stuffing: client address, per-address budget, proof of work, WebSocket caps ----------
if "ARENA_TRUST_X_FORWARDED_FOR" in os.environ:
    raise ImproperlyConfigured(
        "ARENA_TRUST_X_FORWARDED_FOR was removed: it trusted the leftmost X-Forwarded-For entry, "
        "which the client writes itself. Unset it and set ARENA_TRUSTED_PROXIES to the number of "
        "proxies in front of the arena (0 = none: the socket address is the client)."
    )
# The client is the N-th X-Forwarded-For entry from the right (the one our own proxy appended).
ARENA_TRUSTED_PROXIES = env_int("ARENA_TRUSTED_PROXIES", 0)
# Counted votes per client address (IPv6 per /64) over the last 24 hours, whatever the cookie.
ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY = env_int(
    "ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY", 200
)
# Proof of work for a new voter id (ALTCHA v1: the answer is drawn from 0..2**bits, so a solver
# tries 2**(bits-1) SHA-256 on average); 0 turns it off.
ARENA_POW_BITS = env_int("ARENA_POW_BITS", 17)
ARENA_POW_EXPIRES_S = env_int("ARENA_POW_EXPIRES_S", 600)
ARENA_WS_MAX_PER_ADDRESS = env_int("ARENA_WS_MAX_PER_ADDRESS", 20)
# A crashed process cannot hold its connections' counts longer than this.
ARENA_WS_COUNT_TTL_S = env_int("ARENA_WS_COUNT_TTL_S", 3600)
for _name, _low, _high in (
    ("ARENA_TRUSTED_PROXIES", 0, 32),
    ("ARENA_POW_BITS", 0, 32),
    ("ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY", 0, 10**9),
    ("ARENA_POW_EXPIRES_S", 10, 86400),
    ("ARENA_WS_MAX_PER_ADDRESS", 0, 10**6),
    ("ARENA_WS_COUNT_TTL_S", 10, 10**7),
):
    if not _low <= globals()[_name] <= _high:
        raise ImproperlyConfigured(
            f"{_name} must be between {_low} and {_high}, got {globals()[_name]}"
        )

# --- Leaderboards -----------------------------------------------------------------------------
ARENA_LEADERBOARD_DEBOUNCE_S = env_float("ARENA_LEADERBOARD_DEBOUNCE_S", 2.0)
ARENA_BOOTSTRAP_ROUNDS = env_int("ARENA_BOOTSTRAP_ROUNDS", 1000)
ARENA_IPW = env_bool("ARENA_IPW", False)  # weight votes by 1 / sampling probability
# Also fit ratings controlled for generation time, resolution and aspect ratio ("style control").
ARENA_STYLE_CONTROL = env_bool("ARENA_STYLE_CONTROL", True)
# A model with fewer counted votes than this is listed as provisional: no rating, interval or
# rank, and its votes stay out of the fit (an arena may set its own threshold).
ARENA_MIN_VOTES_TO_RANK = env_int("ARENA_MIN_VOTES_TO_RANK", 30)
# Adaptive pair sampling (ratings.sampling.adaptive_pair_probabilities, from the latest
# snapshot): pairs by expected information about the order of the top ARENA_SAMPLING_TOP;
# every pair keeps at least ARENA_SAMPLING_UNIFORM_MIX of its uniform probability (no model is
# starved, IPW weights stay bounded) and no model is in more than ARENA_SAMPLING_MAX_MODEL_SHARE
# of the battles (no model is flooded).
ARENA_SAMPLING_TOP = env_int("ARENA_SAMPLING_TOP", 10)
ARENA_SAMPLING_UNIFORM_MIX = env_float("ARENA_SAMPLING_UNIFORM_MIX", 0.15)
ARENA_SAMPLING_MAX_MODEL_SHARE = env_float("ARENA_SAMPLING_MAX_MODEL_SHARE", 0.25)
if not 0.0 < ARENA_SAMPLING_UNIFORM_MIX <= 1.0:
    raise ImproperlyConfigured(
        f"ARENA_SAMPLING_UNIFORM_MIX must be in (0, 1], got {ARENA_SAMPLING_UNIFORM_MIX}"
    )
if not 0.0 < ARENA_SAMPLING_MAX_MODEL_SHARE <= 1.0:
    raise ImproperlyConfigured(
        f"ARENA_SAMPLING_MAX_MODEL_SHARE must be in (0, 1], got {ARENA_SAMPLING_MAX_MODEL_SHARE}"
    )
# How many entries of the board's changelog (models added or retired, votes excluded, method
# changes) the leaderboard page shows.
ARENA_CHANGELOG_SHOWN = env_int("ARENA_CHANGELOG_SHOWN", 15)
ARENA_SNAPSHOTS_KEEP = env_int("ARENA_SNAPSHOTS_KEEP", 500)

# --- Battle privacy ---------------------------------------------------------------------------
# Battles, their outputs and pages belong to their voter; sharing is an explicit, revocable link.
# The public vote export never carries prompt text unless this is on (the leaderboard and battle
# pages then tell voters that prompts may be published).
ARENA_EXPORT_PROMPTS = env_bool("ARENA_EXPORT_PROMPTS", False)

# --- Leaderboard refresh at scale (issue 10) --------------------------------------------------
# Style control is fitted on vote cells binned by the database: generation-time differences
# (left minus right, seconds) are cut at these edges (each cell keeps its votes' mean value,
# exact when they share one); pixel-ratio and aspect-error differences are rounded to this step.
try:
    ARENA_STYLE_LATENCY_EDGES_S = sorted(
        float(edge)
        for edge in env_list(
            "ARENA_STYLE_LATENCY_EDGES_S", ["-16", "-4", "-1", "0", "1", "4", "16"]
        )
    )
except ValueError as exc:
    raise ImproperlyConfigured(
        "ARENA_STYLE_LATENCY_EDGES_S must be comma-separated numbers of seconds, e.g. -4,-1,0,1,4"
    ) from exc
ARENA_STYLE_SIZE_STEP = env_float("ARENA_STYLE_SIZE_STEP", 0.01)
# Bootstrap rounds of the style-controlled fit (its cost grows with rounds × cells; the main
# boards keep ARENA_BOOTSTRAP_ROUNDS).
ARENA_STYLE_BOOTSTRAP_ROUNDS = env_int("ARENA_STYLE_BOOTSTRAP_ROUNDS", 200)

# --- Production serving, health and metrics (make prod, /livez, /healthz, /metrics) -----------
INSTALLED_APPS += ["arena.ops"]
# Threads per web process that run HTTP requests (arena.ops.asgi); each holds at most one
# database connection while it serves a request (scripts/prod.sh sizes DB_POOL_MAX to match).
# 4, not more (issue 10, bench/README "Seventh round"): every view here is short and holds the
# GIL for most of its time, so more threads only contend for the GIL (the vote p99 at 32
# connections was 84-114 ms with 8 threads, 71-93 ms with 3 or 4); requests past 4 wait in
# the executor's queue, holding nothing. A site whose views block longer (slow uploads, say)
# may want more.
ARENA_HTTP_THREADS = env_int("ARENA_HTTP_THREADS", 4)
ARENA_HTTP_MAX_BODY_BYTES = env_int("ARENA_HTTP_MAX_BODY_BYTES", 10 * 1024 * 1024)
# Hashed, pre-compressed static files served by WhiteNoise with immutable caching; needs
# collectstatic first (scripts/prod.sh runs it), so it is opt-in.
ARENA_STATIC_MANIFEST = env_bool("ARENA_STATIC_MANIFEST", False)
if ARENA_STATIC_MANIFEST:
    STORAGES = {
        **globals().get(
            "STORAGES", {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
        ),
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
# Probes and scrapers speak plain HTTP to the process, even where the site redirects to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^livez$", r"^healthz$", r"^metrics$"]
ARENA_HEALTH_TIMEOUT_S = env_float("ARENA_HEALTH_TIMEOUT_S", 2.0)
ARENA_HEARTBEAT_S = env_float("ARENA_HEARTBEAT_S", 5.0)  # each Celery worker writes one
ARENA_HEARTBEAT_STALE_S = env_float("ARENA_HEARTBEAT_STALE_S", 30.0)  # older: worker is dead
# /healthz is down while one of these queues has no live worker.
ARENA_HEALTH_REQUIRED_QUEUES = env_list("ARENA_HEALTH_REQUIRED_QUEUES", ["default"])
# /metrics: served to these networks, or to anyone sending "Authorization: Bearer <token>".
ARENA_METRICS_TOKEN = env_str("ARENA_METRICS_TOKEN")
ARENA_METRICS_ALLOWED = env_list("ARENA_METRICS_ALLOWED", ["127.0.0.0/8", "::1/128"])
try:
    ARENA_METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(net, strict=False) for net in ARENA_METRICS_ALLOWED
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"ARENA_METRICS_ALLOWED must list networks: {exc}") from None
