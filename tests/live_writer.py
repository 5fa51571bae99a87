"""The app saving in a loop (one patch's hazard field), for test_qgis_live.py: saves until the file named
by argv[3] exists, retrying on conflict as a user would; prints the number of saves as JSON."""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from safetymap.errors import ConflictError  # noqa: E402
from safetymap.store import open_store# noqa: E402


def main(db: str, code: str, stop: str, pause: float) -> None:
    store = open_store(db)
    saves = conflicts = 0
    Path(stop + ".started").touch()
    while not Path(stop).exists():
        current = store.get(code)
        try:
            store.update(code, {"list_basic": f"网页保存 {saves}"}, current["version"], "admin")
            saves += 1
        except ConflictError:
            conflicts += 1
        time.sleep(pause)
    print(json.dumps({"saves": saves, "conflicts": conflicts}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else 0.1)
