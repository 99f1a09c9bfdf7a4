"""Videos in the one form a battle chooses (see arena.battles.media for why): a provider's file is
probed from its header (ffmpeg's banner) against limits before anything is decoded, then scaled and
cropped to the battle's size, resampled to one frame rate, trimmed or padded to one duration and
encoded at one constant bitrate; plus the poster frame shown before playback."""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from arena.battles.media import CleanImage, MediaError, image_normalise, target_size

# Video: demuxers ffmpeg may use (MP4/MOV and Matroska/WebM: what providers return). HLS,
# concat, image sequences and raw streams are refused, and only local files may be read, so a
# hostile playlist cannot make ffmpeg fetch a URL or read another file.
VIDEO_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"
VIDEO_CODEC = "libx264"
VIDEO_PRESET = "veryfast"
# Constant bitrate (with filler) by output size: the file size is set by the battle's
# resolution and duration, not by the content or the provider. (max pixels, kbit/s)
VIDEO_BITRATE_LADDER: tuple[tuple[int, int], ...] = (
    (640 * 360, 800),
    (854 * 480, 1200),
    (1280 * 720, 2500),
    (1920 * 1080, 5000),
    (10**12, 8000),
)


@dataclass(frozen=True)
class VideoLimits:
    """What a provider's video may declare before we agree to decode it."""

    max_seconds: float = 120.0
    max_side: int = 4096
    max_pixels: int = 4096 * 2304
    max_frames: int = 7200
    timeout_s: float = 120.0


@dataclass(frozen=True)
class VideoTarget:
    """The one form every video of a battle is delivered in."""

    width: int
    height: int
    fps: int
    duration_s: float

    @property
    def frames(self) -> int:
        return max(1, round(self.duration_s * self.fps))


# ------------------------------------------------------------------------------------ videos
def _ffmpeg() -> str:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise MediaError(f"ffmpeg is not available to re-encode videos: {exc}") from exc


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header declares (ffmpeg's banner; ffprobe is not shipped)."""

    width: int
    height: int
    fps: float | None
    duration_s: float | None
    codec: str | None = None  # "h264", "hevc", "vp9", ...

    @property
    def frames(self) -> float | None:
        if self.fps is None or self.duration_s is None:
            return None
        return self.fps * self.duration_s


_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (.*)")
_SIZE = re.compile(r"(?:^|[ ,])(\d{1,6})x(\d{1,6})(?:[ ,\[]|$)")
_CODEC = re.compile(r"[A-Za-z0-9_.-]+")
_RATE = re.compile(r"(\d+(?:\.\d+)?)(k?) (fps|tbr)")


def parse_ffmpeg_banner(banner: str) -> VideoInfo:
    """The first video stream's size and frame rate and the container's duration."""
    stream = _VIDEO_STREAM.search(banner)
    if stream is None:
        raise MediaError(f"not a video (no video stream): {banner[-300:]}")
    size = _SIZE.search(stream.group(1))
    if size is None:
        raise MediaError(f"the video does not declare its size: {stream.group(0)[:200]}")
    rates = {
        unit: float(value) * (1000 if k else 1) for value, k, unit in _RATE.findall(stream.group(1))
    }
    fps = rates.get("fps") or rates.get("tbr")
    found = _DURATION.search(banner)
    duration = (
        int(found.group(1)) * 3600 + int(found.group(2)) * 60 + float(found.group(3))
        if found
        else None
    )
    codec = _CODEC.match(stream.group(1))
    return VideoInfo(
        int(size.group(1)), int(size.group(2)), fps, duration, codec.group(0) if codec else None
    )


def _input_guard(limits: VideoLimits) -> list[str]:
    return [
        "-format_whitelist",
        VIDEO_DEMUXERS,
        "-protocol_whitelist",
        "file",
        "-max_pixels",
        str(limits.max_pixels),
    ]


def video_probe(path: Path, *, limits: VideoLimits) -> VideoInfo:
    """Read the header only and refuse, before any decoding, what is over the limits."""
    try:
        done = subprocess.run(
            [_ffmpeg(), "-hide_banner", "-nostdin", *_input_guard(limits), "-i", str(path)],
            capture_output=True,
            timeout=min(limits.timeout_s, 20.0),
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaError("probing the video took too long; refused") from exc
    banner = done.stderr.decode(errors="replace")
    if "Error opening input" in banner or "Invalid data found" in banner:
        raise MediaError(f"not an MP4/MOV or WebM/Matroska video: {banner.strip()[-300:]}")
    info = parse_ffmpeg_banner(banner)
    problems = []
    if max(info.width, info.height) > limits.max_side:
        problems.append(f"{info.width}×{info.height} has a side over {limits.max_side} px")
    if info.width * info.height > limits.max_pixels:
        problems.append(f"{info.width}×{info.height} is over {limits.max_pixels:,} pixels a frame")
    if info.duration_s is not None and info.duration_s > limits.max_seconds:
        problems.append(f"it lasts {info.duration_s:,.1f} s (limit {limits.max_seconds:g} s)")
    if info.frames is not None and info.frames > limits.max_frames:
        problems.append(f"it declares {info.frames:,.0f} frames (limit {limits.max_frames:,})")
    if problems:
        raise MediaError(
            "video refused before decoding: "
            + "; ".join(problems)
            + " (ARENA_VIDEO_MAX_* settings)"
        )
    return info


def video_bitrate_kbps(width: int, height: int) -> int:
    """The constant bitrate for an output size (one ladder for every provider)."""
    pixels = width * height
    return next(rate for limit, rate in VIDEO_BITRATE_LADDER if pixels <= limit)


def video_normalise(
    raw: bytes, *, target: VideoTarget, limits: VideoLimits | None = None
) -> CleanImage:
    """Probe, then decode at most the target duration and re-encode in the battle's one form:
    H.264 High, yuv420p, `target` size (scaled to cover, centre-cropped), `target.fps`,
    exactly `target.frames` frames (last frame held if the source is short), constant
    bitrate from the ladder, MP4 with faststart, no audio, no metadata."""
    limits = limits or VideoLimits()
    w, h = target.width, target.height
    if w % 2 or h % 2:
        raise ValueError(f"a video target needs even sides (yuv420p), got {w}×{h}")
    kbps = video_bitrate_kbps(w, h)
    filters = ",".join(
        [
            f"fps={target.fps}",
            f"scale={w}:{h}:force_original_aspect_ratio=increase:flags=lanczos",
            f"crop={w}:{h}",
            "setsar=1",
            f"tpad=stop_mode=clone:stop_duration={target.duration_s:g}",
            "format=yuv420p",
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp, "in"), Path(tmp, "out.mp4")
        source.write_bytes(raw)
        info = video_probe(source, limits=limits)
        command = [
            _ffmpeg(),
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            *_input_guard(limits),
            "-t",
            f"{target.duration_s:g}",
            "-i",
            str(source),
            "-map",
            "0:v:0",
            "-an",
            "-sn",
            "-dn",
            "-map_metadata",
            "-1",
            "-map_chapters",
            "-1",
            "-vf",
            filters,
            "-frames:v",
            str(target.frames),
            "-r",
            str(target.fps),
            "-c:v",
            VIDEO_CODEC,
            "-preset",
            VIDEO_PRESET,
            "-profile:v",
            "high",
            "-g",
            str(2 * target.fps),
            "-b:v",
            f"{kbps}k",
            "-minrate",
            f"{kbps}k",
            "-maxrate",
            f"{kbps}k",
            "-bufsize",
            f"{kbps}k",
            "-x264-params",
            "nal-hrd=cbr:force-cfr=1",
            "-movflags",
            "+faststart",
            "-metadata",
            "encoder=",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
            str(out),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=limits.timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise MediaError(
                f"re-encoding the video took over {limits.timeout_s:g} s; refused"
            ) from exc
        if done.returncode or not out.exists():
            detail = done.stderr.decode(errors="replace")[-300:]
            raise MediaError(f"not a decodable video: {detail}")
        data = out.read_bytes()
    return CleanImage(
        data,
        "video/mp4",
        "mp4",
        w,
        h,
        source={
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "duration_s": info.duration_s,
            "codec": info.codec,
        },
    )


def video_poster(
    data: bytes, *, width: int, height: int, limits: VideoLimits | None = None
) -> CleanImage:
    """The first frame of a normalised clip as the battle's one image form (WebP padded to
    the size's byte budget), shown by the player before the clip has loaded. Made from the
    delivered file, never from the provider's, so both sides' posters differ only in pixels."""
    limits = limits or VideoLimits()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "clip.mp4")
        source.write_bytes(data)
        try:
            done = subprocess.run(
                [
                    _ffmpeg(),
                    "-hide_banner",
                    "-nostdin",
                    "-v",
                    "error",
                    *_input_guard(limits),
                    "-i",
                    str(source),
                    "-map",
                    "0:v:0",
                    "-frames:v",
                    "1",
                    "-f",
                    "image2pipe",
                    "-c:v",
                    "png",
                    "-",
                ],
                capture_output=True,
                timeout=min(limits.timeout_s, 30.0),
            )
        except subprocess.TimeoutExpired as exc:
            raise MediaError("extracting the poster frame took too long") from exc
    if done.returncode or not done.stdout:
        raise MediaError("no poster frame: " + done.stderr.decode(errors="replace")[-300:])
    return image_normalise(done.stdout, width=width, height=height)


def video_target(
    *, width: int, height: int, fps: int, duration_s: float, max_side: int
) -> VideoTarget:
    """The battle's video form: requested size (even, capped), fps and duration."""
    if not (math.isfinite(duration_s) and duration_s > 0) or fps < 1:
        raise ValueError(f"a video needs a positive duration and fps, got {duration_s}, {fps}")
    w, h = target_size(width, height, max_side=max_side, even=True)
    return VideoTarget(w, h, fps, float(duration_s))
