"""User text made safe for where it is shown: HTML/SVG and Streamlit Markdown. One place, so every page,
map and report escapes the same way."""
from __future__ import annotations

import html
import re
import string

import numpy as np
import pandas as pd

MD_SPECIAL = re.compile(f"([{re.escape(string.punctuation)}])")  # CommonMark may escape any of them


def is_missing(value) -> bool:
    """None, NA, NaT or NaN (an empty text is not missing: see ``validation.is_blank``)."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def esc(value) -> str:
    """Text for HTML or SVG (element content or a quoted attribute); None and NaN become ''."""
    return html.escape("" if is_missing(value) else str(value), quote=True)


def md_escape(value) -> str:
    """User text for Streamlit Markdown (st.markdown, st.table cells, headings): every ASCII punctuation
    character is backslash-escaped, so no markup, link, directive, HTML or LaTeX can form."""
    text = "" if is_missing(value) else str(value)
    return MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")
