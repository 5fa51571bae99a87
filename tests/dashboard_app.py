"""A one-page app for testing the dashboard page on its own (AppTest runs a script file)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from safetymap.ui import dashboard_page

dashboard_page.render()
