"""Figures measured by tests (votes sent/stored/lost, faults injected, fuzz cases), printed at
the end of the run so CI logs show them, and written as JSON when ARENA_FIGURES_DIR is set."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RECORDED: dict[str, dict[str, Any]] = {}


def record(name: str, figures: dict[str, Any]) -> None:
    RECORDED[name] = figures
    target = os.environ.get("ARENA_FIGURES_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        Path(target, f"{name}.json").write_text(json.dumps(figures, indent=2))


def announce(config: Any, name: str, line: str, figures: dict[str, Any]) -> None:
    """Print a figures line at once, even with output captured, and record the figures."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line)
    else:
        with capture.global_and_fixture_disabled():
            print("\n" + line)
    record(name, figures)
