"""What the pages render from untrusted output (ANSI, Markdown, HTML, text) and the server-side plots."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from grader.api.pages.ansi import ansi_to_html
from grader.api.pages.charts import pass_rate_per_check, score_histogram, submissions_over_time
from grader.api.pages.overview import CheckRate
from grader.api.pages.rendering import output_html


def test_ansi_colours_become_classes_and_text_is_escaped() -> None:
    html = ansi_to_html("\x1b[1;31mFAIL\x1b[0m <b>&</b> \x1b[92mok\x1b[22;39m plain")
    assert (
        html
        == '<span class="ansi-fg-1 ansi-bold">FAIL</span> &lt;b&gt;&amp;&lt;/b&gt; <span class="ansi-fg-10">ok</span> plain'
    )


def test_ansi_drops_other_escapes_and_extended_colours() -> None:
    assert (
        ansi_to_html("\x1b]0;window title\x07a\x1b[2Kb\x1b[10;5Hc\x1b[38;5;200md\x1b[48;2;1;2;3me\x07\x00") == "abcde"
    )
    assert ansi_to_html("\x1b[4;44mx\x1b[24my\x1b[49mz") == (
        '<span class="ansi-bg-4 ansi-underline">x</span><span class="ansi-bg-4">y</span>z'
    )


def test_ansi_cannot_smuggle_markup_through_a_sequence() -> None:
    html = ansi_to_html('\x1b[31m"><script>alert(1)</script>\x1b[0m')
    assert "<script>" not in html and "&lt;script&gt;" in html and "&quot;&gt;" in html


@pytest.mark.parametrize(
    ("fmt", "text", "present", "absent"),
    [
        ("text", "<b>x</b>", "&lt;b&gt;x&lt;/b&gt;", "<b>"),
        ("md", "**bold** <script>alert(1)</script> [l](javascript:alert(1))", "<strong>bold</strong>", "<script"),
        ("md", "|a|b|\n|-|-|\n|1|2|", "<td>1</td>", "<script"),
        ("html", '<img src=x onerror="alert(1)"><a href="javascript:x()">l</a><i>ok</i>', "<i>ok</i>", "onerror"),
        ("html", '<a href="https://example.org">l</a>', 'rel="noopener noreferrer"', "javascript"),
        ("simple_format", "one\ntwo\n\n<three>", "<p>one<br>two</p><p>&lt;three&gt;</p>", "<three>"),
        ("ansi", "\x1b[32mgreen\x1b[0m", '<span class="ansi-fg-2">green</span>', "\x1b"),
    ],
)
def test_each_output_format_renders_safely(fmt: str, text: str, present: str, absent: str) -> None:
    html = str(output_html(text, fmt))
    assert present in html and absent not in html
    assert 'href="javascript' not in html  # markdown-it leaves such a link as plain text; nh3 drops the href


def test_empty_output_renders_nothing() -> None:
    assert str(output_html("", "md")) == ""


def _svg(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")
    return root


def test_plots_are_svg_documents_and_grow_with_the_number_of_checks() -> None:
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    _svg(submissions_over_time([start + timedelta(minutes=37 * i) for i in range(30)]))
    _svg(submissions_over_time([start + timedelta(days=i) for i in range(10)]))  # per day beyond three days
    _svg(score_histogram([0, 2.5, 10, 10, 7], 10))
    few = _svg(pass_rate_per_check([CheckRate("1 a", 1, 2)]))
    many = _svg(pass_rate_per_check([CheckRate(f"{i} check", i % 3, 2) for i in range(30)]))
    assert float(many.attrib["height"].rstrip("pt")) > float(few.attrib["height"].rstrip("pt"))


def test_plots_without_data_say_so() -> None:
    for data in (submissions_over_time([]), score_histogram([], None), pass_rate_per_check([])):
        _svg(data)  # matplotlib draws the message as glyph paths: a document with no bars
