"""A check's or report's output as safe HTML, per its ``output_format`` (Gradescope's formats plus ANSI).

Whatever a check wrote can quote student output, so nothing is trusted: text is escaped, Markdown is
rendered by markdown-it-py and then sanitised by nh3 (as is HTML), and ANSI goes through our converter.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from grader.api.pages.ansi import ansi_to_html
from grader.models.report import OutputFormat

# Raw HTML inside Markdown is allowed through markdown-it and then sanitised with everything else.
_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table")


def sanitise(fragment: str) -> str:
    """nh3's allow-list (no scripts, styles, event handlers or javascript: URLs; links get rel=noopener)."""
    return nh3.clean(fragment)


def output_html(text: str, fmt: OutputFormat | str) -> Markup:
    """``text`` rendered for a page; an empty string renders as nothing."""
    if not text:
        return Markup("")
    fmt = OutputFormat(fmt)
    if fmt == OutputFormat.md:
        body = f'<div class="output output-md">{sanitise(_MARKDOWN.render(text))}</div>'
    elif fmt == OutputFormat.html:
        body = f'<div class="output output-html">{sanitise(text)}</div>'
    elif fmt == OutputFormat.ansi:
        body = f'<pre class="output output-ansi">{ansi_to_html(text)}</pre>'
    elif fmt == OutputFormat.simple_format:
        # Gradescope's simple_format: paragraphs and line breaks, nothing else.
        paragraphs = [html.escape(p).replace("\n", "<br>") for p in text.split("\n\n") if p.strip()]
        body = '<div class="output output-simple">' + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div>"
    else:
        body = f'<pre class="output output-text">{html.escape(text)}</pre>'
    return Markup(body)  # every branch above escaped or sanitised its input
