"""What both backends give back the same way: a SELECT's rows as a DataFrame."""
from __future__ import annotations

import pandas as pd


def query_frame(con, sql: str, params=()) -> pd.DataFrame:
    """A SELECT as a DataFrame (column names from the cursor; numbers as floats where mixed)."""
    cur = con.execute(sql, params)
    return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description], coerce_float=True)
