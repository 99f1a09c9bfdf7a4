"""The OpenAPI 3.1 description of the public JSON API (served at /api/openapi.json)."""

from __future__ import annotations

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, object], description: str) -> dict[str, object]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, object]:
    text = {400: "Bad input", 403: "Forbidden or CSRF failure", 404: "Not found",
            409: "Conflict", 503: "Temporarily unavailable; retry"}
    return {str(code): _json(_ERROR, text[code]) for code in codes}


_MODEL = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "organization": {"type": "string"},
        "demo": {"type": "boolean"},
    },
    "required": ["name", "organization"],
}

OPENAPI: dict[str, object] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Arena API",
        "version": "1.0",
        "description": (
            "Pairwise model-evaluation arena. Unsafe methods need Django's CSRF token: GET "
            "/api/arenas sets the `csrftoken` cookie; send its value in `X-CSRFToken`. The "
            "anonymous voter is the session cookie. No field names a model before the vote."
        ),
    },
    "paths": {
        "/api/arenas": {
            "get": {
                "summary": "List arenas",
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
                "summary": "Start a battle between two anonymous models",
                "parameters": [{"$ref": "#/components/parameters/Slug"}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "prompt": {"type": "string", "minLength": 1,
                                               "maxLength": 2000},
                                    "random_prompt": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/Battle"}, "Battle created"),
                    **_errors(400, 403, 404, 503),
                },
            }
        },
        "/api/arenas/{slug}/leaderboard": {
            "get": {
                "summary": "The arena's leaderboard",
                "parameters": [{"$ref": "#/components/parameters/Slug"}],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Leaderboard"}, "Leaderboard"),
                    **_errors(404),
                },
            }
        },
        "/api/battles/{id}": {
            "get": {
                "summary": "A battle's public state",
                "parameters": [{"$ref": "#/components/parameters/BattleId"}],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Battle"}, "Battle"),
                    **_errors(404),
                },
            }
        },
        "/api/battles/{id}/vote": {
            "post": {
                "summary": "Vote, then learn which models they were",
                "parameters": [
                    {"$ref": "#/components/parameters/BattleId"},
                    {"name": "Idempotency-Key", "in": "header", "required": False,
                     "schema": {"type": "string", "maxLength": 100},
                     "description": "Retrying with the same key never stores a second vote."},
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
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "battle": {"type": "string", "format": "uuid"},
                                "choice": {"type": "string"},
                                "replayed": {"type": "boolean"},
                                "left": _MODEL,
                                "right": _MODEL,
                            },
                        },
                        "Vote stored; both models revealed",
                    ),
                    **_errors(400, 403, 404, 409, 503),
                },
            }
        },
    },
    "components": {
        "parameters": {
            "Slug": {"name": "slug", "in": "path", "required": True,
                     "schema": {"type": "string"}},
            "BattleId": {"name": "id", "in": "path", "required": True,
                         "schema": {"type": "string", "format": "uuid"}},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {"code": {"type": "string"},
                                       "message": {"type": "string"}},
                    }
                },
            },
            "Arena": {
                "type": "object",
                "properties": {"slug": {"type": "string"}, "title": {"type": "string"},
                               "modality": {"enum": ["image", "video", "text"]}},
            },
            "Output": {
                "type": "object",
                "properties": {
                    "side": {"enum": ["left", "right"]},
                    "label": {"enum": ["A", "B"]},
                    "status": {"enum": ["pending", "generating", "ready", "failed"]},
                    "url": {"type": ["string", "null"]},
                    "content_type": {"type": ["string", "null"]},
                    "text": {"type": ["string", "null"]},
                },
            },
            "Battle": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "arena": {"type": "string"},
                    "modality": {"type": "string"},
                    "status": {"enum": ["pending", "generating", "ready", "voted", "failed",
                                        "abandoned"]},
                    "prompt": {"type": "string"},
                    "outputs": {"type": "array",
                                "items": {"$ref": "#/components/schemas/Output"}},
                    "failure": {"type": ["string", "null"]},
                    "vote": {"type": ["object", "null"]},
                    "reveal": {"type": ["object", "null"]},
                },
            },
            "Leaderboard": {
                "type": "object",
                "properties": {
                    "votes": {"type": "integer"},
                    "computed_at": {"type": ["string", "null"]},
                    "method": {"type": "string"},
                    "rows": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "rank": {"type": "integer"},
                                "model": {"type": "string"},
                                "organization": {"type": "string"},
                                "rating": {"type": "number"},
                                "votes": {"type": "integer"},
                                "win_rate": {"type": ["number", "null"]},
                            },
                        },
                    },
                },
            },
        },
    },
}
