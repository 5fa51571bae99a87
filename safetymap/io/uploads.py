"""Upload limits and zip safety, in one place (ledger imports and photo uploads use the same rules).

Every uploaded file passes ``check_size``; every zip (shapefile zip, KMZ) passes ``safe_extract`` before
GDAL or any other reader sees it: member count, total unpacked size and compression ratio are capped,
member names with ``..`` or an absolute path are refused, and names written by Chinese Windows zip tools
(GBK bytes without the UTF-8 flag, which Python's ``zipfile`` decodes as cp437) are decoded as GBK.
Sizes are counted while unpacking, so a zip whose headers lie about the sizes is caught too. Shapefiles
the import reads inside the zip (``reader``, GDAL's ``/vsizip/``) are not unpacked: their members pass
the same header checks, and GDAL and ``zipfile`` read no more than the declared sizes."""
from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import ImportRefused, Problem

MB = 1024 * 1024
UTF8_FLAG = 0x800  # zip general-purpose flag bit 11: the member name is UTF-8
ENCRYPTED_FLAG = 0x1
CHUNK = 1024 * 1024
IGNORED_PREFIXES = ("__MACOSX/",)  # macOS Finder resource forks


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 50 * MB  # the uploaded file itself (Streamlit's server.maxUploadSize is 50 MB too)
    max_members: int = 2000  # files in one zip
    max_unpacked: int = 1024 * MB  # all members of one zip, unpacked
    max_ratio: float = 200.0  # unpacked / packed size of one member ...
    ratio_floor: int = 1 * MB  # ... checked for members that unpack to more than this
    read_seconds: float = 60.0  # wall time for reading one upload (in its own process)
    read_memory: int = 2048 * MB  # memory the reading process may take beyond its start
    max_rows: int = 200_000  # rows of one sheet of an .xlsx, counted while streaming
    max_columns: int = 200  # cells in one row of a sheet
    max_cells: int = 4_000_000  # cells of one workbook

    @property
    def max_mb(self) -> int:
        return self.max_bytes // MB

    def describe(self) -> str:
        return (f"单个文件不超过 {self.max_bytes / MB:g} MB；压缩包内不超过 {self.max_members} 个文件、"
                f"解压后合计不超过 {self.max_unpacked / MB:g} MB，压缩比不超过 {self.max_ratio:g} 倍")


DEFAULT_LIMITS = UploadLimits()  # files uploaded through the web pages
PHOTO_LIMITS = UploadLimits(max_bytes=15 * MB)  # one photo from the field page
# Files a trusted local user imports from the command line: larger, but the same zip safety checks.
LOCAL_LIMITS = UploadLimits(max_bytes=4096 * MB, max_members=20000, max_unpacked=16384 * MB, read_seconds=3600.0,
                            read_memory=16384 * MB, max_rows=2_000_000, max_cells=40_000_000)


def refuse(file: str, message: str, field: str = "") -> ImportRefused:
    return ImportRefused([Problem(field, message, file=file)])


def check_size(size: int, name: str, limits: UploadLimits = DEFAULT_LIMITS) -> None:
    """Refuse a file (or uploaded bytes) over the size limit."""
    if size > limits.max_bytes:
        raise refuse(name, f"文件大小 {size / MB:.1f} MB 超过上传上限 {limits.max_bytes / MB:g} MB")


def check_file(path: str | os.PathLike, name: str | None = None, limits: UploadLimits = DEFAULT_LIMITS) -> None:
    path = Path(path)
    check_size(path.stat().st_size, name or path.name, limits)


SAFE_NAME = re.compile(r"[^\w.\-()（）\u4e00-\u9fff]+")


def safe_filename(name: str) -> str:
    """An uploaded file's name, reduced to its last part and harmless characters (keeps Chinese)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    cleaned = SAFE_NAME.sub("_", base).strip("._") or "upload"
    return cleaned[:120]


def save_upload(data: bytes, name: str, folder: str | os.PathLike, limits: UploadLimits = DEFAULT_LIMITS) -> Path:
    """Check the size of uploaded bytes and write them into ``folder`` under a safe name."""
    check_size(len(data), name, limits)
    path = Path(folder) / safe_filename(name)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- zip members
def member_name(info: zipfile.ZipInfo) -> str:
    """The member's real name: without the UTF-8 flag, Python decoded the bytes as cp437; Chinese Windows
    tools wrote them in GBK (and some tools write UTF-8 without setting the flag)."""
    if info.flag_bits & UTF8_FLAG:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:  # already decoded by other means (e.g. the Info-ZIP Unicode extra field)
        return info.filename
    for codec in ("utf-8", "gbk"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return info.filename


def _name_problem(name: str) -> str | None:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal):
        return f"压缩包成员「{name}」使用绝对路径，已拒绝（可能是恶意压缩包）"
    if ".." in PurePosixPath(normal).parts:
        return f"压缩包成员「{name}」含有「../」，会写到解压目录之外，已拒绝（可能是恶意压缩包）"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _member_problems(infos: list[tuple[zipfile.ZipInfo, str]], limits: UploadLimits) -> list[str]:
    problems = []
    if len(infos) > limits.max_members:
        problems.append(f"压缩包内有 {len(infos)} 个文件，超过上限 {limits.max_members} 个")
    total = sum(info.file_size for info, _ in infos)
    if total > limits.max_unpacked:
        problems.append(f"压缩包解压后共 {total / MB:.1f} MB，超过上限 {limits.max_unpacked / MB:g} MB（疑似压缩炸弹）")
    seen = set()
    for info, name in infos:
        problem = _name_problem(name)
        if problem:
            problems.append(problem)
        elif _is_symlink(info):
            problems.append(f"压缩包成员「{name}」是符号链接，已拒绝")
        elif info.flag_bits & ENCRYPTED_FLAG:
            problems.append(f"压缩包成员「{name}」已加密，无法读取；请解密后重新压缩")
        elif info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            problems.append(f"压缩包成员「{name}」压缩比 {info.file_size / max(info.compress_size, 1):.0f} 倍，"
                            f"超过上限 {limits.max_ratio:g} 倍（疑似压缩炸弹）")
        key = name.replace("\\", "/").lower()
        if key in seen:
            problems.append(f"压缩包内有重名文件「{name}」")
        seen.add(key)
    return problems


def zip_members(path: str | os.PathLike, name: str, limits: UploadLimits = DEFAULT_LIMITS
                ) -> list[tuple[zipfile.ZipInfo, str]]:
    """The file members of a zip with their decoded names, after every check that needs no unpacking.
    Raises ImportRefused naming each problem."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [(i, member_name(i)) for i in zf.infolist()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise refuse(name, f"不是有效的 zip 压缩包（文件已损坏或不完整：{exc}）") from None
    files = [(i, n) for i, n in infos if not i.is_dir() and not n.startswith(IGNORED_PREFIXES)]
    problems = _member_problems(files, limits)
    if problems:
        raise ImportRefused([Problem("", p, file=name) for p in problems])
    if not files:
        raise refuse(name, "压缩包是空的")
    return files


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, name: str, member: str) -> int:
    """Unpack one member, counting bytes: stops at the declared size or the remaining budget."""
    written = 0
    limit = min(info.file_size, budget)
    with zf.open(info) as src, open(target, "wb") as dst:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise refuse(name, f"压缩包成员「{member}」解压后超过声明大小或总上限（疑似压缩炸弹）")
            dst.write(chunk)
    return written


def safe_extract(path: str | os.PathLike, dest: str | os.PathLike, name: str | None = None,
                 limits: UploadLimits = DEFAULT_LIMITS, *, skip: Collection[str] = ()) -> list[Path]:
    """Check and unpack a zip into ``dest``; returns the unpacked files. All or nothing: on any problem
    ``dest`` is emptied and ImportRefused is raised. Members named in ``skip`` (by decoded name) are not
    unpacked; every member is checked all the same."""
    path, dest = Path(path), Path(dest)
    name = name or path.name
    members = [(info, member) for info, member in zip_members(path, name, limits) if member not in skip]
    root = dest.resolve()
    out, budget = [], limits.max_unpacked
    try:
        with zipfile.ZipFile(path) as zf:
            for info, member in members:
                target = (root / member.replace("\\", "/")).resolve()
                if not target.is_relative_to(root):
                    raise refuse(name, f"压缩包成员「{member}」会写到解压目录之外，已拒绝")
                target.parent.mkdir(parents=True, exist_ok=True)
                budget -= _copy_member(zf, info, target, budget, name, member)
                out.append(target)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        _empty(dest)
        raise refuse(name, f"压缩包已损坏，无法解压（{exc}）") from None
    except ImportRefused:
        _empty(dest)
        raise
    return out


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
