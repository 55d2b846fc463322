"""One table: each figure, its baseline from the same run, the ratio and the budget it must meet."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    section: str
    measure: str
    figure: str
    baseline: str = ""
    ratio: float | None = None
    budget: str = ""
    ok: bool | None = None  # None: shown for information, no budget

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: ""}[self.ok]


HEADERS = ("", "measure", "figure", "baseline (same run)", "ratio", "budget", "verdict")


def table(rows: list[Row]) -> str:
    """A Markdown table, readable as plain text too."""
    cells = [HEADERS] + [
        (
            r.section,
            r.measure,
            r.figure,
            r.baseline,
            "" if r.ratio is None else f"{r.ratio:.2f}x",
            r.budget,
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(HEADERS))]
    lines = [_line(cells[0], widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [_line(row, widths) for row in cells[1:]]
    return "\n".join(lines)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


def _line(row, widths) -> str:
    return (
        "| "
        + " | ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True))
        + " |"
    )


def ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def seconds(value: float) -> str:
    return f"{value:.1f} s"
