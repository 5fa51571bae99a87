"""safetymap: the risk-patch ledger (风险图斑台账) of 江源区交通运输局. The core knows nothing of
Streamlit; the pages in ``safetymap.ui`` are a thin shell over it."""

__version__ = "0.1.0"
