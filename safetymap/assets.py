"""Offline map assets: Leaflet and its plugins served by the app itself, never from a CDN.

folium lists CDN URLs in each class's ``default_js`` / ``default_css``, and ``st_folium`` makes the
browser load exactly those URLs. The PyPI package ``folium-offline`` (MIT) holds the content of every
one of them (``offlinefolium.elements._res``: URL -> text). ``install()`` writes them into the app's
``static/`` folder (generated, git-ignored; served at ``/app/static/…`` with
``server.enableStaticServing = true``) and points every folium class at the local copies.

CSS files may reference fonts and images by relative or remote URL (Font Awesome webfonts,
glyphicons, a loader gif …). Those files are not in the package, so such references are replaced by
an empty ``data:`` URL: the browser never asks for them, on or off the network. The map built by
``safetymap.mapview`` uses no icon font at all (its controls use inline SVG).

Local basemap tiles (``SAFETYMAP_LOCAL_TILES``: a ``{z}/{x}/{y}`` folder or an ``.mbtiles`` file) are
served the same way: ``local_tiles()`` links or extracts them under ``static/tiles/``.
"""
from __future__ import annotations

import hashlib
import math
import mimetypes
import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from . import _compat
from .errors import TileError  # noqa: F401  (raised here; callers may name it assets.TileError)

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"  # next to app.py: the folder Streamlit's static serving uses
URL_PREFIX = "/app/static"
VENDOR = "vendor"
TILES = "tiles"
MARKER = ".installed"
CSS_VERSION = "1"  # bump when the CSS rewriting changes, so installed files are rewritten

# url(...) of a font or image file that is not inline: relative paths, //host/… and http(s)://…
EXTERNAL_CSS_URL = re.compile(
    r"""url\(\s*(['"]?)((?:https?:)?//[^'")\s]+|(?:\.{1,2}/)*[A-Za-z0-9_\-][^'")\s:]*?"""
    r"""\.(?:png|gif|svg|jpe?g|webp|woff2?|ttf|eot|otf)(?:[?#][^'")\s]*)?)\1\s*\)""",
    re.IGNORECASE,
)
EMPTY_URL = "url(data:,)"

_written: set[Path] = set()


# ---------------------------------------------------------------- Leaflet and plugins
def bundled() -> dict[str, str]:
    """CDN URL -> file content, from the installed ``folium-offline`` package."""
    return _compat.folium_offline_resources()


def local_path(url: str) -> str:
    """Where a CDN file lives under ``static/``: ``vendor/<host>/<path>``."""
    parts = urlsplit(url)
    path = re.sub(r"[^A-Za-z0-9._@/\-]", "_", parts.path.lstrip("/"))
    return f"{VENDOR}/{parts.netloc}/{path}"


def local_url(url: str, prefix: str = URL_PREFIX) -> str:
    return f"{prefix.rstrip('/')}/{local_path(url)}"


def offline_css(css: str) -> str:
    """CSS with every reference to a font or image file outside the text replaced by an empty URL."""
    return EXTERNAL_CSS_URL.sub(EMPTY_URL, css)


def file_content(url: str, text: str) -> str:
    return offline_css(text) if urlsplit(url).path.endswith(".css") else text


def _fingerprint() -> str:
    versions = [metadata.version(p) for p in ("folium", "folium-offline")]
    return "|".join([*versions, CSS_VERSION])


def _write_atomic(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    os.replace(tmp, path)


def write_files(static_dir: Path = STATIC_DIR) -> int:
    """Write every bundled file under ``static_dir/vendor``; skipped when already current.
    Safe when several app processes start at once (each file is replaced atomically)."""
    static_dir = Path(static_dir)
    marker = static_dir / VENDOR / MARKER
    if static_dir in _written or (marker.exists() and marker.read_text() == _fingerprint()):
        _written.add(static_dir)
        return 0
    files = bundled()
    for url, text in files.items():
        _write_atomic(static_dir / local_path(url), file_content(url, text).encode("utf-8"))
    _write_atomic(marker, _fingerprint().encode())
    _written.add(static_dir)
    return len(files)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def point_classes_at(prefix: str = URL_PREFIX) -> int:
    """Replace each bundled CDN URL in every folium class's default_js/default_css by its local URL.
    Classes defined later copy folium's (already local) lists, so the order of imports does not matter."""
    import folium.elements
    import folium.plugins

    files = bundled()
    changed = 0
    for cls in {folium.elements.JSCSSMixin, *_subclasses(folium.elements.JSCSSMixin)}:
        for attr in ("default_js", "default_css"):
            links = cls.__dict__.get(attr)
            if not links:
                continue
            new = [(name, local_url(url, prefix) if url in files else url) for name, url in links]
            if new != list(links):
                setattr(cls, attr, new)
                changed += 1
    return changed


def register_mime_types() -> None:
    """Windows may map .js to text/plain in its registry; with ``nosniff`` the browser then refuses
    to run it. Streamlit guesses the type with ``mimetypes``, so set the right ones."""
    mimetypes.add_type("text/javascript", ".js")
    mimetypes.add_type("text/css", ".css")
    mimetypes.add_type("image/webp", ".webp")


def install(static_dir: Path | str = STATIC_DIR, prefix: str = URL_PREFIX) -> None:
    """Make every folium map load its scripts and styles from this app. Call at app start;
    cheap on every rerun."""
    register_mime_types()
    write_files(Path(static_dir))
    write_own_scripts(Path(static_dir))
    point_classes_at(prefix)


# ---------------------------------------------------------------- the project's own browser scripts
OWN_SCRIPTS = Path(__file__).resolve().parent / "js"  # e.g. patches.js: the browser-held patch layer
OWN = "safetymap"  # their folder under static/


def own_script_text(name: str) -> bytes:
    """One of the project's scripts as shipped (``safetymap/js``)."""
    return (OWN_SCRIPTS / name).read_bytes()


def write_own_scripts(static_dir: Path = STATIC_DIR) -> None:
    """Copy the project's scripts (``safetymap/js``) to ``static/safetymap/`` when they differ."""
    for source in sorted(OWN_SCRIPTS.glob("*.js")):
        target = Path(static_dir) / OWN / source.name
        content = source.read_bytes()
        if not target.exists() or target.read_bytes() != content:
            _write_atomic(target, content)


def own_script_url(name: str, prefix: str = URL_PREFIX) -> str:
    """The URL of one of the project's scripts, with its content's hash (a new version is fetched anew)."""
    digest = hashlib.sha256(own_script_text(name)).hexdigest()[:12]
    return f"{prefix.rstrip('/')}/{OWN}/{name}?v={digest}"


def cdn_links(links) -> list[str]:
    """The URLs of ``links`` (name, url) that would still leave the machine."""
    return [url for _, url in links if urlsplit(url).scheme in ("http", "https") or url.startswith("//")]


# ---------------------------------------------------------------- local basemap tiles
@dataclass(frozen=True)
class TileSource:
    url: str  # Leaflet URL template, e.g. /app/static/tiles/dem-1a2b/{z}/{x}/{y}.png
    name: str
    min_zoom: int = 0
    max_zoom: int = 18
    attribution: str = "本地瓦片"
    bounds: tuple[float, float, float, float] | None = None  # west, south, east, north: no requests outside


def tile_bounds(zoom: int, xs, ys) -> tuple[float, float, float, float]:
    """West, south, east, north (degrees) of the XYZ tiles spanning columns ``xs`` and rows ``ys``."""
    n = 2 ** zoom
    lat = lambda y: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return min(xs) / n * 360 - 180, lat(max(ys) + 1), (max(xs) + 1) / n * 360 - 180, lat(min(ys))


def local_tiles(path: str | os.PathLike, static_dir: Path | str = STATIC_DIR,
                prefix: str = URL_PREFIX) -> TileSource:
    """Serve a tile folder (``{z}/{x}/{y}.png|jpg|webp``) or an MBTiles file through static serving.

    Streamlit only serves files below ``static/``, and refuses symbolic links leading out of it. So a
    folder is hard-linked there (copied if it is on another drive), and an MBTiles file is extracted
    there once (tiles flipped from TMS rows to XYZ); both are redone only when the source changes."""
    source = Path(path).expanduser().resolve()
    if not source.exists():
        raise TileError(f"本地瓦片路径不存在：{source}")
    static_dir = Path(static_dir)
    stamp = f"{source}|{source.stat().st_mtime_ns}|{source.stat().st_size}"
    name = f"{re.sub(r'[^A-Za-z0-9_-]', '_', source.stem)[:40]}-{hashlib.sha1(stamp.encode()).hexdigest()[:10]}"
    target = static_dir / TILES / name
    if source.is_dir():
        ext, zooms, bounds = _folder_info(source)
        if not (target / MARKER).exists():
            _link_tree(source, target)
    else:
        ext, zooms, bounds = _extract_mbtiles(source, target)
    return TileSource(url=f"{prefix.rstrip('/')}/{TILES}/{name}/{{z}}/{{x}}/{{y}}.{ext}", name=source.name,
                      min_zoom=min(zooms), max_zoom=max(zooms), bounds=bounds)


def _folder_info(folder: Path) -> tuple[str, list[int], tuple | None]:
    zooms = sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    if not zooms:
        raise TileError(f"{folder} 中没有 {{z}}/{{x}}/{{y}} 结构的瓦片目录")
    tiles = [p for p in (folder / str(zooms[0])).glob("*/*") if p.is_file() and p.parent.name.isdigit()
             and p.stem.isdigit()]
    if not tiles:
        raise TileError(f"{folder / str(zooms[0])} 中没有瓦片文件")
    ext = tiles[0].suffix.lstrip(".").lower()
    if ext not in ("png", "jpg", "jpeg", "webp"):
        raise TileError(f"不支持的瓦片格式 .{ext}（只支持 png、jpg、webp 栅格瓦片）")
    bounds = tile_bounds(zooms[0], [int(p.parent.name) for p in tiles], [int(p.stem) for p in tiles])
    return ext, zooms, bounds


def _link_tree(source: Path, target: Path) -> None:
    tmp = Path(tempfile.mkdtemp(dir=_mkdir(target.parent), prefix=f".{target.name}."))

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, tmp, dirs_exist_ok=True, copy_function=link)
    (tmp / MARKER).write_text(str(source))
    _replace_dir(tmp, target)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _replace_dir(tmp: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
        return
    try:
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_mbtiles(source: Path, target: Path) -> tuple[str, list[int], tuple | None]:
    con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        meta = dict(con.execute("SELECT name, value FROM metadata").fetchall())
        ext = {"jpeg": "jpg"}.get(meta.get("format", "png").lower(), meta.get("format", "png").lower())
        if ext not in ("png", "jpg", "webp"):
            raise TileError(f"MBTiles 格式为 {ext}：只支持 png、jpg、webp 栅格瓦片（矢量瓦片 pbf 不支持）")
        zooms = [r[0] for r in con.execute("SELECT DISTINCT zoom_level FROM tiles ORDER BY zoom_level")]
        if not zooms:
            raise TileError(f"MBTiles 文件 {source.name} 中没有瓦片")
        bounds = _mbtiles_bounds(con, meta, zooms[0])
        if not (target / MARKER).exists():
            tmp = Path(tempfile.mkdtemp(dir=_mkdir(target.parent), prefix=f".{target.name}."))
            for z, x, row, data in con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
                y = (1 << z) - 1 - row  # MBTiles rows count from the south (TMS)
                tile = tmp / str(z) / str(x) / f"{y}.{ext}"
                tile.parent.mkdir(parents=True, exist_ok=True)
                tile.write_bytes(data)
            (tmp / MARKER).write_text(str(source))
            _replace_dir(tmp, target)
        return ext, zooms, bounds
    except sqlite3.DatabaseError as exc:
        raise TileError(f"无法读取 MBTiles 文件 {source.name}：{exc}") from exc
    finally:
        con.close()


def _mbtiles_bounds(con, meta: dict, zoom: int) -> tuple[float, float, float, float]:
    """The ``bounds`` metadata (west, south, east, north) or else the extent of the lowest zoom's tiles."""
    try:
        west, south, east, north = (float(v) for v in meta["bounds"].split(","))
        return west, south, east, north
    except (KeyError, ValueError):
        x0, x1, r0, r1 = con.execute("SELECT min(tile_column), max(tile_column), min(tile_row), max(tile_row) "
                                     "FROM tiles WHERE zoom_level = ?", (zoom,)).fetchone()
        return tile_bounds(zoom, [x0, x1], [(1 << zoom) - 1 - r1, (1 << zoom) - 1 - r0])
