"""Text shown to people: user text made safe to print, token labels."""

from __future__ import annotations

import unicodedata

# Bidirectional controls can reorder what follows them on screen (the "Trojan Source" trick).
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # C0 controls as their Control Pictures: ESC -> ␛, NUL -> ␀
    if code == 0x7F:
        return "\u2421"  # ␡
    if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
        return f"\\u{code:04x}"
    return ch


def visible(text: str) -> str:
    """``text`` with every control character shown as a visible symbol, never sent raw.

    ESC (the start of every ANSI escape sequence) becomes ␛, other C0 controls their
    Control Pictures (␀, ␍, ␈ ...), and C1 controls, bidirectional overrides and line
    separators an escape such as ``\\u202e``. Printable text is left as it is.
    """
    if text.isprintable():
        return text
    return "".join(_visible_char(ch) for ch in text)
