"""台账: the ledger as a table, filtered by category, grade and status."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ..io.csv import csv_bytes
from ..clock import today
from ..filters import MASK_KEYS, PatchFilter
from ..ledger import OVERDUE_COLUMN, ledger_table, number_text, overdue
from ..store import Store
from .common import cached_by_revision, checked_download, current_user, get_store, sample_banner
from .filter_form import filter_form
from ..frame_splice import brought_up_to_date


@dataclass(frozen=True)
class LedgerView:
    """The whole table as the page shows it and, row for row, the values its filters test (with each
    patch's version), at a ledger revision. Shared by every session (``cached_by_revision``): select rows
    from it, never change it."""
    table: pd.DataFrame
    keys: pd.DataFrame
    revision: tuple[int, ...] = ()

    def chosen(self, chosen: PatchFilter) -> pd.DataFrame:
        return self.table[chosen.mask(self.keys)].reset_index(drop=True)


KEY_COLUMNS = (*MASK_KEYS, "version")


def updated_view(store: Store, previous: LedgerView) -> LedgerView | None:
    """``ledger_view`` of an older revision or day brought up to date: the rows of the patches written since
    are made again and replace theirs (the others are the previous table's), 是否逾期 judged again (the day
    may be new). None (build it whole) when the store cannot tell what changed or too much did, when a number
    column's form (numbers, or text where some are missing) would change, or when the count and sum of
    versions per category differ from the ledger's."""
    def pairs(changes) -> list[tuple[pd.DataFrame, pd.DataFrame]] | None:
        rows = changes.rows
        made = ledger_table(rows, store.schema) if len(rows) else previous.table.iloc[:0]
        made, table = _as_text_where_either_is(made, previous.table, store.schema)
        return [(previous.keys, _keys(rows)), (table, made)] if made.dtypes.equals(table.dtypes) else None

    done = brought_up_to_date(store, previous.revision, [f.key for f in store.schema.common_fields],
                              len(previous.table), pairs)
    if done is None:
        return None
    revision, (keys, table) = done
    table[OVERDUE_COLUMN] = overdue(keys, schema=store.schema).map({True: "逾期", False: ""}).to_numpy(object)
    return None if _numbers_turn_back(table, store.schema) else LedgerView(table, keys, revision)


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    # a copy: a selection may be a view that keeps every column of the read alive
    return frame[list(dict.fromkeys(k for k in KEY_COLUMNS if k in frame))].copy()


def _number_labels(schema) -> list[str]:
    return [f.label_with_unit for f in schema.common_fields if f.type in ("int", "float")]


def _as_text_where_either_is(made: pd.DataFrame, table: pd.DataFrame, schema) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The new rows and the table with each number column as text where either shows it as text (``shown``:
    some value missing; ``_numbers_turn_back`` checks one still is), as a whole build would show them."""
    for label in _number_labels(schema):
        if label in made and (made[label].dtype == object) != (table[label].dtype == object):
            if made[label].dtype == object:
                table = table.assign(**{label: table[label].map(number_text).astype(object)})
            else:
                made[label] = made[label].map(number_text).astype(object)
    return made, table


def _numbers_turn_back(table: pd.DataFrame, schema) -> bool:
    """Whether a number column shown as text (``shown``: some value was missing) has no missing value left,
    so a whole build would show it as numbers again."""
    return any(table[label].dtype == object and not (table[label] == "").any()
               for label in _number_labels(schema) if label in table)


@cached_by_revision(update=updated_view)
def ledger_view(store: Store) -> LedgerView:
    """The table of every current patch, built once per revision and day (逾期) from the common fields
    read column-wise (no geometry): a rerun for a filter only selects rows; after a change, made from the
    previous revision's (``updated_view``)."""
    revision = store.revision()  # read first: the table is at least this new
    frame = store.read_columns([f.key for f in store.schema.common_fields])
    return LedgerView(ledger_table(frame, store.schema), _keys(frame), revision)


def render() -> None:
    store = get_store()
    schema = store.schema
    st.title("风险图斑台账")
    sample_banner(store)
    view = ledger_view(store)
    chosen = filter_form(schema, view.keys, key="ledger_f", parts=("category", "grade", "status"))
    table = view.chosen(chosen)
    st.metric("图斑数量", len(table))
    # The table's own CSV/copy controls are off for everyone (client.disableDataExport): downloads are here,
    # for roles with the export right, checked and audited by the store.
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={schema.field("length_m").label_with_unit: st.column_config.NumberColumn(format="%.0f")})
    if current_user().can("export"):
        st.download_button("下载 CSV", data=checked_download(f"台账 {len(table)} 个图斑.csv", lambda: csv_bytes(table)),
                           file_name=f"风险图斑台账_{today():%Y%m%d}.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:")
