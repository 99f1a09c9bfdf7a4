"""Votes (one per battle, enforced by the database) and the live Elo standings."""

from __future__ import annotations

from django.db import models

from arena.battles.models import Arena, Battle, Contender
from ratings.outcomes import Winner


class Choice(models.TextChoices):
    LEFT = "left", "Left is better"
    RIGHT = "right", "Right is better"
    TIE = "tie", "Tie"
    BOTH_BAD = "both_bad", "Both are bad"


OUTCOME_OF_CHOICE: dict[str, int] = {
    Choice.LEFT: Winner.A.value,
    Choice.RIGHT: Winner.B.value,
    Choice.TIE: Winner.TIE.value,
    Choice.BOTH_BAD: Winner.BOTH_BAD.value,
}
"""A vote's choice as the :class:`ratings.Winner` code every ratings function reads (the one
mapping between the two spellings; plain ints so SQL parameters stay integers)."""


class InvalidReason(models.TextChoices):
    """Why a stored vote does not count. The vote is kept; the leaderboard says how many."""

    IDENTITY_LEAKED = "identity_leaked", "An output revealed a model's identity"
    TOO_FAST = "too_fast", "Cast faster than the minimum time after both outputs were shown"
    DAILY_CAP = "daily_cap", "Over the voter's daily cap of counted votes"
    REPEATED_PROMPT = "repeated_prompt", "The voter already voted on the same prompt"
    FLAGGED_VOTER = "flagged_voter", "The voter was flagged by the abuse detector"
    NO_ADDRESS = "no_address", "Sent without a usable network address"
    ADDRESS_BUDGET = (
        "address_budget",
        ("Over the daily budget of counted votes from one network address"),
    )
    INPUT_MISMATCH = (
        "input_mismatch",
        "Image editing: the two sides were not sent identical source image bytes",
    )
    SIDE_BY_SIDE = "side_by_side", "A named side-by-side battle (never counted)"


# What the voter is told (only the voter: the share page and the export never say) when a
# stored vote does not count, addressed to them; "" for a counted vote.
VOTER_REASON: dict[str, str] = {
    InvalidReason.IDENTITY_LEAKED: "an output showed a model's name, so the vote was not blind",
    InvalidReason.TOO_FAST: "it came too soon after both outputs were shown; take a moment to "
    "look at both",
    InvalidReason.DAILY_CAP: "you have reached today's limit of counted votes",
    InvalidReason.REPEATED_PROMPT: "you already voted on this prompt in this arena; try a new "
    "prompt",
    InvalidReason.FLAGGED_VOTER: "votes from this browser are held back by the abuse checks",
    InvalidReason.NO_ADDRESS: "your network address could not be read",
    InvalidReason.ADDRESS_BUDGET: "your network has reached today's limit of counted votes",
    InvalidReason.INPUT_MISMATCH: "the two models were not given the same source image",
    InvalidReason.SIDE_BY_SIDE: "side-by-side votes, where you saw the names, never count "
    "toward the leaderboard",
}


def voter_reason(reason: str) -> str | None:
    """Why a vote did not count, in the voter's words (None when it counted)."""
    if not reason:
        return None
    return VOTER_REASON.get(reason, "it broke one of the arena's vote rules")


class Vote(models.Model):
    battle = models.OneToOneField(Battle, on_delete=models.PROTECT, related_name="vote")
    choice = models.CharField(max_length=10, choices=Choice.choices)
    voter_id = models.CharField(max_length=64, db_index=True)
    voter_address = models.CharField(max_length=64, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    seconds_to_vote = models.FloatField(null=True, blank=True)
    is_valid = models.BooleanField(default=True)
    invalid_reason = models.CharField(max_length=32, blank=True, choices=InvalidReason.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The vote path counts a voter's and an address's counted votes of the last day:
            # only counted votes are indexed, so an address far over its budget stays cheap.
            models.Index(
                fields=["voter_id", "created_at"],
                condition=models.Q(is_valid=True),
                name="vote_counted_by_voter",
            ),
            models.Index(
                fields=["voter_address", "created_at"],
                condition=models.Q(is_valid=True),
                name="vote_counted_by_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.choice} on {self.battle_id}"


class EloRating(models.Model):
    """Online Elo (order dependent, the live number) and counts per contender and arena."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="elo_ratings")
    contender = models.ForeignKey(Contender, on_delete=models.CASCADE, related_name="elo_ratings")
    rating = models.FloatField(default=1000.0)
    votes = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    ties = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["arena", "contender"], name="elo_one_per_arena")
        ]

    def __str__(self) -> str:
        return f"{self.contender_id} in {self.arena_id}: {self.rating:.1f}"

    @property
    def win_rate(self) -> float | None:
        if not self.votes:
            return None
        return (self.wins + 0.5 * self.ties) / self.votes


class FlaggedVoter(models.Model):
    """A voter whose choices look automated or adversarial; their votes are kept, not counted."""

    voter_id = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    flagged_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.voter_id}: {self.reason}"


class SolvedChallenge(models.Model):
    """A proof-of-work challenge solved by a voter id. Unique, so one solution verifies one
    voter id only; kept until the challenge has expired (then it could not be replayed)."""

    challenge = models.CharField(max_length=128, unique=True)
    voter_id = models.CharField(max_length=64)
    expires_at = models.DateTimeField(db_index=True)
    solved_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.voter_id} solved {self.challenge[:12]}"
