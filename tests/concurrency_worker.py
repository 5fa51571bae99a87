"""One writer process for test_concurrency: N updates round-robin over the given patches, retrying
on conflict like a user who reloads and saves again; prints the accepted changes as JSON."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from safetymap.errors import ConflictError  # noqa: E402
from safetymap.store import open_store# noqa: E402


def main(db: str, worker: int, updates: int, codes: list[str], kind: str = "patch") -> None:
    store = open_store(db)
    read, write = ((store.hazard, lambda c, v, ver, u: store.update_hazard(c, {"measures": v}, ver, u))
                   if kind == "hazard" else (store.get, lambda c, v, ver, u: store.update(c, {"hazard": v}, ver, u)))
    accepted, conflicts = [], 0
    for k in range(updates):
        code = codes[(worker + k) % len(codes)]
        value = f"进程{worker}-第{k}次"
        while True:
            current = read(code)
            try:
                new = write(code, value, current["version"], f"worker{worker}")
            except ConflictError:
                conflicts += 1
                continue
            accepted.append([code, new["version"], value])
            break
    print(json.dumps({"accepted": accepted, "conflicts": conflicts}, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(","), *sys.argv[5:])
