"""What ffmpeg says about served video bytes, for tests: the banner (read by the arena's own
parser, arena.battles.media_video.parse_ffmpeg_banner) and, when decoded, the frame count."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from arena.battles.media_video import VideoInfo, parse_ffmpeg_banner


@dataclass(frozen=True)
class Probe:
    text: str  # ffmpeg's stderr: the banner, and the decoding log when decoded
    info: VideoInfo  # size, fps and duration from the banner
    frames: int  # frames decoded (0 when not decoded)


def video_probe_bytes(
    data: bytes, tmp_path: Path, *, decode: bool = True, timeout_s: float = 60
) -> Probe:
    """Write `data` under `tmp_path` and ask ffmpeg about it; `decode` also decodes the first
    video stream to count its frames (slower)."""
    import imageio_ffmpeg

    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    decoding = ["-map", "0:v:0", "-f", "null", "-"] if decode else []
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path), *decoding],
        capture_output=True,
        timeout=timeout_s,
    )
    text = done.stderr.decode(errors="replace")
    frames = [int(n) for n in re.findall(r"frame=\s*(\d+)", text)]
    return Probe(text, parse_ffmpeg_banner(text), frames[-1] if frames else 0)
