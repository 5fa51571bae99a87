"""A GeoPackage R-tree (SQLite's ``rtree`` module) filled in bulk: its node tables written directly,
packed by sort-tile-recursive, instead of one ``INSERT`` per box into the virtual table (which walks the
tree and splits nodes for every box). GDAL builds the spatial index of a new GeoPackage layer the same way.

The layout is SQLite's (``ext/rtree/rtree.c``): ``<name>_node(nodeno, data)`` holds each node as a blob
of the tree's node size (the root's, node 1), starting with the tree depth (root only) and the number
of cells, big-endian 16-bit each, then the cells: the row id (leaf) or child node (8 bytes) and the box
as four 32-bit floats (minx, maxx, miny, maxy), big-endian; ``<name>_rowid(rowid, nodeno)`` gives each
row's leaf, ``<name>_parent(nodeno, parentnode)`` each node's parent but the root's. Boxes are rounded
outwards to 32-bit floats exactly as the module rounds them; ``rtreecheck()`` passes on the result
(``tests/test_bulk_rtree.py``)."""
from __future__ import annotations

import numpy as np

CELL = np.dtype([("id", ">i8"), ("box", ">f4", 4)])
HEADER_BYTES = 4  # depth, cell count
_TOWARDS, _AWAY = 1.0 - 1.0 / 8388608.0, 1.0 + 1.0 / 8388608.0  # rtree.c's RNDTOWARDS, RNDAWAY


def rounded_boxes(boxes: np.ndarray) -> np.ndarray:
    """Boxes as (minx, maxx, miny, maxy) doubles -> the 32-bit floats the R-tree stores: minima rounded
    down, maxima up, by rtree.c's own rule (``rtreeValueDown``/``rtreeValueUp``)."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    out = boxes.astype(np.float32)
    for column in range(4):
        d, is_max = boxes[:, column], column % 2 == 1
        wrong = out[:, column] < d if is_max else out[:, column] > d
        grow = (d >= 0) if is_max else (d < 0)  # the factor that moves d outwards
        out[wrong, column] = (d[wrong] * np.where(grow[wrong], _AWAY, _TOWARDS)).astype(np.float32)
    return out


def rebuild(con, name: str, ids: np.ndarray, boxes: np.ndarray) -> None:
    """Make R-tree ``name`` hold exactly rows ``ids`` with ``boxes`` (32-bit, from ``rounded_boxes``), in
    the caller's transaction."""
    size = con.execute(f'SELECT length(data) FROM "{name}_node" WHERE nodeno = 1').fetchone()[0]
    fanout = (size - HEADER_BYTES) // CELL.itemsize
    levels = _packed_levels(np.asarray(ids, dtype=np.int64), np.asarray(boxes, dtype=np.float32), fanout)
    firsts, next_node = [0] * len(levels), 1  # each level's first node number, the root's 1
    for level in reversed(range(len(levels))):
        firsts[level], next_node = next_node, next_node + len(levels[level][2])
    for table in ("node", "rowid", "parent"):
        con.execute(f'DELETE FROM "{name}_{table}"')
    for level, (children, cell_boxes, counts) in enumerate(levels):
        cell_ids = children if level == 0 else children + firsts[level - 1]
        root = level == len(levels) - 1
        blobs = _node_blobs(cell_ids, cell_boxes, counts, fanout, size, depth=level if root else 0)
        nodes = np.arange(firsts[level], firsts[level] + len(counts))
        con.executemany(f'INSERT INTO "{name}_node" (nodeno, data) VALUES (?, ?)', zip(nodes.tolist(), blobs))
        owners = np.repeat(nodes, counts).tolist()
        into = f'"{name}_rowid" (rowid, nodeno)' if level == 0 else f'"{name}_parent" (nodeno, parentnode)'
        con.executemany(f"INSERT INTO {into} VALUES (?, ?)", zip(cell_ids.tolist(), owners))


def _packed_levels(ids: np.ndarray, boxes: np.ndarray, fanout: int) -> list[tuple]:
    """Leaves first: per level (each cell's row id or child node index in the level below, cell boxes,
    cells per node), the cells of a node consecutive, the last level a single root."""
    levels = []
    while True:
        order = _tile_order(boxes, fanout)
        ids, boxes = ids[order], boxes[order]
        n_nodes = max(1, -(-len(ids) // fanout))
        counts = np.full(n_nodes, fanout)
        counts[-1] = len(ids) - fanout * (n_nodes - 1)
        levels.append((ids, boxes, counts))
        if n_nodes == 1:
            return levels
        starts = np.arange(0, len(ids), fanout)
        boxes = np.column_stack([np.minimum.reduceat(boxes[:, 0], starts), np.maximum.reduceat(boxes[:, 1], starts),
                                 np.minimum.reduceat(boxes[:, 2], starts), np.maximum.reduceat(boxes[:, 3], starts)])
        ids = np.arange(n_nodes, dtype=np.int64)


def _tile_order(boxes: np.ndarray, fanout: int) -> np.ndarray:
    """Sort-tile-recursive: by x centre into vertical slabs of whole nodes, by y centre within each."""
    n = len(boxes)
    if n <= fanout:
        return np.arange(n)
    cx, cy = boxes[:, 0] + boxes[:, 1], boxes[:, 2] + boxes[:, 3]
    per_slab = fanout * int(np.ceil(np.sqrt(np.ceil(n / fanout))))
    slab = np.empty(n, np.int64)
    slab[np.argsort(cx, kind="stable")] = np.arange(n) // per_slab
    return np.lexsort((cy, slab))


def _node_blobs(cell_ids: np.ndarray, boxes: np.ndarray, counts: np.ndarray, fanout: int, size: int,
                depth: int) -> list[bytes]:
    """Each node's blob: header, its cells (consecutive, ``fanout`` a node but the last), zeros to ``size``."""
    cells = np.zeros(len(counts) * fanout, CELL)
    cells["id"][:len(cell_ids)] = cell_ids
    cells["box"][:len(cell_ids)] = boxes
    data = np.zeros((len(counts), size), np.uint8)
    data[:, 0:2] = np.array([depth], ">u2").view(np.uint8)
    data[:, 2:4] = counts.astype(">u2").view(np.uint8).reshape(-1, 2)
    data[:, HEADER_BYTES:HEADER_BYTES + fanout * CELL.itemsize] = cells.view(np.uint8).reshape(len(counts), -1)
    return [row.tobytes() for row in data]
