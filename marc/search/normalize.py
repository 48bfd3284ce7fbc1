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
from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+")
_EXTRA_FOLDS = str.maketrans({"đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "œ": "oe"})

# Sentinel tokens around each value of a "phrase" index, so that "first in
# field" and "complete field" searches are phrases anchored on them.  They are
# letters no folded text produces (U+01C2 is not the output of any fold).
VALUE_START = "ǂb"
VALUE_END = "ǂe"


def _character_class(codes: list[int]) -> str:
    """A regular expression character class matching exactly these code points (ascending)."""
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in ranges) + "]"


_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK = re.compile(f"[{_CJK_RANGES}]")
_NON_WORD = re.compile(r"[\W_]+")
# Joins texts folded together: the subfield delimiter, which no value read from ISO 2709 holds.
_SEPARATOR = "\x1f"
# ASCII bytes that are no word character (all but letters and digits) become spaces; the separator stays.
_ASCII_NON_WORD_TO_SPACE = bytes(
    code if chr(code).isalnum() or chr(code) == _SEPARATOR or code > 127 else ord(" ") for code in range(256)
)
# A word (``_WORD``) is made of pieces: runs of CJK characters and runs of other word characters.
_PIECE = re.compile(f"(?:(?![\\W_])[{_CJK_RANGES}])+|(?:(?![\\W_{_CJK_RANGES}]).)+")

# Every character with a combining class (all of them lie in planes 0 and 1), as
# two character classes: a class that mixes in astral characters is checked
# range by range, several times slower, so those are only looked for where
# the text has astral characters at all.
_COMBINING_CODES = [code for code in range(0x20000) if unicodedata.combining(chr(code))]
_BMP_MARKS = re.compile(_character_class([code for code in _COMBINING_CODES if code <= 0xFFFF]) + "+")
_ASTRAL_MARKS = re.compile(_character_class([code for code in _COMBINING_CODES if code > 0xFFFF]) + "+")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_EXTRA_FOLDED = re.compile(_character_class(sorted(_EXTRA_FOLDS)))


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
    """Lower-case, strip diacritics, apply a few letter folds NFKD does not do.

    Character by character, except where a character's neighbours count (NFC,
    final sigma), so text joined with a control character (``\\x1f``) folds
    to its folded pieces joined with that character."""
    if text.isascii():
        return text.lower()
    stripped = _strip_marks(unicodedata.normalize("NFKD", _extra_folds(text)))
    if stripped.isascii():  # NFC and the letter folds change no ASCII
        return stripped.lower()
    return _extra_folds(unicodedata.normalize("NFC", stripped).lower())


def _extra_folds(text: str) -> str:
    """``text.translate(_EXTRA_FOLDS)``: a regular expression finds the few letters faster."""
    return _EXTRA_FOLDED.sub(_extra_fold_of, text)


def _extra_fold_of(letter: re.Match[str]) -> str:
    return _EXTRA_FOLDS[ord(letter.group())]


def _strip_marks(text: str) -> str:
    """The text without its combining characters."""
    text = _BMP_MARKS.sub("", text)
    return _ASTRAL_MARKS.sub("", text) if _ASTRAL.search(text) else text


def _split_cjk(word: str) -> list[str]:
    """Split a word into non-CJK pieces and CJK bigram sequences."""
    out: list[str] = []
    for piece in _PIECE.findall(word):
        if is_cjk(piece[0]):
            out.extend(piece[i : i + 2] for i in range(len(piece) - 1))
            out.append(piece[-1])
        else:
            out.append(piece)
    return out


def tokens(text: str) -> list[str]:
    """The index tokens of a text, in order."""
    folded = fold(text)
    if not _CJK.search(folded):  # most catalogue text: its words are its tokens
        return _WORD.findall(folded)
    return _split_cjk(folded)


def folded_token_text(folded: str) -> str:
    """``" ".join(tokens(text))`` for text already folded, without the list for text without CJK."""
    if not _CJK.search(folded):
        return _NON_WORD.sub(" ", folded).strip(" ")
    return " ".join(_split_cjk(folded))


def token_texts(texts: Sequence[str]) -> list[str]:
    """For each text, its tokens joined by single spaces (``" ".join(tokens(text))``).

    All the texts are folded in one call, joined by a separator: ``fold``
    works character by character except where neighbours count (NFC, final
    sigma), and a control character stops both.  Folded ASCII (most catalogue
    text, Vietnamese too once its tones are gone) is split into words by a
    byte translation instead of a regular expression."""
    folded = fold(_SEPARATOR.join(texts))
    if folded.isascii():
        pieces = folded.encode("ascii").translate(_ASCII_NON_WORD_TO_SPACE).decode("ascii").split(_SEPARATOR)
        if len(pieces) == len(texts):
            return [" ".join(piece.split()) for piece in pieces]  # only letters, digits and spaces are left
    else:
        pieces = folded.split(_SEPARATOR)
        if len(pieces) == len(texts):
            return [folded_token_text(piece) for piece in pieces]
    return [folded_token_text(fold(text)) for text in texts]  # a text held the separator


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
