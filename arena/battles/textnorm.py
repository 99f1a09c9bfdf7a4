"""One canonical form of a prompt, for the blocklist and the repeated-prompt rule.

Two prompts that look the same to a person must look the same here, or a blocked term passes
in fullwidth, Cyrillic or Greek look-alike letters or with invisible characters inside it, and
a voter repeats one prompt under many hashes. The steps:

1. NFKC (fullwidth and other compatibility forms become their plain letters: "ｗ" → "w");
2. drop invisible characters: Unicode format characters (category Cf: zero-width space and
   joiners, soft hyphen, bidi controls, ...), variation selectors, the combining grapheme
   joiner and the Hangul fillers;
3. case-fold;
4. fold look-alikes to Latin through Unicode's confusables data (TR39, as shipped by the
   `confusable-homoglyphs` package): Cyrillic "а", Greek "ο" → Latin "a", "o";
5. collapse whitespace.

The result is only ever compared or hashed, never shown.
"""

from __future__ import annotations

import functools
import unicodedata

# Default-ignorable characters outside category Cf that render as nothing.
_INVISIBLE_RANGES = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180D),
                     (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0),
                     (0xE0100, 0xE01EF))


def _invisible(ch: str) -> bool:
    if unicodedata.category(ch) == "Cf":
        return True
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _INVISIBLE_RANGES)


def _pick(candidates: list[str]) -> str | None:
    """The Latin letter (or digit) a character looks like: lower-case letters first."""
    letters = sorted(c for c in candidates if c.isalpha())
    lower = [c for c in letters if c.islower()]
    digits = sorted(c for c in candidates if c.isdigit())
    chosen = (lower or letters or digits or [None])[0]
    return chosen.casefold() if chosen else None


@functools.cache
def confusables_map() -> dict[str, str]:
    """Non-ASCII character → the ASCII letter or digit it is confusable with (TR39 data)."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        candidates = [h["c"] for h in homoglyphs
                      if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()]
        chosen = _pick(candidates)
        if chosen:
            table[char] = chosen
    return table


def _fold(ch: str, table: dict[str, str]) -> str:
    """Case-fold `ch` and map it to the Latin letter it looks like, by its own shape first:
    Cyrillic "Н" looks like "H" although its lower case "н" looks like nothing Latin. An upper
    case letter shaped like "l" is an "I" ("І" → "i")."""
    if ch.isascii():
        return ch.casefold()
    folded = ch.casefold()
    shape = table.get(ch)
    if shape:
        return "i" if shape == "l" and folded != ch else shape
    return "".join(table.get(c, c) for c in folded)


def prompt_canonical(text: str) -> str:
    """The form in which look-alike prompts are equal (see the module docstring)."""
    table = confusables_map()
    visible = (ch for ch in unicodedata.normalize("NFKC", text) if not _invisible(ch))
    return " ".join("".join(_fold(ch, table) for ch in visible).split())
