"""Text normalisation shared by indexing and querying, so both sides agree.

- Case and diacritics are folded (NFKD, combining marks dropped, đ -> d), so
  Vietnamese ``Tiếng Việt`` and ``tieng viet`` give the same tokens.
- Runs of CJK characters (written without spaces) become overlapping character
  bigrams followed by the run's last character as a unigram:
  ``图书馆`` -> ``图书 书馆 馆``.  Every character then starts some token, so a
  one-character query is a prefix query, and a longer one is a phrase of bigrams.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")
_EXTRA_FOLDS = str.maketrans({"đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "œ": "oe"})

# Sentinel tokens around each value of a "phrase" index, so that "first in
# field" and "complete field" searches are phrases anchored on them.  They are
# letters no folded text produces (U+01C2 is not the output of any fold).
VALUE_START = "ǂb"
VALUE_END = "ǂe"


_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]")


def is_cjk(ch: str) -> bool:
    """Han, kana, hangul and their punctuation-free neighbours: scripts written without spaces."""
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x2FA1F  # extensions B..F, compatibility supplement
    )


def fold(text: str) -> str:
    """Lower-case, strip diacritics, apply a few letter folds NFKD does not do."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).lower().translate(_EXTRA_FOLDS)


def _split_cjk(word: str) -> list[str]:
    """Split a word into non-CJK pieces and CJK bigram sequences."""
    if not _CJK.search(word):
        return [word]
    out: list[str] = []
    run = ""
    plain = ""
    for ch in word + " ":
        if is_cjk(ch):
            if plain:
                out.append(plain)
                plain = ""
            run += ch
            continue
        if run:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
            out.append(run[-1])
            run = ""
        if ch != " ":
            plain += ch
    if plain:
        out.append(plain)
    return out


def tokens(text: str) -> list[str]:
    """The index tokens of a text, in order.

    Most catalogue text has no CJK at all: one search of the whole folded
    text spares those the per-word CJK check."""
    folded = fold(text)
    words = _WORD.findall(folded)
    if not _CJK.search(folded):
        return words
    out: list[str] = []
    for word in words:
        out.extend(_split_cjk(word))
    return out


def query_tokens(text: str) -> list[str]:
    """Tokens of a query term.  A CJK run gives its bigrams only (no trailing
    unigram), so that ``图书馆`` is the phrase ``图书 书馆``; a lone CJK
    character stays a unigram (searched as a prefix by the caller)."""
    out: list[str] = []
    for word in _WORD.findall(fold(text)):
        pieces = _split_cjk(word)
        i = 0
        while i < len(pieces):
            piece = pieces[i]
            out.append(piece)
            if len(piece) == 2 and is_cjk(piece[0]) and i + 1 < len(pieces) and len(pieces[i + 1]) == 1 and is_cjk(pieces[i + 1]):
                i += 2  # skip the run's trailing unigram
                continue
            i += 1
    return out


def is_lone_cjk(token: str) -> bool:
    return len(token) == 1 and is_cjk(token)


def identifier(text: str) -> str:
    """ISBN/ISSN as compared: hyphens and spaces dropped (``0022-2259`` -> ``00222259``)."""
    return text.replace("-", "").replace(" ", "").lower()
