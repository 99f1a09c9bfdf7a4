"""Arenas, the models that play in them (contenders), prompts, battles and their outputs."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from arena.battles.textnorm import prompt_canonical
from generators.base import kind_choices


class Modality(models.TextChoices):
    IMAGE = "image", "Text to image"
    VIDEO = "video", "Text to video"
    TEXT = "text", "Text"
    IMAGE_EDIT = "image_edit", "Image editing (upload + instruction)"


class RevealPolicy(models.TextChoices):
    TOGETHER = "together", "Both together (speed cannot betray a model)"
    AS_READY = "as_ready", "Each as soon as it is ready"


class Arena(models.Model):
    """One leaderboard's world: a modality, its generation parameters and vote rules."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    modality = models.CharField(max_length=16, choices=Modality.choices, default=Modality.IMAGE)
    reveal_policy = models.CharField(
        max_length=16, choices=RevealPolicy.choices, default=RevealPolicy.TOGETHER
    )
    both_bad_counts_as_tie = models.BooleanField(
        default=True, help_text="Count 'both are bad' as a tie in ratings (else exclude it)."
    )
    width = models.PositiveIntegerField(default=512)
    height = models.PositiveIntegerField(default=512)
    duration_s = models.FloatField(null=True, blank=True, help_text="Video arenas only.")
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text="What voters may choose per battle, first value the default; e.g. video: "
        '{"aspect_ratio": ["16:9", "9:16", "1:1"], "resolution": ["480p", "720p"], '
        '"duration_s": [4, 8]}; images: {"aspect_ratio": ["1:1", "16:9"]}. Empty: '
        "every battle uses the width, height and duration above.",
    )
    generation_timeout_s = models.PositiveIntegerField(
        default=180, help_text="A side not ready after this long fails the battle."
    )
    is_active = models.BooleanField(default=True)
    min_votes_to_rank = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A model with fewer counted votes is provisional (no rank, no interval, out "
        "of the fit); empty: ARENA_MIN_VOTES_TO_RANK.",
    )
    style_control = models.BooleanField(
        null=True,
        blank=True,
        help_text="Also fit ratings controlled for generation time, resolution and aspect "
        "ratio; empty: ARENA_STYLE_CONTROL.",
    )
    instant_stock = models.PositiveIntegerField(
        default=0,
        help_text="Instant battles: keep this many battles drawn by the sampler and made in "
        "advance on bank prompts (at the default parameters, two outputs each), so a "
        "random-prompt battle opens at once; 0: off (every battle is generated live).",
    )
    instant_daily_outputs = models.PositiveIntegerField(
        default=500,
        help_text="Instant battles: at most this many outputs made in advance per 24 hours.",
    )
    instant_daily_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Instant battles: at most this much spent in advance per 24 hours (the "
        "providers' cost per output); empty: no cost cap.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    @property
    def rank_min_votes(self) -> int:
        """Counted votes a model needs to be ranked here."""
        from django.conf import settings

        value = self.min_votes_to_rank
        return settings.ARENA_MIN_VOTES_TO_RANK if value is None else int(value)

    @property
    def style_control_on(self) -> bool:
        from django.conf import settings

        return settings.ARENA_STYLE_CONTROL if self.style_control is None else self.style_control

    def clean(self) -> None:
        from arena.battles.params import arena_params_problems

        problems = arena_params_problems(self.params, modality=self.modality)
        if problems:
            raise ValidationError({"params": problems})


# One member per kind of generators.base.REGISTRY (adding a kind is one generators module plus
# its registry line; the admin's choices follow). ``ProviderKind.DEMO == "demo"``.
# the functional Enum API, which django-stubs does not type for (name, (value, label)) members
ProviderKind = models.TextChoices(  # type: ignore[call-overload]
    "ProviderKind", [(kind.upper(), (kind, label)) for kind, label in kind_choices()]
)


class Provider(models.Model):
    """Where outputs come from. The API key is never stored: only the variable that holds it."""

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    base_url = models.URLField(blank=True, max_length=500)
    api_key_env = models.CharField(
        max_length=80,
        blank=True,
        help_text="Name of the environment variable holding the API key (never the key itself).",
    )
    timeout_s = models.FloatField(default=120.0, validators=[MinValueValidator(1.0)])
    max_concurrency = models.PositiveIntegerField(default=4)
    cost_per_output = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contender(models.Model):
    """A registered model that plays in one or more arenas."""

    name = models.CharField(max_length=120, unique=True)
    organization = models.CharField(max_length=120, blank=True)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="contenders")
    model_id = models.CharField(max_length=200, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    arenas = models.ManyToManyField(Arena, related_name="contenders", blank=True)
    enabled = models.BooleanField(default=True)
    sampling_weight = models.FloatField(default=1.0, validators=[MinValueValidator(0.0)])
    license = models.CharField(max_length=120, blank=True)
    link = models.URLField(blank=True)
    added_at = models.DateTimeField(auto_now_add=True)
    failure_streak = models.PositiveIntegerField(
        default=0, editable=False, help_text="Outputs failed in a row (a success resets it)."
    )
    paused_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when the provider failed ARENA_PAUSE_AFTER_FAILURES outputs in a row: "
        'the sampler skips it until a "Test generate" succeeds.',
    )
    paused_reason = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_demo(self) -> bool:
        return self.provider.kind == ProviderKind.DEMO


def normalise_prompt(text: str) -> str:
    """Look-alike prompts (fullwidth, Cyrillic/Greek letters, invisible characters) are one."""
    return prompt_canonical(text)


def prompt_hash(text: str) -> str:
    return hashlib.sha256(normalise_prompt(text).encode()).hexdigest()


class Prompt(models.Model):
    class Source(models.TextChoices):
        USER = "user", "Typed by a voter"
        BANK = "bank", "Prompt bank"

    text = models.TextField()
    text_hash = models.CharField(max_length=64, db_index=True, editable=False)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.USER)
    modality = models.CharField(max_length=16, choices=Modality.choices, default=Modality.IMAGE)
    category = models.CharField(max_length=60, blank=True, db_index=True)
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.text[:80]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.text_hash = prompt_hash(self.text)
        super().save(*args, **kwargs)


class BattleStatus(models.TextChoices):
    PENDING = "pending"
    GENERATING = "generating"
    READY = "ready"
    VOTED = "voted"
    FAILED = "failed"
    ABANDONED = "abandoned"


class BattleMode(models.TextChoices):
    """Anonymous battles feed the leaderboard; named side-by-side ones never do."""

    ANONYMOUS = "anonymous", "Anonymous (counted)"
    SIDE_BY_SIDE = "side_by_side", "Named side by side (never counted)"


class Side(models.TextChoices):
    LEFT = "left"
    RIGHT = "right"


class Battle(models.Model):
    """Two anonymous outputs for one prompt, positions random, owned by one voter."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    arena = models.ForeignKey(Arena, on_delete=models.PROTECT, related_name="battles")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="battles")
    left = models.ForeignKey(Contender, on_delete=models.PROTECT, related_name="+")
    right = models.ForeignKey(Contender, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=BattleStatus.choices, default=BattleStatus.PENDING, db_index=True
    )
    voter_id = models.CharField(max_length=64, db_index=True)
    voter_address = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Keyed hash of the client address."
    )
    seed = models.PositiveIntegerField()
    mode = models.CharField(
        max_length=16,
        choices=BattleMode.choices,
        default=BattleMode.ANONYMOUS,
        editable=False,
        help_text="Side by side: the voter chose both models and saw their names, so its vote "
        "is stored but never counted.",
    )
    sampling_probability = models.FloatField(
        null=True, blank=True, help_text="Probability the sampler drew this pair (for IPW)."
    )
    failure_reason = models.CharField(max_length=300, blank=True)
    params = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="The generation parameters chosen for this battle (the same for both sides).",
    )
    source_image = models.ForeignKey(
        "SourceImage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="battles",
        editable=False,
        help_text="Image-editing battles: the voter's upload both sides edit.",
    )
    share_token = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Set when the voter chose to share the voted battle: /s/<token> is public.",
    )
    shared_at = models.DateTimeField(null=True, blank=True, editable=False)
    prompt_publishable = models.BooleanField(
        default=False,
        editable=False,
        help_text="The page warned that prompts may be published when this battle was made "
        "(ARENA_EXPORT_PROMPTS was on): only then may the export carry its prompt.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(left=models.F("right")), name="battle_distinct_contenders"
            )
        ]

    def __str__(self) -> str:
        return f"Battle {self.id}"

    def contender_on(self, side: str) -> Contender:
        return self.left if side == Side.LEFT else self.right


def new_output_token() -> str:
    return secrets.token_urlsafe(24)


def new_share_token() -> str:
    return secrets.token_urlsafe(24)


class OutputStatus(models.TextChoices):
    PENDING = "pending"
    GENERATING = "generating"
    READY = "ready"
    FAILED = "failed"


class OutputResult(models.Model):
    """What one generation returns, and the opaque token it is stored and served under: the
    columns shared by a battle's side (Output), a side made in advance (InstantOutput) and a
    playground run (playground.Generation). All three are filled by the same pipeline
    (generation.py: the generator call, _store_file's normalisation); one place for these
    columns keeps the three alike."""

    token = models.CharField(max_length=64, unique=True, default=new_output_token, editable=False)
    file = models.FileField(upload_to="outputs/", blank=True)
    poster = models.FileField(
        upload_to="outputs/",
        blank=True,
        help_text="Videos: the first frame, shown before the clip loads.",
    )
    content_type = models.CharField(max_length=64, blank=True)
    text = models.TextField(blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    params_used = models.JSONField(default=dict, blank=True)
    params_mapped = models.JSONField(default=dict, blank=True)
    latency_s = models.FloatField(null=True, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True, help_text="Provider's text, for operators only.")
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class Output(OutputResult):
    """One side of a battle. Served only through its opaque token."""

    battle = models.ForeignKey(Battle, on_delete=models.CASCADE, related_name="outputs")
    side = models.CharField(max_length=5, choices=Side.choices)
    contender = models.ForeignKey(
        Contender,
        on_delete=models.PROTECT,
        related_name="outputs",
        null=True,
        help_text="Who made it (kept per output for provider health and cost reports).",
    )
    created_at = models.DateTimeField(auto_now_add=True, null=True)
    status = models.CharField(
        max_length=16, choices=OutputStatus.choices, default=OutputStatus.PENDING
    )
    seed = models.BigIntegerField(null=True, blank=True)
    input_sha256 = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Image editing: SHA-256 of the source image bytes sent to the provider "
        "(both sides must match, or the vote does not count).",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["battle", "side"]
        constraints = [
            models.UniqueConstraint(fields=["battle", "side"], name="output_one_per_side")
        ]

    def __str__(self) -> str:
        return f"{self.battle_id} {self.side}"


def new_upload_id() -> str:
    return secrets.token_urlsafe(18)


class SourceImage(models.Model):
    """A voter's upload for image editing: re-encoded (no metadata), private to its voter."""

    id = models.CharField(primary_key=True, max_length=32, default=new_upload_id, editable=False)
    voter_id = models.CharField(max_length=64, db_index=True)
    file = models.FileField(upload_to="uploads/")
    content_type = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    received = models.JSONField(default=dict, blank=True, help_text="What was uploaded.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Upload {self.id}"


class ProviderCheck(models.Model):
    """An operator's "test generate" run, kept as evidence of a provider's health."""

    contender = models.ForeignKey(Contender, on_delete=models.CASCADE, related_name="checks")
    ok = models.BooleanField()
    prompt = models.TextField()
    latency_s = models.FloatField(null=True, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    params_used = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.contender} {'ok' if self.ok else self.error_code} at {self.created_at}"


class InstantOutput(OutputResult):
    """One side of a battle drawn and made in advance on a bank prompt (instant battles, see
    instant.py); the two sides share `draw`.

    Single use: a battle that takes it owns its file from then on, and no other battle ever
    gets the same bytes. Served to several voters, an output would let anyone who saw it
    revealed once recognise its model in a later battle (a dictionary of bytes → model), which
    is all a vote stuffer needs."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="instant_outputs")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    contender = models.ForeignKey(Contender, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=16, choices=OutputStatus.choices, default=OutputStatus.PENDING
    )
    fingerprint = models.CharField(
        max_length=64,
        editable=False,
        help_text="Hash of the provider, model, options and form it was made with: stock of "
        "a changed contender or arena is never served.",
    )
    seed = models.BigIntegerField()
    params = models.JSONField(default=dict, blank=True)
    # OutputResult's cost, with what it holds before the output is made.
    cost = models.DecimalField(
        max_digits=10,
        decimal_places=5,
        null=True,
        blank=True,
        help_text="The provider's cost per output when queued (its reported cost once made).",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    consumed_by = models.ForeignKey(
        Battle, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    consumed_at = models.DateTimeField(null=True, blank=True)
    draw = models.UUIDField(
        null=True,
        blank=True,
        editable=False,
        db_index=True,
        help_text="The pre-drawn battle this output is one side of (the other has the same).",
    )
    side = models.CharField(max_length=5, choices=Side.choices, blank=True)
    sampling_probability = models.FloatField(
        null=True,
        blank=True,
        help_text="Probability of the sampler's draw of this pair at fill time (for IPW); "
        "the battle that takes it stores it.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["arena", "contender", "fingerprint", "status"],
                condition=models.Q(consumed_at__isnull=True),
                name="instant_stock_claim",
            )
        ]

    def __str__(self) -> str:
        return f"Instant output {self.pk} ({self.contender_id}, {self.status})"
