"""What a page shows, read from an AppTest run: every text Streamlit renders as Markdown, every visible text
(labels, options, placeholders, help, table cells), and checks on them.

``markdown_links(text)`` models what Streamlit's Markdown (remark + remark-gfm) would turn into a link,
an image, raw HTML or LaTeX: structure is parsed on the text with its backslash escapes, and GFM autolink
literals are found in the text *after* the escapes are resolved (``http\\:\\/\\/x\\.y`` still links)."""
from __future__ import annotations

import re
import string

import pandas as pd
from google.protobuf.json_format import MessageToDict

PUNCT = re.escape(string.punctuation)
ESCAPED = re.compile(rf"\\[{PUNCT}]")
STRUCTURE = {"link": re.compile(r"\]\("), "image": re.compile(r"!\["), "reference link": re.compile(r"\]\["),
             "html": re.compile(r"<[A-Za-z/!?]"), "autolink": re.compile(r"<[a-zA-Z][a-zA-Z0-9+.-]*:"),
             "latex": re.compile(r"\$[^$\s][^$]*\$")}
AUTOLINK = re.compile(r"(?i)(https?://|www\.)[-.\w]+|[-.\w+]+@[-\w]+(\.[-\w]+)+", re.ASCII)  # as remark-gfm

# Protos whose option lists are plain text (not Markdown); every other option list is Markdown (st.radio).
PLAIN_OPTIONS = {"Selectbox", "MultiSelect"}
MARKDOWN_KEYS = ("body", "label", "help", "captions", "options")
VISIBLE_KEYS = ("body", "label", "help", "captions", "options", "placeholder", "text")


def markdown_links(text: str) -> list[str]:
    """What in ``text`` Streamlit's Markdown would render as a link, image, HTML or LaTeX (empty: inert)."""
    skeleton = ESCAPED.sub("·", text)
    found = [name for name, pattern in STRUCTURE.items() if pattern.search(skeleton)]
    resolved = ESCAPED.sub(lambda m: m.group(0)[1], text)
    found += [f"bare link {m.group(0)!r}" for m in AUTOLINK.finditer(resolved)]
    return found


def nodes(at):
    """Every element of an AppTest run (main, sidebar, tabs, forms, columns, toasts)."""
    stack = [at._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            stack.extend(children.values())
        if getattr(node, "proto", None) is not None and not isinstance(children, dict):
            yield node


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):  # e.g. an Alert's body inside a nested message
        for v in value.values():
            yield from _strings(v)


def proto_texts(at, keys) -> list[tuple[str, str, str]]:
    """(proto type, key, text) for every string under ``keys`` of every element's proto."""
    out = []
    for node in nodes(at):
        kind = node.proto.DESCRIPTOR.name
        data = MessageToDict(node.proto)
        for key in keys:
            if key == "options" and kind in PLAIN_OPTIONS and keys is MARKDOWN_KEYS:
                continue
            for text in _strings(data.get(key)):
                out.append((kind, key, text))
    return out


PLAIN_BODIES = {"Text", "Code", "Json"}  # st.text, st.code: shown as typed, never Markdown


def markdown_texts(at) -> list[tuple[str, str, str]]:
    return [(kind, key, text) for kind, key, text in proto_texts(at, MARKDOWN_KEYS)
            if not (kind in PLAIN_BODIES and key == "body")]


def tables(at) -> list[pd.DataFrame]:
    out = []
    for node in nodes(at):
        if node.proto.DESCRIPTOR.name in ("Arrow", "ArrowTable", "DataFrame", "Dataframe", "Table"):
            try:
                out.append(node.value)
            except Exception:  # noqa: BLE001 - a table the tree cannot decode is not text we check
                continue
    return out


def unlinked_problems(at) -> list[str]:
    return [f"{kind}.{key}: {problems} in {text!r}" for kind, key, text in markdown_texts(at)
            if (problems := markdown_links(text))]


QUOTED = re.compile(r"「[^」]*」")
# Streamlit's Markdown directives: an icon (drawn from its bundled font) and a colour around text; not shown as words
DIRECTIVES = re.compile(r":material/[a-z0-9_]+:|:(?:red|orange|yellow|green|blue|violet|gray|grey|rainbow|primary)"
                        r"(?:-background)?\[")
ENGLISH_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z]{3,}(?![A-Za-z])")


def english_problems(at, allowed: set[str]) -> list[str]:
    """Visible "None", "Choose an option" (a select box without a Chinese placeholder) or English words."""
    problems = []
    for node in nodes(at):
        kind = node.proto.DESCRIPTOR.name
        if kind in ("Selectbox", "MultiSelect") and not node.proto.placeholder:
            if kind == "Selectbox":
                empty = node.value is None and not node.proto.HasField("default")
            else:
                empty = not node.value
            if empty:
                problems.append(f"{kind} {node.proto.label!r} shows Streamlit's English placeholder")
    texts = [(f"{kind}.{key}", text) for kind, key, text in proto_texts(at, VISIBLE_KEYS)]
    for frame in tables(at):
        texts += [("table header", str(c)) for c in frame.columns]
        for column in frame.columns:
            values = frame[column]
            if values.isna().any():
                problems.append(f"table column {column!r} has empty cells shown as None")
            texts += [(f"table {column!r}", str(v)) for v in values.dropna().unique()[:200]]
    for where, text in texts:
        if text.strip() in ("None", "nan", "NaN", "NaT", "<NA>"):
            problems.append(f"{where}: {text!r}")
            continue
        own = QUOTED.sub("", ESCAPED.sub(lambda m: m.group(0)[1], text))  # 「…」 quotes the user's or file's text
        own = DIRECTIVES.sub("", own)
        words = set(ENGLISH_WORD.findall(own)) - allowed
        if words:
            problems.append(f"{where}: English {sorted(words)} in {text[:120]!r}")
    return problems
