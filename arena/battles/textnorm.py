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
   `confusable-homoglyphs` package): Cyrillic "а", Greek "ο" → Latin "a", "o"; letters the
   data misses but whose Unicode name says which Latin letter they are (small capitals "ʙ",
   negative circled or squared "🅑", "🅱", letters with a stroke or hook "ø", "ƀ") fold too;
5. drop combining marks (accents, overlays, enclosing keycaps) on letters that folded to Latin:
   "bómb", "b̷omb", "b⃣" read as "bomb", "b". Marks on other scripts' letters are kept, so
   Russian "й" stays apart from "и" and Devanagari or Arabic words keep their vowel signs;
6. collapse whitespace.

The result is only ever compared or hashed, never shown.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Default-ignorable characters outside category Cf that render as nothing.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180D),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)


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
    pool = lower or letters or digits
    chosen = pool[0] if pool else None
    return chosen.casefold() if chosen else None


@functools.cache
def confusables_map() -> dict[str, str]:
    """Non-ASCII character → the ASCII letter or digit it is confusable with (TR39 data)."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        candidates = [
            h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()
        ]
        chosen = _pick(candidates)
        if chosen:
            table[char] = chosen
    return table


# Unicode names of Latin letters in disguise that the confusables data does not list.
_LATIN_NAME = re.compile(
    r"(?:NEGATIVE (?:CIRCLED|SQUARED) )?LATIN (?:CAPITAL |SMALL )?"
    r"LETTER (?:SMALL CAPITAL )?([A-Z])(?: WITH .+)?"
)
_MARKS = frozenset({"Mn", "Me"})
# Where such letters live: Latin-1 to Latin Extended-B and IPA, phonetic extensions (small
# capitals), Latin Extended Additional/C/D/E/F/G, enclosed alphanumeric supplement.
_LATIN_BLOCKS = (
    (0x80, 0x2AF),
    (0x1D00, 0x1DBF),
    (0x1E00, 0x1EFF),
    (0x2C60, 0x2C7F),
    (0xA720, 0xA7FF),
    (0xAB30, 0xAB6F),
    (0x10780, 0x107BF),
    (0x1DF00, 0x1DFFF),
    (0x1F100, 0x1F1FF),
)


@functools.cache
def named_latin_map() -> dict[str, str]:
    """Non-ASCII character → the Latin letter its name says it is ("ʙ", "🅑" → "b")."""
    table: dict[str, str] = {}
    for lo, hi in _LATIN_BLOCKS:
        for cp in range(lo, hi + 1):
            match = _LATIN_NAME.fullmatch(unicodedata.name(chr(cp), ""))
            if match:
                table[chr(cp)] = match.group(1).lower()
    return table


def _fold(ch: str, table: dict[str, str]) -> str:
    """Case-fold `ch` and map it to the Latin letter it looks like, by its own shape first:
    Cyrillic "Н" looks like "H" although its lower case "н" looks like nothing Latin. An upper
    case letter shaped like "l" is an "I" ("І" → "i")."""
    if ch.isascii():
        return ch.casefold()
    named = named_latin_map().get(ch)
    if named:  # a Latin letter by name: "Ł" is an "l", whatever it looks like
        return named
    folded = ch.casefold()
    shape = table.get(ch)
    if shape:
        return "i" if shape == "l" and folded != ch else shape
    return "".join(table.get(c, c) for c in folded)


def _folded(chars: str, table: dict[str, str]) -> str:
    """Fold each character; drop the combining marks on those that became Latin."""
    out: list[str] = []
    latin = False  # whether the last letter written folded to Latin
    for ch in chars:
        if unicodedata.category(ch) in _MARKS:
            if not latin:
                out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[0], decomposed[1:]
        if marks and all(unicodedata.category(m) in _MARKS for m in marks):
            folded = _fold(base, table)
            if folded.isascii():  # "ó" → "o": the accent goes with the look-alike
                out.append(folded)
                latin = True
                continue
        folded = _fold(ch, table)
        out.append(folded)
        latin = folded.isascii()
    return "".join(out)


def prompt_canonical(text: str) -> str:
    """The form in which look-alike prompts are equal (see the module docstring)."""
    table = confusables_map()
    visible = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not _invisible(ch))
    return " ".join(_folded(visible, table).split())
