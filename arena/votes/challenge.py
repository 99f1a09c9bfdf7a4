"""Proof of work for new voter ids: the ALTCHA v1 protocol, self-hosted (no third party).

A challenge is `SHA-256(salt + str(n)) == challenge` for a secret n drawn from 0..2**bits,
signed by our key and carrying its expiry in the salt. Solving costs the client 2**(bits-1)
hashes on average (~1 s on a phone at the default), checking costs us one hash. A solved
challenge is stored once (unique), so one solution verifies one voter id; the verified voter
id is remembered in the signed session, so the vote path needs no lookup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from altcha import create_challenge_v1, extract_params_v1, verify_solution_v1
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from arena.battles.errors import ArenaError, Conflict, ErrorCode, InvalidInput
from arena.battles.voters import keyed_hash
from arena.votes.models import SolvedChallenge

logger = logging.getLogger(__name__)

SESSION_KEY = "arena_pow_voter"  # the voter id that solved a challenge in this session
ALGORITHM = "SHA-256"
ENDPOINT = "/api/challenge"


class ProofOfWorkRequired(ArenaError):
    code = ErrorCode.PROOF_OF_WORK_REQUIRED


def how_to_solve() -> str:
    bits = settings.ARENA_POW_BITS
    return (
        "New voters solve a small proof-of-work challenge once before their first vote. "
        f"GET {ENDPOINT} returns {{algorithm, challenge, maxnumber, salt, signature}} "
        f"(ALTCHA v1, algorithm {ALGORITHM}, maxnumber 2**{bits}); find the integer n in "
        "[0, maxnumber] with lowercase hex SHA-256 of (salt + decimal n) equal to challenge; "
        f"POST {ENDPOINT} with JSON {{algorithm, challenge, number: n, salt, signature}} using "
        "the same session cookie, then send this vote again (same Idempotency-Key)."
    )


def pow_required() -> bool:
    return settings.ARENA_POW_BITS > 0


def _hmac_key() -> str:
    return keyed_hash("pow", "hmac-key", length=64)


def voter_is_verified(*, session: Any, voter_id: str) -> bool:
    """True when proof of work is off or this session's voter id has solved a challenge."""
    if not pow_required():
        return True
    return bool(voter_id) and session is not None and session.get(SESSION_KEY) == voter_id


@dataclass(frozen=True)
class IssuedChallenge:
    algorithm: str
    challenge: str
    maxnumber: int
    salt: str
    signature: str

    def as_dict(self) -> dict[str, object]:
        return {
            "algorithm": self.algorithm,
            "challenge": self.challenge,
            "maxnumber": self.maxnumber,
            "salt": self.salt,
            "signature": self.signature,
        }


def challenge_issue() -> IssuedChallenge:
    """A fresh signed challenge, valid for ARENA_POW_EXPIRES_S seconds."""
    expires = datetime.now(UTC) + timedelta(seconds=settings.ARENA_POW_EXPIRES_S)
    # altcha's overloads spell its optional arguments (salt, number, params) as required
    issued = create_challenge_v1(  # type: ignore[call-overload]
        algorithm=ALGORITHM,
        max_number=2**settings.ARENA_POW_BITS,
        hmac_key=_hmac_key(),
        expires=expires,
    )
    return IssuedChallenge(
        ALGORITHM, issued.challenge, issued.max_number, issued.salt, issued.signature
    )


# What POST /api/challenge accepts: the fields of an ALTCHA v1 solution.
CHALLENGE_SOLUTION_FIELDS = ("algorithm", "challenge", "number", "salt", "signature")


def _solution_parse(body: dict[str, Any]) -> dict[str, Any]:
    fields = {"algorithm": str, "challenge": str, "salt": str, "signature": str, "number": int}
    for name, kind in fields.items():
        value = body.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidInput(
                f"Send the solved challenge as JSON with {', '.join(fields)}; "
                f"'{name}' is missing or not {'an integer' if kind is int else 'text'}."
            )
    if body["algorithm"] != ALGORITHM:
        raise InvalidInput(f"algorithm must be {ALGORITHM}.")
    too_long = any(len(body[name]) > 200 for name in fields if name != "number")
    if too_long or not 0 <= body["number"] <= 2**32:
        raise InvalidInput("That is not a solution of a challenge from this site.")
    return {name: body[name] for name in fields}


def challenge_solve(*, session: Any, voter_id: str, body: dict[str, Any]) -> None:
    """Check a solution and mark this session's voter id verified.

    A wrong, forged or expired solution is a 400; a solution already used by another voter id
    is a 409 (the same voter sending it again is answered as a success).
    """
    payload = _solution_parse(body)
    # the payload is the checked JSON object; altcha's overloads want its own TypedDict
    ok, error = verify_solution_v1(  # type: ignore[call-overload]
        payload, _hmac_key(), check_expires=True
    )
    if not ok:
        if error and "expired" in error:
            raise InvalidInput(f"This challenge has expired: GET {ENDPOINT} for a new one.")
        raise InvalidInput("That is not a solution of a challenge from this site.")
    # the checked JSON object again, where altcha wants its own payload type (as above)
    expires = int(extract_params_v1(payload).get("expires", ["0"])[0])  # type: ignore[arg-type]
    expires_at = datetime.fromtimestamp(expires, tz=UTC)
    try:
        with transaction.atomic():
            SolvedChallenge.objects.filter(expires_at__lt=timezone.now()).delete()
            SolvedChallenge.objects.create(
                challenge=payload["challenge"], voter_id=voter_id, expires_at=expires_at
            )
    except IntegrityError:
        first = SolvedChallenge.objects.filter(challenge=payload["challenge"]).first()
        if first is None or first.voter_id != voter_id:
            raise Conflict(
                f"This challenge was already solved and used: GET {ENDPOINT} for a new one."
            ) from None
    session[SESSION_KEY] = voter_id
