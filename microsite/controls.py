"""Control characters: what typed text keeps of them, and what XML may carry.

C0 and C1 controls (and DEL) are invisible in a browser and mean nothing in a Chinese news
text; they arrive pasted from terminals and word processors, or sent on purpose. Most are
not allowed in XML at all, so a single one in a title made the whole Atom feed unreadable.
"""

from __future__ import annotations

import re

# C0 but tab, line feed and carriage return; DEL; C1.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TABS_AND_BREAKS = re.compile("[\t\n\r]+")
# Everything outside XML 1.0's Char production (section 2.2): the C0 controls above, lone
# surrogates, and the non-characters U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def without_controls(text: str) -> str:
    """Text of several lines: control characters removed, tabs and line breaks kept."""
    return _CONTROLS.sub("", text)


def one_line(text: str) -> str:
    """Text of one line: control characters removed, tabs and line breaks become a space."""
    return _TABS_AND_BREAKS.sub(" ", without_controls(text))


def xml_safe(text: str) -> str:
    """Text with every character XML 1.0 forbids removed (none of them can be escaped)."""
    return _NOT_XML.sub("", text)
