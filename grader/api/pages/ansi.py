"""ANSI colour codes to HTML: escaped text in ``<span class="ansi-...">``; every other escape is dropped.

Only SGR sequences (``ESC [ ... m``) with the 16 standard colours, bold, dim, italic and underline are
kept, as classes (so the page's Content-Security-Policy can forbid inline styles); 256-colour and RGB
codes fall back to the default colour. Cursor movement, OSC titles and other control sequences vanish.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

# CSI sequences (ESC [ params final), OSC sequences (ESC ] ... BEL or ESC \), and lone two-byte escapes.
_ESCAPE = re.compile(r"\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class _Style:
    fg: str = ""
    bg: str = ""
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False

    def classes(self) -> str:
        names = [f"ansi-fg-{self.fg}" if self.fg else "", f"ansi-bg-{self.bg}" if self.bg else ""]
        names += [
            n
            for n, on in (
                ("ansi-bold", self.bold),
                ("ansi-dim", self.dim),
                ("ansi-italic", self.italic),
                ("ansi-underline", self.underline),
            )
            if on
        ]
        return " ".join(n for n in names if n)


def _apply(style: _Style, params: str) -> _Style:
    codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")] if params else [0]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            style = _Style()
        elif code == 1:
            style = replace(style, bold=True)
        elif code == 2:
            style = replace(style, dim=True)
        elif code == 3:
            style = replace(style, italic=True)
        elif code == 4:
            style = replace(style, underline=True)
        elif code == 22:
            style = replace(style, bold=False, dim=False)
        elif code == 23:
            style = replace(style, italic=False)
        elif code == 24:
            style = replace(style, underline=False)
        elif 30 <= code <= 37 or 90 <= code <= 97:
            style = replace(style, fg=str(code - 30 if code < 90 else code - 90 + 8))
        elif 40 <= code <= 47 or 100 <= code <= 107:
            style = replace(style, bg=str(code - 40 if code < 100 else code - 100 + 8))
        elif code == 39:
            style = replace(style, fg="")
        elif code == 49:
            style = replace(style, bg="")
        elif code in (38, 48):
            # Extended colours: 5;n or 2;r;g;b. Skip their arguments and use the default colour.
            mode = codes[i + 1] if i + 1 < len(codes) else 0
            i += 2 if mode == 5 else 4 if mode == 2 else 1
            style = replace(style, fg="") if code == 38 else replace(style, bg="")
        i += 1
    return style


def ansi_to_html(text: str) -> str:
    """``text`` with its ANSI colours as escaped, class-styled spans (safe to insert into a page)."""
    out: list[str] = []
    style = _Style()
    pos = 0

    def emit(chunk: str) -> None:
        if not chunk:
            return
        escaped = html.escape(_CONTROL.sub("", chunk), quote=True)
        classes = style.classes()
        out.append(f'<span class="{classes}">{escaped}</span>' if classes else escaped)

    for match in _ESCAPE.finditer(text):
        emit(text[pos : match.start()])
        if match.group(2) == "m":
            style = _apply(style, match.group(1) or "")
        pos = match.end()
    emit(text[pos:])
    return "".join(out)
