"""Can a voter tell the contenders apart from what the page receives, before the vote?

Plays battles between fake providers that differ ONLY in how they deliver (native size, file
format, alpha, EXIF, queue delay and generation time) and draw the same kind of picture,
through the project's own generation path (claim → generate → normalise + store → finish →
WebSocket push) on an in-process SQLite database. For each side a client records what a
voter's browser can see: the served file's width, height, byte count, format, alpha and
metadata, and from `battle_state` / pushes the time each side first reads as started and as
ready, and the time of the first push. A logistic regression and a decision tree (5-fold
cross-validation; the better of the two is reported) then try to name the contender of each
side.

Run twice in one process: with the current code ("new") and with the code before issue 9
("old": the former sanitiser, which kept the provider's size and alpha, per-side statuses and
one push per finished side, patched in below), so the before/after figure is visible::

    .venv/bin/python bench/fingerprint.py [--battles 150] [--baseline-battles 40] [--json]

The goal (issue 9): on served bytes and metadata, accuracy within 5 points of chance. Time to
ready stays observable under the "together" policy (it is the slower side's time); it is
reported separately. With --json the last line is one JSON object with "accuracy" (new,
served bytes and metadata) and "chance" (fractions), plus the other figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Profile:
    """How one fake provider delivers. Everything here is invisible to voters, or should be."""

    name: str
    width: int
    height: int
    fmt: str  # PNG, JPEG or WEBP
    alpha: bool
    exif: bool
    queue_s: float  # mean delay before a worker picks the task up (GPU queue vs remote)
    median_s: float  # median generation time


PROFILES = (
    Profile("square-png", 1024, 1024, "PNG", False, False, 0.2, 3.0),
    Profile("portrait-jpeg", 512, 768, "JPEG", False, True, 0.2, 6.0),
    Profile("wide-webp-alpha", 768, 512, "WEBP", True, False, 0.2, 9.0),
    Profile("small-png-gpu", 384, 384, "PNG", True, False, 2.0, 1.5),
)
ARENA_SIZE = (512, 512)


# ------------------------------------------------------------------------------ fake provider
def render(seed: int, width: int, height: int) -> np.ndarray:
    """One random scene per battle, drawn in relative coordinates so every provider draws the
    same picture at its own native size, with per-pixel grain (detail that scales with the
    native resolution, as a real model's would)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    v = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top, bottom = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    column = (top * (1 - v) + bottom * v).astype(np.uint8)
    img = Image.fromarray(np.ascontiguousarray(np.broadcast_to(column, (height, width, 3))))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.3)
        colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
        draw.ellipse(
            [(cx - r) * width, (cy - r) * height, (cx + r) * width, (cy + r) * height], fill=colour
        )
    freq = rng.uniform(4, 20)
    stripes = 8 * np.sin(2 * np.pi * freq * np.linspace(0, 1, width, dtype=np.float32))
    grain = np.random.default_rng(seed + 1).normal(0, 6, (height, width, 1)).astype(np.float32)
    pixels = np.asarray(img, dtype=np.float32) + stripes[None, :, None] + grain
    return np.clip(pixels, 0, 255).astype(np.uint8)


def make_generator_class() -> type:
    from PIL import Image

    from generators.base import GenerationRequest, GenerationResult, Generator

    class BenchFakeGenerator(Generator):
        """Draws the battle's scene at the profile's native size, in its format."""

        kind = "bench_fake"
        queue = "default"

        def generate(self, request: GenerationRequest) -> GenerationResult:
            p = PROFILES[int(self.config.options["profile"])]  # type: ignore[call-overload]
            img = Image.fromarray(render(request.seed, p.width, p.height))
            if p.alpha:
                img.putalpha(255)
            out = io.BytesIO()
            kwargs: dict[str, Any] = {}
            if p.exif:
                exif = Image.Exif()
                exif[0x0110] = "Camera-of-" + p.name
                kwargs["exif"] = exif.tobytes()
            if p.fmt == "JPEG":
                kwargs["quality"] = 92
            if p.fmt == "PNG":
                kwargs["compress_level"] = 1  # fast; the size of the source is not observed
            img.save(out, p.fmt, **kwargs)
            return GenerationResult(
                content_type=f"image/{p.fmt.lower()}",
                data=out.getvalue(),
                used={"width": p.width, "height": p.height},
            )

    return BenchFakeGenerator


# ------------------------------------------------------------------------------ Django in-process
def django_setup(workdir: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "arena.settings",
            "ARENA_VAR_DIR": str(workdir),
            "SQLITE_PATH": str(workdir / "bench.sqlite3"),
            "MEDIA_ROOT": str(workdir / "media"),
            "SECRET_KEY": "bench-only",
            "DEBUG": "0",
            "LOG_LEVEL": "ERROR",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from generators import base

    base.REGISTRY["bench_fake"] = f"{__name__}:BenchFakeGenerator"
    globals()["BenchFakeGenerator"] = make_generator_class()


def contenders_create() -> tuple[Any, list[Any]]:
    from arena.battles.models import Arena, Contender, Prompt, Provider, RevealPolicy

    arena = Arena.objects.create(
        slug="fingerprint",
        title="Fingerprint",
        width=ARENA_SIZE[0],
        height=ARENA_SIZE[1],
        reveal_policy=RevealPolicy.TOGETHER,
    )
    provider = Provider.objects.create(name="bench", kind="bench_fake")
    contenders = []
    for k, p in enumerate(PROFILES):
        c = Contender.objects.create(name=p.name, provider=provider, parameters={"profile": k})
        c.arenas.add(arena)
        contenders.append(c)
    Prompt.objects.create(text="a scene", modality="image")
    return arena, contenders


# ------------------------------------------------------------------------------ the old code
def legacy_image_sanitize(raw: bytes, *, max_side: int) -> Any:
    """The sanitiser before issue 9: WebP at the provider's own size, alpha kept."""
    from PIL import Image, ImageOps

    from arena.battles.media import CleanImage

    with Image.open(io.BytesIO(raw)) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
        img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    clean = Image.new(img.mode, img.size)
    clean.paste(img)
    out = io.BytesIO()
    clean.save(out, format="WEBP", quality=90, method=4)
    return CleanImage(out.getvalue(), "image/webp", "webp", clean.width, clean.height)


@contextlib.contextmanager
def legacy_code() -> Iterator[None]:
    """Patch in the behaviour before issue 9: provider-sized files, per-side statuses under
    "together" (pending vs generating), and a push every time one side finishes."""
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from arena.battles import generation, selectors, services
    from arena.battles.models import OutputStatus

    new_state = selectors.battle_state

    def old_state(battle: Any) -> dict[str, object]:
        state = new_state(battle)
        outputs = sorted(battle.outputs.all(), key=lambda o: o.side != "left")
        all_ready = all(o.status == OutputStatus.READY for o in outputs)
        hold_back = battle.arena.reveal_policy == "together" and not all_ready
        for shown, output in zip(state["outputs"], outputs, strict=True):  # type: ignore[arg-type]
            status = output.status
            if status == OutputStatus.READY and hold_back:
                status = OutputStatus.GENERATING
            shown["status"] = status
        return state

    def old_store(output: Any, result: Any) -> dict[str, object]:
        clean = legacy_image_sanitize(result.data, max_side=settings.ARENA_OUTPUT_MAX_SIDE)
        name = default_storage.save(f"outputs/{output.token}.webp", ContentFile(clean.data))
        return {
            "file": name,
            "content_type": clean.content_type,
            "width": clean.width,
            "height": clean.height,
        }

    counter = iter(range(10**9))
    saved = (
        selectors.battle_state,
        services.battle_state,
        generation.battle_state,
        generation._store_file,
        generation._public_state,
    )
    selectors.battle_state = services.battle_state = generation.battle_state = old_state
    generation._store_file = old_store
    # always "changed" (a push after every side), and what is pushed is the old state
    generation._public_state = lambda battle: {**old_state(battle), "n": next(counter)}
    try:
        yield
    finally:
        (
            selectors.battle_state,
            services.battle_state,
            generation.battle_state,
            generation._store_file,
            generation._public_state,
        ) = saved


# ------------------------------------------------------------------------------ playing battles
FORMATS = {b"RIFF": 0, b"\x89PNG": 1, b"\xff\xd8\xff\xe0": 2, b"\xff\xd8\xff\xe1": 2}
SERVED = ["width", "height", "bytes", "format", "alpha", "exif"]
PARSED = ["bitstream_bytes"]  # the compressed image's own length, read from inside the file
TIMING = [
    "started_self",
    "started_other",
    "ready_self",
    "ready_other",
    "first_push",
    "pushes_before_ready",
]


def served_features(output: Any) -> list[float]:
    """What the browser gets from the output's URL (read from storage: the view streams the
    same file with the same content type)."""
    from django.core.files.storage import default_storage
    from PIL import Image

    with default_storage.open(output.file.name, "rb") as handle:
        data = handle.read()
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        alpha = float("A" in img.getbands())
        exif = float(bool(img.info.get("exif")))
    return [width, height, len(data), FORMATS.get(data[:4], 3), alpha, exif, bitstream_length(data)]


def bitstream_length(data: bytes) -> float:
    """Length of the image chunk (VP8/VP8L/PNG IDAT/...) as a parser would read it."""
    if data[:4] == b"RIFF":
        pos = 12
        while pos + 8 <= len(data):
            size = int.from_bytes(data[pos + 4 : pos + 8], "little")
            if data[pos : pos + 3] == b"VP8":
                return float(size)
            pos += 8 + size + (size & 1)
    return float(len(data))


def play(
    arena: Any, contenders: list[Any], rng: np.random.Generator, n_battles: int
) -> tuple[np.ndarray, np.ndarray]:
    """Play battles event by event in simulated time; one feature row per side."""
    from arena.battles import events, generation, selectors
    from arena.battles.models import Battle, Output, Prompt

    clock = [0.0]
    pushes: list[tuple[float, str]] = []
    original_push = events.battle_state_push

    def record(battle_id: object, state: dict[str, object]) -> None:
        pushes.append((clock[0], str(state["status"])))
        original_push(battle_id, state)

    events.battle_state_push = record
    prompt = Prompt.objects.first()
    rows, labels = [], []
    try:
        for _ in range(n_battles):
            i, j = rng.choice(len(contenders), size=2, replace=False)
            battle = Battle.objects.create(
                arena=arena,
                prompt=prompt,
                left=contenders[i],
                right=contenders[j],
                voter_id="bench",
                seed=int(rng.integers(2**31)),
            )
            outs = {
                side: Output.objects.create(
                    battle=battle, side=side, contender=battle.contender_on(side)
                )
                for side in ("left", "right")
            }
            timeline = []
            for side, k in (("left", i), ("right", j)):
                p = PROFILES[k]
                queued = rng.exponential(p.queue_s)
                took = p.median_s * float(np.exp(rng.normal(0, 0.35)))
                timeline += [(queued, 0, side), (queued + took, 1, side)]
            pushes.clear()
            seen_started: dict[str, float] = {}
            seen_ready: dict[str, float] = {}
            for at, what, side in sorted(timeline):
                clock[0] = at
                if what == 0:
                    generation._claim(outs[side].pk)
                else:
                    generation.output_generate(output_id=outs[side].pk)
                shown_battle = (
                    Battle.objects.select_related("arena", "prompt")
                    .prefetch_related("outputs")
                    .get(pk=battle.pk)
                )
                state = selectors.battle_state(shown_battle)
                for shown in state["outputs"]:  # type: ignore[union-attr]
                    if shown["status"] != "pending":
                        seen_started.setdefault(shown["side"], at)
                    if shown["url"]:
                        seen_ready.setdefault(shown["side"], at)
            ready_at = max(seen_ready.values())
            first_push = pushes[0][0] if pushes else ready_at
            before = sum(1 for t, _ in pushes if t < ready_at)
            for side, other, k in (("left", "right", i), ("right", "left", j)):
                output = Output.objects.get(pk=outs[side].pk)
                rows.append(
                    served_features(output)
                    + [
                        seen_started[side],
                        seen_started[other],
                        seen_ready[side],
                        seen_ready[other],
                        first_push,
                        before,
                    ]
                )
                labels.append(k)
    finally:
        events.battle_state_push = original_push
    return np.array(rows, dtype=np.float64), np.array(labels)


def best_accuracy(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, str]:
    """The better 5-fold cross-validated accuracy of a logistic regression and a tree."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    models = {
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "decision tree": DecisionTreeClassifier(max_depth=6, min_samples_leaf=5, random_state=seed),
    }
    scores = {
        name: float(cross_val_score(model, x, y, cv=folds).mean()) for name, model in models.items()
    }
    name = max(scores, key=lambda k: scores[k])
    return scores[name], name


def measure(
    *, battles: int = 150, seed: int = 0, legacy: bool = False, workdir: Path | None = None
) -> dict[str, Any]:
    """Play `battles` battles and score the classifiers; Django must be set up."""
    arena, contenders = contenders_create_once()
    rng = np.random.default_rng(seed + (1 if legacy else 0))
    with legacy_code() if legacy else contextlib.nullcontext():
        x, y = play(arena, contenders, rng, battles)
    chance = float(np.bincount(y).max() / len(y))
    served = list(range(len(SERVED)))
    parsed = [len(SERVED)]
    timing = list(range(len(SERVED) + 1, len(SERVED) + 1 + len(TIMING)))
    result: dict[str, Any] = {"chance": chance, "samples": int(len(y))}
    for label, cols in (
        ("served", served),
        ("parsed", served + parsed),
        ("timing", timing),
        ("all", served + parsed + timing),
    ):
        acc, model = best_accuracy(x[:, cols], y, seed)
        result[label] = {"accuracy": acc, "model": model}
    result["bytes_by_contender"] = {
        PROFILES[k].name: float(np.median(x[y == k, 2])) for k in range(len(PROFILES))
    }
    result["size_by_contender"] = {
        PROFILES[k].name: f"{int(np.median(x[y == k, 0]))}x{int(np.median(x[y == k, 1]))}"
        for k in range(len(PROFILES))
    }
    return result


_CACHE: dict[str, Any] = {}


def contenders_create_once() -> tuple[Any, list[Any]]:
    if "arena" not in _CACHE:
        _CACHE["arena"] = contenders_create()
    return _CACHE["arena"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--battles", type=int, default=150, help="battles, new code (2 sides each)")
    parser.add_argument(
        "--baseline-battles",
        type=int,
        default=40,
        help="battles with the old code (it is told apart at once)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--no-baseline", action="store_true", help="skip the old-code run")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        django_setup(Path(tmp))
        new = measure(battles=args.battles, seed=args.seed)
        old = (
            None
            if args.no_baseline
            else measure(battles=args.baseline_battles, seed=args.seed, legacy=True)
        )
    chance = new["chance"]
    print(
        f"{len(PROFILES)} fake providers, {args.battles} battles ({new['samples']} sides) "
        f"with the new code, {0 if old is None else args.baseline_battles} with the old; "
        f"chance = {chance:.3f} (most frequent contender)"
    )
    print(f"{'features':<34}{'old code':>12}{'new code':>12}")
    for label, text in (
        ("served", "served bytes and metadata"),
        ("parsed", "+ bitstream length parsed out"),
        ("timing", "timing seen by the client"),
        ("all", "everything"),
    ):
        before = f"{old[label]['accuracy']:.3f}" if old else "-"
        print(f"{text:<34}{before:>12}{new[label]['accuracy']:>12.3f}")
    print(
        "median served size / bytes per contender (new):",
        new["size_by_contender"],
        {k: int(v) for k, v in new["bytes_by_contender"].items()},
    )
    if old:
        print("median served size per contender (old):", old["size_by_contender"])
    goal = new["served"]["accuracy"] - chance <= 0.05
    print(
        f"goal (served within 5 points of chance): {'met' if goal else 'NOT met'}; "
        f"{time.perf_counter() - started:.1f} s"
    )
    if args.json:
        figures = {
            "accuracy": round(new["served"]["accuracy"], 4),
            "chance": round(chance, 4),
            "accuracy_all_features": round(new["all"]["accuracy"], 4),
            "accuracy_timing": round(new["timing"]["accuracy"], 4),
            "accuracy_parsed_bitstream": round(new["parsed"]["accuracy"], 4),
            "battles": args.battles,
            "providers": len(PROFILES),
        }
        if old:
            figures.update(
                {
                    "accuracy_old": round(old["served"]["accuracy"], 4),
                    "accuracy_old_all_features": round(old["all"]["accuracy"], 4),
                    "accuracy_old_timing": round(old["timing"]["accuracy"], 4),
                }
            )
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
