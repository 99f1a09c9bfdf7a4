"""Voters' source images for image-editing battles: validated, stripped and stored privately.

An upload is hostile input like a provider's file: only PNG, JPEG and WebP are opened, the
byte size is checked before reading, the pixel count from the header before decoding, and a
truncated file is refused. The pixels are re-encoded as PNG (lossless, no EXIF/XMP/ICC/text
chunks; EXIF orientation applied first), and those exact bytes are what both sides of a
battle receive, so the vote can check (by hash) that both models edited the same input.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from PIL import Image, ImageOps

from arena.battles.errors import InvalidInput, NotFound
from arena.battles.media import ImageLimits, MediaError, image_probe, target_size
from arena.battles.models import Arena, Battle, Contender, Modality, SourceImage
from arena.battles.params import OutputForm, output_form
from arena.battles.ratelimit import creation_budget_spend
from generators.base import kind_supports_edit

logger = logging.getLogger(__name__)

UPLOAD_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
MIN_UPLOAD_SIDE = 16
# The only file names the sweep deletes: what upload_store writes (its id, perhaps with the
# storage's collision suffix). A row naming anything else (a restored backup, a hand edit)
# costs its row only, never another file.
UPLOAD_FILE_NAME = re.compile(r"uploads/[A-Za-z0-9_-]+\.png")
NOT_YOURS = "source_image is not one of your uploads; upload the image first."


def _allowed() -> str:
    return ", ".join(UPLOAD_FORMATS.values())


def upload_clean(raw: bytes) -> tuple[bytes, int, int, dict[str, object]]:
    """(PNG bytes, width, height, what was received) or InvalidInput saying what is wrong."""
    max_bytes = settings.ARENA_UPLOAD_MAX_BYTES
    if not raw:
        raise InvalidInput("The uploaded file is empty.")
    if len(raw) > max_bytes:
        raise InvalidInput(
            f"The image is {len(raw):,} bytes; the limit is {max_bytes:,} bytes "
            "(ARENA_UPLOAD_MAX_BYTES)."
        )
    try:
        fmt, width, height = image_probe(
            raw, limits=ImageLimits(max_pixels=settings.ARENA_UPLOAD_MAX_PIXELS)
        )
    except MediaError as exc:
        text = str(exc)
        if "over the decoding budget" in text:
            raise InvalidInput(
                f"The image has too many pixels; the limit is "
                f"{settings.ARENA_UPLOAD_MAX_PIXELS:,} pixels (ARENA_UPLOAD_MAX_PIXELS)."
            ) from None
        raise InvalidInput(f"The file is not an image this arena accepts ({_allowed()}).") from None
    if fmt not in UPLOAD_FORMATS:
        raise InvalidInput(f"{fmt} images are not accepted; send {_allowed()}.")
    if min(width, height) < MIN_UPLOAD_SIDE:
        raise InvalidInput(
            f"The image is {width}×{height}; each side must be at least {MIN_UPLOAD_SIDE} px."
        )
    try:
        with Image.open(io.BytesIO(raw), formats=[fmt]) as probe:
            probe.verify()
        with Image.open(io.BytesIO(raw), formats=[fmt]) as img:
            img.load()  # a truncated file fails here ("image file is truncated")
            oriented = ImageOps.exif_transpose(img)
            rgb = oriented.convert("RGBA" if "A" in oriented.getbands() else "RGB")
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise InvalidInput(
            "The image is truncated or corrupt and cannot be decoded; please upload it again."
        ) from None
    longest = settings.ARENA_UPLOAD_MAX_SIDE
    if max(rgb.size) > longest:
        rgb.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    fresh = Image.frombytes(rgb.mode, rgb.size, rgb.tobytes())  # pixels only, no info dict
    out = io.BytesIO()
    fresh.save(out, format="PNG", compress_level=3)  # level 6 costs ~5x the time for ~10 %
    received = {"format": fmt, "width": width, "height": height, "bytes": len(raw)}
    return out.getvalue(), fresh.width, fresh.height, received


def upload_store(*, raw: bytes, voter_id: str, voter_address: str = "") -> SourceImage:
    """Validate, strip and store one upload for its voter; rate-limited like new battles."""
    creation_budget_spend(
        scope="upload", voter_id=voter_id, voter_address=voter_address, what="uploads"
    )
    data, width, height, received = upload_clean(raw)
    upload = SourceImage(
        voter_id=voter_id,
        content_type="image/png",
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        size_bytes=len(data),
        received=received,
    )
    upload.file.name = default_storage.save(f"uploads/{upload.id}.png", ContentFile(data))
    upload.save()
    return upload


def upload_get_owned(*, upload_id: object, voter_id: str, staff: bool = False) -> SourceImage:
    """The voter's own upload (or any for staff); anyone else's reads like a missing one."""
    upload = None
    if isinstance(upload_id, str) and 0 < len(upload_id) <= 32:
        upload = SourceImage.objects.filter(pk=upload_id).first()
    if upload is None or not (staff or (voter_id and upload.voter_id == voter_id)):
        raise NotFound("There is no such upload.")
    return upload


def _unused(uploads: QuerySet[SourceImage]) -> QuerySet[SourceImage]:
    """Those no row points at: every model with a foreign key to SourceImage counts (battles
    here, and a higher app's, the playground's generations, without naming it)."""
    for relation in SourceImage._meta.related_objects:
        uploads = uploads.filter(**{f"{relation.name}__isnull": True})
    return uploads


def _file_delete(name: str) -> None:
    if not UPLOAD_FILE_NAME.fullmatch(name):
        logger.warning("not deleting %r: it is not a file of the uploads folder", name[:200])
        return
    try:
        default_storage.delete(name)
    except (OSError, SuspiciousFileOperation):
        logger.warning("could not delete the upload file %s", name, exc_info=True)


def uploads_delete_unused(*, now: datetime | None = None) -> int:
    """Delete uploads older than ARENA_UPLOAD_MAX_AGE_S that nothing uses, and their files
    (after commit): a voter who uploaded and never started a battle leaves no private picture
    behind. Each is re-checked under a row lock, so one just chosen for a battle is kept."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ARENA_UPLOAD_MAX_AGE_S)
    deleted = 0
    candidates = _unused(SourceImage.objects.filter(created_at__lt=cutoff))
    for pk in list(candidates.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = SourceImage.objects.select_for_update().filter(pk=pk).first()
            if locked is None or not _unused(SourceImage.objects.filter(pk=pk)).exists():
                continue
            name = locked.file.name or ""
            locked.delete()
            if name:
                transaction.on_commit(partial(_file_delete, name))
        deleted += 1
    return deleted


def battle_source_image(*, arena: Arena, voter_id: str, upload_id: object) -> SourceImage | None:
    """The upload an image-editing battle edits (required there, refused elsewhere)."""
    if arena.modality != Modality.IMAGE_EDIT:
        if upload_id is not None:
            raise InvalidInput("source_image is only accepted by image-editing arenas.")
        return None
    if upload_id is None or upload_id == "":
        raise InvalidInput(
            "This arena edits an image: upload one (POST /api/uploads) and send its id as "
            '"source_image" with the instruction as "prompt".'
        )
    if not isinstance(upload_id, str):
        raise InvalidInput("source_image must be the id returned by POST /api/uploads.")
    try:
        return upload_get_owned(upload_id=upload_id, voter_id=voter_id)
    except NotFound:
        raise InvalidInput(NOT_YOURS) from None


def source_image_hold(upload: SourceImage | None) -> SourceImage | None:
    """Called inside the transaction that writes the battle or generation: lock the upload's
    row, so the sweep (which locks it before deleting) waits for that commit and then finds
    it used; one the sweep deleted since it was checked is refused like a missing one (not
    an IntegrityError at commit)."""
    if upload is None:
        return None
    held = SourceImage.objects.select_for_update(no_key=True).filter(pk=upload.pk).first()
    if held is None:
        raise InvalidInput(NOT_YOURS)
    return held


def editing_contenders(contenders: list[Contender]) -> list[Contender]:
    """Those whose provider kind has an image-edit endpoint (the admin keeps the others out of
    editing arenas; this keeps one added another way out of the draw)."""
    return [c for c in contenders if kind_supports_edit(c.provider.kind)]


def source_image_bytes(upload: SourceImage) -> bytes:
    with default_storage.open(upload.file.name or "", "rb") as handle:
        data: bytes = handle.read()
    return data


def edit_output_form(battle: Battle) -> OutputForm:
    """An editing battle's one output form: the voter's chosen aspect ratio when the arena
    offers one, else the source image's own shape at the arena's pixel area (an edit keeps
    the picture's framing); the same for both sides."""
    arena = battle.arena
    params = battle.params or {}
    max_side = settings.ARENA_OUTPUT_MAX_SIDE
    if "aspect_ratio" in params or "resolution" in params or battle.source_image is None:
        return output_form(
            params=params,
            width=arena.width,
            height=arena.height,
            duration_s=None,
            max_side=max_side,
            even=False,
        )
    source = battle.source_image
    scale = math.sqrt(arena.width * arena.height / (source.width * source.height))
    w, h = target_size(
        max(1, round(source.width * scale)), max(1, round(source.height * scale)), max_side=max_side
    )
    g = math.gcd(w, h)
    return OutputForm(w, h, None, f"{w // g}:{h // g}")


def sample_source_image(width: int, height: int) -> bytes:
    """A picture to edit for the admin's "Test generate" of an editing-only contender: a
    colour gradient with a dark square (so mirror, rotate and recolour all show)."""
    import numpy as np

    w, h = max(16, min(width, 1024)), max(16, min(height, 1024))
    xs = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    ys = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    pixels = np.stack(
        [np.broadcast_to(xs, (h, w)), np.broadcast_to(ys, (h, w)), np.full((h, w), 160.0)], -1
    )
    pixels[h // 5 : h // 2, w // 5 : w // 2] = 30
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()
