"""The OpenAPI 3.1 description of the public JSON API (served at /api/openapi.json).

tests/fuzz/test_schemathesis.py fuzzes a live server from this document and checks every
response against it, so it must stay accurate: a new field or status belongs here first.
"""

from __future__ import annotations

from typing import Any

from arena.battles.errors import ErrorCode, codes_with_status

JSON = dict[str, Any]  # a piece of the document (JSON: any value under a key)

_ERROR: JSON = {"$ref": "#/components/schemas/Error"}
_RETRY_AFTER: JSON = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_NUMBER_OR_NULL = {"type": ["number", "null"]}


def _json(schema: JSON, description: str, headers: JSON | None = None) -> JSON:
    response: JSON = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response


def _error_text(status: int) -> str:
    """Every code with this status and its meaning, from the one table of error codes."""
    return "; ".join(f"{code}: {code.meaning}" for code in codes_with_status(status))


def _errors(*codes: int) -> dict[Any, Any]:  # unpacked into literals of any shape
    return {
        str(code): _json(
            _ERROR, _error_text(code), headers=_RETRY_AFTER if code in (429, 503) else None
        )
        for code in codes
    }


def _object(
    properties: dict[str, object], *, required: list[str] | None = None, **extra: object
) -> dict[str, object]:
    schema: dict[str, object] = {"type": "object", "properties": properties}
    if required is not None:
        schema["required"] = required
    schema.update(extra)
    return schema


_MODEL = _object(
    {
        "name": {"type": "string"},
        "organization": {"type": "string"},
        "demo": {"type": "boolean", "description": "A CPU demo contender, not a real model."},
    },
    required=["name", "organization", "demo"],
)

_ROW = _object(
    {
        "rank": {
            "type": ["integer", "null"],
            "minimum": 1,
            "description": "1 + the number of models whose interval lies wholly above "
            "this one's; null for a provisional model.",
        },
        "provisional": {
            "type": "boolean",
            "description": "Fewer counted votes than the arena's minimum: votes "
            "and win rate only, no rating, interval or rank, and "
            "its votes stay out of the fit.",
        },
        "retired": {"type": "boolean", "description": "No longer drawn; its votes count."},
        "contender_id": {
            "type": ["integer", "null"],
            "description": "The model's id: stable when its display name changes.",
        },
        "model": {"type": "string"},
        "organization": {"type": "string"},
        "demo": {"type": "boolean"},
        "rating": {
            **_NUMBER_OR_NULL,
            "description": "Bradley-Terry rating (Elo scale); null before any vote.",
        },
        "ci_low": {**_NUMBER_OR_NULL, "description": "Bootstrap confidence interval, low end."},
        "ci_high": {**_NUMBER_OR_NULL, "description": "Bootstrap confidence interval, high end."},
        "elo": {**_NUMBER_OR_NULL, "description": "Online Elo, for comparison."},
        "votes": {"type": "integer", "minimum": 0},
        "wins": {"type": "integer", "minimum": 0},
        "losses": {"type": "integer", "minimum": 0},
        "ties": {"type": "integer", "minimum": 0},
        "win_rate": _NUMBER_OR_NULL,
        "style_rating": {
            **_NUMBER_OR_NULL,
            "description": "Style-controlled rating; present only when style "
            "control is identified.",
        },
        "style_ci_low": _NUMBER_OR_NULL,
        "style_ci_high": _NUMBER_OR_NULL,
        "ipw_rating": {
            **_NUMBER_OR_NULL,
            "description": "Inverse-probability-weighted rating (ARENA_IPW).",
        },
        "ipw_ci_low": _NUMBER_OR_NULL,
        "ipw_ci_high": _NUMBER_OR_NULL,
    },
    required=[
        "rank",
        "model",
        "organization",
        "demo",
        "rating",
        "ci_low",
        "ci_high",
        "elo",
        "votes",
        "wins",
        "losses",
        "ties",
        "win_rate",
    ],
)

_SLUG = {
    "name": "slug",
    "in": "path",
    "required": True,
    "description": "The arena's slug (GET /api/arenas lists them).",
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "example": "text-to-image",
}
_BATTLE_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}

OPENAPI: dict[str, object] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Arena API",
        "version": "1.1",
        "description": (
            "Pairwise model-evaluation arena. Unsafe methods need Django's CSRF token: GET "
            "/api/arenas sets the `csrftoken` cookie; send its value in `X-CSRFToken`. The "
            "anonymous voter is the session cookie. No field names a model before the vote. "
            'Every error is JSON `{"error": {"code", "message"}}` with a message meant '
            "for a person; a method an endpoint does not accept gets 405 with `Allow`. A "
            "request body with a field the endpoint does not know is a 400 that names it."
        ),
    },
    "paths": {
        "/api/arenas": {
            "get": {
                "operationId": "listArenas",
                "summary": "List arenas (and set the CSRF cookie)",
                "responses": {
                    "200": _json(
                        {"type": "array", "items": {"$ref": "#/components/schemas/Arena"}},
                        "Arenas",
                    )
                },
            }
        },
        "/api/arenas/{slug}/battles": {
            "post": {
                "operationId": "createBattle",
                "summary": "Start a battle between two anonymous models",
                "description": (
                    "Send a prompt, or `random_prompt: true` to take one from the arena's "
                    "prompt bank. Control characters are dropped and outer whitespace "
                    "stripped; the prompt is otherwise stored and returned as sent. "
                    "`params` chooses among what the arena offers (its `params` in GET "
                    "/api/arenas; what is left out takes the first offered value); a "
                    "parameter or value the arena does not offer is a 400 that lists the "
                    "offered ones. Both outputs are delivered in exactly the chosen aspect "
                    "ratio, resolution and duration. `mode: side_by_side` with `models: "
                    "[id_a, id_b]` (ids from /api/arenas/{slug}/models, two different enabled "
                    "models) makes a named side-by-side battle: the names show from the start "
                    "(`models` in the state), model A is the first id, and its vote is stored "
                    "but never counted in the leaderboard nor in the default vote export."
                ),
                "parameters": [{"$ref": "#/components/parameters/Slug"}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "prompt": {"type": "string", "minLength": 1, "maxLength": 2000},
                                    "random_prompt": {"type": "boolean"},
                                    "params": {"$ref": "#/components/schemas/BattleParams"},
                                    "source_image": {
                                        "type": "string",
                                        "description": "Image-editing arenas (required "
                                        "there): the id of your upload (POST /api/uploads); "
                                        "the prompt is the edit instruction.",
                                    },
                                    "mode": {"enum": ["anonymous", "side_by_side"]},
                                    "models": {
                                        "type": "array",
                                        "items": {"type": "integer", "minimum": 1},
                                        "minItems": 2,
                                        "maxItems": 2,
                                        "description": "Side by side only: model A, model B.",
                                    },
                                },
                                "additionalProperties": False,
                                "anyOf": [
                                    {"required": ["prompt"]},
                                    {
                                        "required": ["random_prompt"],
                                        "properties": {"random_prompt": {"const": True}},
                                    },
                                ],
                            },
                            "examples": {
                                "typed": {"value": {"prompt": "a red fox in the snow"}},
                                "random": {"value": {"random_prompt": True}},
                                "with_params": {
                                    "value": {
                                        "prompt": "a red fox in the snow",
                                        "params": {"aspect_ratio": "16:9"},
                                    }
                                },
                                "side_by_side": {
                                    "value": {
                                        "prompt": "a red fox in the snow",
                                        "mode": "side_by_side",
                                        "models": [1, 2],
                                    }
                                },
                            },
                        }
                    },
                },
                "responses": {
                    "201": {
                        **_json({"$ref": "#/components/schemas/Battle"}, "Battle created"),
                        "links": {
                            "GetBattle": {
                                "operationId": "getBattle",
                                "parameters": {"id": "$response.body#/id"},
                            },
                            "CastVote": {
                                "operationId": "castVote",
                                "parameters": {"id": "$response.body#/id"},
                            },
                        },
                    },
                    **_errors(400, 403, 404, 413, 415, 429, 503),
                },
            }
        },
        "/api/arenas/{slug}/leaderboard": {
            "get": {
                "operationId": "getLeaderboard",
                "summary": "The arena's latest leaderboard (overall or one prompt category)",
                "parameters": [
                    {"$ref": "#/components/parameters/Slug"},
                    {
                        "name": "category",
                        "in": "query",
                        "required": False,
                        "description": "One of the board's `categories`; empty or absent: all.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "description": "json (the whole board) or csv (its table: rank, model, "
                        "organization, demo, rating, ci_low, ci_high, elo, "
                        "style_rating, votes, win_rate).",
                        "schema": {"enum": ["json", "csv"], "default": "json"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "Leaderboard",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Leaderboard"}
                            },
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(400, 404),
                },
            }
        },
        "/api/arenas/{slug}/models": {
            "get": {
                "operationId": "listArenaModels",
                "summary": "The arena's enabled models (who they are; never a battle's sides)",
                "parameters": [{"$ref": "#/components/parameters/Slug"}],
                "responses": {
                    "200": _json(
                        {"type": "array", "items": {"$ref": "#/components/schemas/ArenaModel"}},
                        "Models, by name",
                    ),
                    **_errors(404),
                },
            }
        },
        "/api/arenas/{slug}/votes": {
            "get": {
                "operationId": "exportVotes",
                "summary": "Every counted vote, for researchers (`python -m ratings` reads it)",
                "description": (
                    "One row per counted vote: battle_id, model_a, model_b, winner (model_a, "
                    "model_b, tie, tie (bothbad)), timestamp, voter (a pseudonym) and "
                    "category. battle_id is a pseudonym too (24 hex characters, stable across "
                    "downloads): it resolves to no battle. Never an address, a session or a "
                    "raw voter id, and no prompt text unless the operator publishes prompts "
                    "(ARENA_EXPORT_PROMPTS=1 adds a `prompt` column and the pages say so; it is "
                    "empty for battles made before that, when voters were told prompts stay "
                    "private)."
                ),
                "parameters": [
                    {"$ref": "#/components/parameters/Slug"},
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["jsonl", "csv"], "default": "jsonl"},
                    },
                    {
                        "name": "mode",
                        "in": "query",
                        "required": False,
                        "description": "anonymous (the default): the counted votes; "
                        "side_by_side: the votes of named side-by-side battles, which are "
                        "never counted.",
                        "schema": {"enum": ["anonymous", "side_by_side"], "default": "anonymous"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The votes, as a download",
                        "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
                        "content": {
                            "application/x-ndjson": {"schema": {"type": "string"}},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(400, 404),
                },
            }
        },
        "/api/arenas/{slug}/generations": {
            "post": {
                "operationId": "createGeneration",
                "summary": "Playground: run one model you choose on your prompt",
                "description": (
                    "`model` is an id from /api/arenas/{slug}/models; `params` chooses among "
                    "what the arena offers, exactly as for a battle (a value not offered is a "
                    "400 that lists the offered ones). Moderated and rate-limited like "
                    "battles (the same budget). The output is delivered in the chosen form and "
                    "only its requester can read it. Nothing here is voted on or counted."
                ),
                "parameters": [{"$ref": "#/components/parameters/Slug"}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _object(
                                {
                                    "model": {"type": "integer", "minimum": 1},
                                    "prompt": {"type": "string", "minLength": 1, "maxLength": 2000},
                                    "params": {"$ref": "#/components/schemas/BattleParams"},
                                },
                                required=["model", "prompt"],
                                additionalProperties=False,
                            ),
                            "examples": {
                                "video": {
                                    "value": {
                                        "model": 1,
                                        "prompt": "waves rolling onto a beach at dawn",
                                        "params": {"aspect_ratio": "9:16", "duration_s": 4},
                                    }
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "201": {
                        **_json({"$ref": "#/components/schemas/Generation"}, "Generation queued"),
                        "links": {
                            "GetGeneration": {
                                "operationId": "getGeneration",
                                "parameters": {"id": "$response.body#/id"},
                            }
                        },
                    },
                    **_errors(400, 403, 404, 413, 415, 429, 503),
                },
            }
        },
        "/api/generations/{id}": {
            "get": {
                "operationId": "getGeneration",
                "summary": "One of your playground generations",
                "description": (
                    "Only the voter who asked for it (the session cookie) can read it; for "
                    "anyone else it does not exist (404). Poll until `status` is ready or "
                    "failed."
                ),
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Generation"}, "The generation"),
                    **_errors(404),
                },
            }
        },
        "/api/battles/{id}": {
            "get": {
                "operationId": "getBattle",
                "summary": "One of your battles",
                "description": (
                    "Only the voter who created the battle (the session cookie) can read it; "
                    "for anyone else it does not exist (404). After the vote its voter may "
                    "make a public share link (POST /api/battles/{id}/share)."
                ),
                "parameters": [{"$ref": "#/components/parameters/BattleId"}],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Battle"}, "Battle"),
                    **_errors(404),
                },
            }
        },
        "/api/battles/{id}/vote": {
            "post": {
                "operationId": "castVote",
                "summary": "Vote, then learn which models they were",
                "parameters": [
                    {"$ref": "#/components/parameters/BattleId"},
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 100},
                        "description": (
                            "Retrying with the same key never stores a second vote: the first "
                            "answer comes back with `replayed: true`. No control characters."
                        ),
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["choice"],
                                "properties": {
                                    "choice": {"enum": ["left", "right", "tie", "both_bad"]}
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        _object(
                            {
                                "battle": {"type": "string", "format": "uuid"},
                                "choice": {"enum": ["left", "right", "tie", "both_bad"]},
                                "replayed": {"type": "boolean"},
                                "counted": {"type": "boolean"},
                                "not_counted_reason": {"type": ["string", "null"]},
                                "left": _MODEL,
                                "right": _MODEL,
                            },
                            required=[
                                "battle",
                                "choice",
                                "replayed",
                                "counted",
                                "not_counted_reason",
                                "left",
                                "right",
                            ],
                        ),
                        "Vote stored; both models revealed",
                    ),
                    **_errors(400, 403, 404, 409, 413, 415, 428, 429, 503),
                },
            }
        },
        "/api/battles/{id}/share": {
            "post": {
                "operationId": "shareBattle",
                "summary": "Make a public link to your voted battle (opt-in)",
                "description": (
                    "The link (`/s/<token>`) shows anyone the prompt, both outputs, the models' "
                    "names and the vote. Only the battle's voter, only after the vote. Asking "
                    "again returns the same link (200)."
                ),
                "parameters": [{"$ref": "#/components/parameters/BattleId"}],
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/Share"}, "Share link created"),
                    "200": _json(
                        {"$ref": "#/components/schemas/Share"}, "Already shared: the same link"
                    ),
                    **_errors(400, 403, 404, 409, 413, 415, 503),
                },
            },
            "delete": {
                "operationId": "unshareBattle",
                "summary": "Revoke the share link (its page and files then read as missing)",
                "parameters": [{"$ref": "#/components/parameters/BattleId"}],
                "responses": {
                    "204": {"description": "Not shared (any more)"},
                    **_errors(403, 404, 503),
                },
            },
        },
        "/api/uploads": {
            "post": {
                "operationId": "uploadImage",
                "summary": "Upload an image to edit (image-editing arenas)",
                "description": (
                    "Multipart form with one file field `image`: PNG, JPEG or WebP, at most "
                    "ARENA_UPLOAD_MAX_BYTES bytes and ARENA_UPLOAD_MAX_PIXELS pixels (checked "
                    "from the header before decoding), each side at least 16 px. Truncated "
                    "files are refused. The pixels are re-encoded (no metadata) and stored "
                    "privately: only you can fetch `url`. Send `id` as `source_image` when "
                    "starting a battle. Rate-limited like new battles."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "image": {"type": "string", "contentEncoding": "binary"}
                                },
                                "required": ["image"],
                                "additionalProperties": False,
                            },
                        }
                    },
                },
                "responses": {
                    "201": _json(
                        _object(
                            {
                                "id": {"type": "string"},
                                "url": {"type": "string"},
                                "width": {"type": "integer", "minimum": 1},
                                "height": {"type": "integer", "minimum": 1},
                            },
                            required=["id", "url", "width", "height"],
                        ),
                        "Stored",
                    ),
                    **_errors(400, 403, 413, 415, 429, 503),
                },
            }
        },
        "/api/challenge": {
            "get": {
                "operationId": "getChallenge",
                "summary": "The proof of work a new voter solves once before voting",
                "description": (
                    "ALTCHA v1, self-hosted. `verified: true` when this session's voter needs "
                    "none (already solved, or proof of work is off). Otherwise find the "
                    "integer n in [0, maxnumber] whose lowercase hex SHA-256 of salt + "
                    "decimal n equals `challenge`, and POST it here."
                ),
                "responses": {
                    "200": _json(
                        _object(
                            {
                                "verified": {"type": "boolean"},
                                "algorithm": {"enum": ["SHA-256"]},
                                "challenge": {"type": "string"},
                                "maxnumber": {"type": "integer", "minimum": 1},
                                "salt": {"type": "string"},
                                "signature": {"type": "string"},
                            },
                            required=["verified"],
                        ),
                        "Verified, or a challenge to solve",
                    ),
                    **_errors(503),
                },
            },
            "post": {
                "operationId": "solveChallenge",
                "summary": "Send the solution; this session's voter id is then verified",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _object(
                                {
                                    "algorithm": {"enum": ["SHA-256"]},
                                    "challenge": {"type": "string"},
                                    "number": {"type": "integer", "minimum": 0},
                                    "salt": {"type": "string"},
                                    "signature": {"type": "string"},
                                },
                                required=["algorithm", "challenge", "number", "salt", "signature"],
                                additionalProperties=False,
                            )
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        _object({"verified": {"const": True}}, required=["verified"]), "Verified"
                    ),
                    **_errors(400, 403, 409, 413, 415, 503),
                },
            },
        },
    },
    "components": {
        "parameters": {"Slug": _SLUG, "BattleId": _BATTLE_ID},
        "schemas": {
            "Error": _object(
                {
                    "error": _object(
                        {
                            "code": {"enum": [str(code) for code in ErrorCode]},
                            "message": {"type": "string", "minLength": 1},
                        },
                        required=["code", "message"],
                    )
                },
                required=["error"],
            ),
            "Arena": _object(
                {
                    "slug": {"type": "string"},
                    "title": {"type": "string"},
                    "modality": {"enum": ["image", "video", "text", "image_edit"]},
                    "params": _object(
                        {
                            "aspect_ratio": {"type": "array", "items": {"type": "string"}},
                            "resolution": {"type": "array", "items": {"type": "string"}},
                            "duration_s": {"type": "array", "items": {"type": "number"}},
                        },
                        additionalProperties=False,
                        description="What a voter may choose per battle (first value: the "
                        "default); empty when the arena offers no choice.",
                    ),
                },
                required=["slug", "title", "modality", "params"],
            ),
            "ArenaModel": _object(
                {
                    "id": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Its page: /arena/{slug}/models/{id}/",
                    },
                    "name": {"type": "string"},
                    "organization": {"type": "string"},
                    "license": {"type": "string"},
                    "link": {"type": "string", "description": "Its home page; empty if none."},
                    "demo": {
                        "type": "boolean",
                        "description": "A CPU demo contender, not a real model.",
                    },
                },
                required=["id", "name", "organization", "license", "link", "demo"],
            ),
            "BattleParams": _object(
                {
                    "aspect_ratio": {"type": "string", "examples": ["16:9"]},
                    "resolution": {"type": "string", "examples": ["720p"]},
                    "duration_s": {"type": "number", "examples": [4]},
                },
                additionalProperties=False,
                description="Generation parameters, among those the arena offers.",
            ),
            "Output": _object(
                {
                    "side": {"enum": ["left", "right"]},
                    "label": {"enum": ["A", "B"]},
                    "status": {"enum": ["pending", "generating", "ready", "failed"]},
                    "url": {"type": ["string", "null"]},
                    "content_type": {"type": ["string", "null"]},
                    "poster": {
                        "type": ["string", "null"],
                        "description": "Videos: the first frame (WebP), shown before "
                        "the clip has loaded.",
                    },
                    "text": {"type": ["string", "null"]},
                },
                required=["side", "label", "status", "url", "content_type", "poster", "text"],
            ),
            "Share": _object(
                {
                    "url": {
                        "type": "string",
                        "pattern": "^/s/[-_A-Za-z0-9]+$",
                        "description": "The public page's path on this site.",
                    }
                },
                required=["url"],
            ),
            "Battle": _object(
                {
                    "id": {"type": "string", "format": "uuid"},
                    "arena": {"type": "string"},
                    "modality": {"enum": ["image", "video", "text", "image_edit"]},
                    "status": {
                        "enum": ["pending", "generating", "ready", "voted", "failed", "abandoned"]
                    },
                    "prompt": {"type": "string"},
                    "params": {"$ref": "#/components/schemas/BattleParams"},
                    "source_image": {
                        "type": ["string", "null"],
                        "description": "Image-editing battles: the URL of your upload "
                        "(only you can fetch it); null otherwise.",
                    },
                    "mode": {"enum": ["anonymous", "side_by_side"]},
                    "models": {
                        "description": "Side by side: both names from the start; anonymous: "
                        "null (see reveal after the vote).",
                        "oneOf": [
                            {"type": "null"},
                            _object({"left": _MODEL, "right": _MODEL}, required=["left", "right"]),
                        ],
                    },
                    "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Output"}},
                    "failure": {"type": ["string", "null"]},
                    "vote": {
                        "oneOf": [
                            {"type": "null"},
                            _object(
                                {
                                    "choice": {"enum": ["left", "right", "tie", "both_bad"]},
                                    "counted": {"type": "boolean"},
                                    "not_counted_reason": {"type": ["string", "null"]},
                                },
                                required=["choice", "counted", "not_counted_reason"],
                            ),
                        ]
                    },
                    "reveal": {
                        "oneOf": [
                            {"type": "null"},
                            _object({"left": _MODEL, "right": _MODEL}, required=["left", "right"]),
                        ]
                    },
                },
                required=[
                    "id",
                    "arena",
                    "modality",
                    "status",
                    "prompt",
                    "params",
                    "mode",
                    "models",
                    "outputs",
                    "failure",
                    "vote",
                    "reveal",
                ],
            ),
            "Generation": _object(
                {
                    "id": {"type": "string", "format": "uuid"},
                    "arena": {"type": "string"},
                    "modality": {"enum": ["image", "video", "text"]},
                    "model": _object(
                        {
                            "id": {"type": "integer"},
                            "name": {"type": "string"},
                            "organization": {"type": "string"},
                            "demo": {"type": "boolean"},
                        },
                        required=["id", "name", "organization", "demo"],
                    ),
                    "prompt": {"type": "string"},
                    "params": {"$ref": "#/components/schemas/BattleParams"},
                    "status": {"enum": ["pending", "generating", "ready", "failed"]},
                    "url": {
                        "type": ["string", "null"],
                        "description": "The output (private to you) once ready.",
                    },
                    "content_type": {"type": ["string", "null"]},
                    "poster": {"type": ["string", "null"]},
                    "text": {"type": ["string", "null"]},
                    "delivered": {
                        "type": ["object", "null"],
                        "description": "The form the output was delivered in (width, height, "
                        "aspect_ratio; for video fps and duration_s).",
                    },
                    "failure": {"type": ["string", "null"]},
                },
                required=[
                    "id",
                    "arena",
                    "modality",
                    "model",
                    "prompt",
                    "params",
                    "status",
                    "url",
                    "content_type",
                    "poster",
                    "text",
                    "delivered",
                    "failure",
                ],
            ),
            "Leaderboard": _object(
                {
                    "arena": {"type": "string"},
                    "title": {"type": "string"},
                    "method": {
                        "enum": ["elo", "bt"],
                        "description": "bt: a stored snapshot; elo: live Elo before "
                        "the first snapshot.",
                    },
                    "category": {"type": "string", "description": "Empty: all prompts."},
                    "categories": {"type": "array", "items": {"type": "string"}},
                    "votes": {"type": "integer", "minimum": 0},
                    "computed_at": {"type": ["string", "null"]},
                    "rows": {"type": "array", "items": _ROW},
                    "matrices": _object(
                        {
                            "models": {"type": "array", "items": {"type": "string"}},
                            "battle_counts": {
                                "type": "array",
                                "items": {"type": "array", "items": {"type": "number"}},
                            },
                            "win_fraction": {
                                "type": "array",
                                "items": {"type": "array", "items": _NUMBER_OR_NULL},
                            },
                            "predicted_win": {
                                "type": "array",
                                "items": {"type": "array", "items": _NUMBER_OR_NULL},
                            },
                        }
                    ),
                    "excluded": {
                        "type": "object",
                        "description": "Stored votes that do not count, by reason.",
                        "additionalProperties": _object(
                            {"count": {"type": "integer", "minimum": 0}, "why": {"type": "string"}},
                            required=["count", "why"],
                        ),
                    },
                    "position_bias": _object(
                        {
                            "left_wins": {"type": "integer", "minimum": 0},
                            "decisive_votes": {"type": "integer", "minimum": 0},
                            "left_win_rate": _NUMBER_OR_NULL,
                            "ci_low": _NUMBER_OR_NULL,
                            "ci_high": _NUMBER_OR_NULL,
                        },
                        description="How often the left side wins decisive votes (empty "
                        "before the first snapshot).",
                    ),
                    "params": {
                        "type": "object",
                        "description": "How the snapshot was fitted; `recipe` is the "
                        "`python -m ratings` command that recomputes "
                        "the board from the vote export.",
                    },
                    "changes": {
                        "type": "array",
                        "description": "What moved the board, newest first.",
                        "items": _object(
                            {
                                "at": {"type": "string"},
                                "kind": {"type": "string"},
                                "text": {"type": "string"},
                            },
                            required=["at", "kind", "text"],
                        ),
                    },
                },
                required=[
                    "arena",
                    "title",
                    "method",
                    "category",
                    "categories",
                    "votes",
                    "computed_at",
                    "rows",
                    "matrices",
                    "excluded",
                    "position_bias",
                ],
            ),
        },
    },
}
