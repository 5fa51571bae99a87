"""User text made safe for where it is shown: HTML/SVG and Streamlit Markdown. One place, so every page,
map and report escapes the same way."""
from __future__ import annotations

import html
import re
import string

import numpy as np
import pandas as pd

MD_SPECIAL = re.compile(f"([{re.escape(string.punctuation)}])")  # CommonMark may escape any of them
WORD_JOINER = "\u2060"  # zero width, no line break
# GFM autolink literals (remark-gfm) are found in the text *after* backslash escapes are resolved, so escaping
# does not stop them: break the trigger instead (http:// https:// www. and the @ of an e-mail address).
AUTOLINK_TRIGGER = re.compile(r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?<=@)"
                              r"|(?<=mailto)(?=:)|(?<=xmpp)(?=:)")


def is_missing(value) -> bool:
    """None, NA, NaT or NaN (an empty text is not missing: see ``validation.is_blank``)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def esc(value) -> str:
    """Text for HTML or SVG (element content or a quoted attribute); None and NaN become ''."""
    return html.escape("" if is_missing(value) else str(value), quote=True)


def md_escape(value) -> str:
    """User or file text for anything Streamlit renders as Markdown (st.markdown, st.caption, st.success/
    error/warning/info, st.toast, st.table cells, headings, radio options, labels): every ASCII punctuation
    character is backslash-escaped, so no markup, link, image, directive, HTML or LaTeX can form, and a word
    joiner (invisible) breaks bare URLs, ``www.`` and e-mail addresses so they do not become links."""
    text = "" if is_missing(value) else str(value)
    text = AUTOLINK_TRIGGER.sub(WORD_JOINER, text)
    return MD_SPECIAL.sub(r"\\\1", text).replace("\r", " ").replace("\n", " ")


def md_format(template: str, *values) -> str:
    """``template.format(*escaped values)``: the page's own Markdown around user text, e.g.
    ``md_format("**{} {}**", code, name)``."""
    return template.format(*(md_escape(v) for v in values))
