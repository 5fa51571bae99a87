"""``python -m safetymap``: the ledger from the command line. Errors print one line on stderr
(Chinese, naming the cause) and exit non-zero; nothing is written then."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import select
import sys
from pathlib import Path

import shapely

from . import cli_admin
from .io import formats
from .errors import SafetymapError
from .filters import PatchFilter
from .ledger import ledger_table
from .cli_report import add_report_arguments, cmd_report
from .schema import load_schema
from .seed import default_db_path, init_database
from . import stats
from .store import open_store
from .text import is_missing
from .values import display_value
from .backends import is_database_url
from .redaction import redact

EXIT_ERROR = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a Unix tool killed by a closed pipe returns
LIST_KEYS = ("code", "name", "route_code", "start_stake", "end_stake", "risk_grade", "rect_status")  # `list` columns
PREVIEW_ROWS = 200  # rows of a preview printed by `import`; every problem is always printed


def _json_value(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "__geo_interface__"):
        return shapely.geometry.mapping(value)
    return value


def database_location(text: str) -> Path | str:
    """``--db``: a file path, or a ``postgresql://…`` URL kept as text (a Path would collapse its ``//``)."""
    return text if is_database_url(text) else Path(text)


def record_json(record: dict) -> dict:
    return {k: _json_value(v) for k, v in record.items()}


def cmd_init(args) -> int:
    store = init_database(args.db, sample=not args.no_sample, force=args.force)
    counts = store.count()
    print(f"已创建 {redact(args.db)}：{sum(counts.values())} 个图斑" + ("（示例数据）" if not args.no_sample else ""))
    return 0


def cmd_list(args) -> int:
    store = open_store(args.db)
    frame = store.read(args.category, include_archived=args.archived)
    if args.json:
        rows = [record_json({k: v for k, v in record.items() if k not in ("geometry", "source_geometry")})
                for record in store.records(frame)]
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    table = ledger_table(frame, store.schema, keys=LIST_KEYS)
    print(table.to_string(index=False) if len(table) else "（无图斑）")
    return 0


def cmd_show(args) -> int:
    store = open_store(args.db)
    record = store.get(args.code)
    if args.json:
        print(json.dumps(record_json(record), ensure_ascii=False, indent=1))
        return 0
    c = store.schema.category(record["category"])
    print(f"{c.label} {record['code']}（版本 {record['version']}{'，已归档' if record['archived'] else ''}）")
    for f in c.fields:
        print(f"  {f.label_with_unit}: {display_value(f, record[f.key], record)}")
    return 0


def cmd_export(args) -> int:
    from .io.export import export, related_tables  # io is only loaded by the commands that need it
    store = open_store(args.db)
    chosen = PatchFilter.from_args(store.schema, category=args.category, grade=args.grade, status=args.status,
                                   township=args.township, route=args.route, overdue=args.overdue)
    frame = chosen.apply(store.read())
    tables = related_tables(store, frame["code"]) if args.format == "gpkg" else None
    result = export(frame, args.format, args.out, store.schema, encoding=args.encoding, rfc7946=args.rfc7946,
                    tables=tables, database=store.path)
    store.exporting(cli_admin.cli_user(), f"{args.format} {result.count} 个图斑 → {args.out}")
    for warning in result.warnings:
        print(f"注意：{warning}", file=sys.stderr)
    print(f"已导出 {result.count} 个图斑到 {args.out}（{', '.join(result.layers)}）")
    return 0


def _print_preview(preview) -> None:
    print(preview.summary())
    if preview.n_added:
        print("新增：")
        print(preview.adds.head(PREVIEW_ROWS).to_string(index=False))
        if preview.n_added > PREVIEW_ROWS:
            print(f"  …… 共 {preview.n_added} 个")
    if len(preview.updates):
        print("更新（字段 原值 → 新值）：")
        for code, _category, label, before, after in preview.updates.head(PREVIEW_ROWS).itertuples(index=False):
            print(f"  {code} {label}：{before or '（空）'} → {after or '（空）'}")
        if len(preview.updates) > PREVIEW_ROWS:
            print(f"  …… 共 {len(preview.updates)} 处修改")
    for warning in preview.warnings:
        print(f"注意：{warning}")
    if preview.problems:
        print("问题：")
        for problem in preview.problems:
            print(f"  {problem}")


def cmd_import(args) -> int:
    from .io.importer import preview_import
    from .io.uploads import LOCAL_LIMITS

    store = open_store(args.db)
    preview = preview_import(store, args.file, category=args.category, crs=args.crs, encoding=args.encoding,
                             limits=LOCAL_LIMITS)
    _print_preview(preview)
    if preview.problems:
        print(f"错误：导入被拒绝，未写入任何数据（{len(preview.problems)} 处问题，见上）", file=sys.stderr)
        return EXIT_ERROR
    if args.dry_run:
        print("试运行（--dry-run）：未写入任何数据")
        return 0
    user = cli_admin.cli_user()
    with store.transaction() as con:  # the patches and their audit row together, or neither
        counts = preview.commit(store, user)
        store.log(user, "import", f"{args.file.name}：新增 {counts['added']} 个，更新 {counts['updated']} 个", con)
    print(f"已导入：新增 {counts['added']} 个，更新 {counts['updated']} 个")
    return 0


def cmd_stats(args) -> int:
    store = open_store(args.db)
    data = stats.load(store)
    result = stats.summary(data.all_patches[~data.all_patches["archived"].to_numpy(bool)], store.schema)
    result["headline"] = {name: None if is_missing(value) else value  # JSON has no NaN (a rate of nothing)
                          for name, value in stats.headline(data, store.schema).items()}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(f"图斑总数 {result['total']}，逾期未整改 {result['overdue']}")
    for title, key in (("按类别", "by_category"), ("按风险等级", "by_grade"), ("按整改状态", "by_status"),
                       ("设施（不计入风险）", "facilities")):
        print(title + "：" + "，".join(f"{k} {v}" for k, v in result[key].items()))
    print("要点（同统计页）：" + "，".join(f"{k} {'—' if v is None else v}" for k, v in result["headline"].items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m safetymap", description="江源区公路安全风险图斑台账")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--db", type=database_location, default=default_db_path(),
                       help="数据库文件或 postgresql://… 地址（默认 $SAFETYMAP_DB 或 data/safetymap.gpkg）")
        p.set_defaults(func=func)
        return p

    p = command("init", cmd_init, "创建数据库（默认载入示例数据）")
    p.add_argument("--no-sample", action="store_true", help="不载入示例数据")
    p.add_argument("--force", action="store_true", help="覆盖已有的数据库文件")
    p = command("list", cmd_list, "列出图斑")
    p.add_argument("--category", help="类别（键或中文名）")
    p.add_argument("--archived", action="store_true", help="包括已归档的图斑")
    p.add_argument("--json", action="store_true")
    p = command("show", cmd_show, "显示一个图斑")
    p.add_argument("code")
    p.add_argument("--json", action="store_true")
    p = command("export", cmd_export, "导出台账（可按类别、等级、状态、乡镇、路线、逾期筛选）")
    p.add_argument("--format", choices=list(formats.REGISTRY), default="shp")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--category", help="类别（键或中文名）")
    p.add_argument("--grade", action="append", help="风险等级，可重复：--grade 重大 --grade 较大")
    p.add_argument("--status", action="append", help="整改状态，可重复")
    p.add_argument("--township", action="append", help="乡镇，可重复")
    p.add_argument("--route", action="append", help="路线编码，可重复")
    p.add_argument("--overdue", action="store_true", help="只导出逾期未整改的图斑")
    p.add_argument("--encoding", choices=["utf-8", "gbk"], default="utf-8", help="Shapefile 文字编码")
    p.add_argument("--rfc7946", action="store_true", help="GeoJSON 按 RFC 7946（WGS84 经纬度）")
    p = command("import", cmd_import, "导入图斑（先预览；有任何问题则不写入）")
    p.add_argument("file", type=Path, help="zip 压缩的 Shapefile、GeoPackage、GeoJSON、KML/KMZ、Excel、CSV")
    p.add_argument("--category", help="文件中没有「类别」列时，图斑的类别")
    p.add_argument("--crs", help="文件没有坐标系时指明，如 4490、EPSG:4551")
    p.add_argument("--encoding", help="Shapefile 缺少 .cpg 或 CSV 的编码，如 gbk")
    p.add_argument("--dry-run", action="store_true", help="只预览，不写入")
    p = command("stats", cmd_stats, "统计")
    p.add_argument("--json", action="store_true")
    p = command("report", cmd_report, "生成月报或年报（.xlsx 表格或 .html 可打印页面）")
    add_report_arguments(p)
    cli_admin.register(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The CLI. Output cut off by a closed pipe (``safetymap stats | head -1``) ends quietly with 141, as
    other Unix tools do, so a script with ``pipefail`` still sees that not everything was read."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # small outputs are written here, after the reader may have gone
        return code
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit would fail too
        return EXIT_BROKEN_PIPE


def _stdout_closed() -> bool:
    """Whether stdout's reader has gone (the write end of a pipe without reader polls as an error), so
    another broken pipe is not taken for it."""
    if not hasattr(select, "poll"):  # Windows: no poll; a broken pipe there is a closed stdout
        return True
    poller = select.poll()
    poller.register(sys.stdout.fileno(), 0)
    return any(event & select.POLLERR for _fd, event in poller.poll(0))


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "category", None):
        try:
            args.category = load_schema().category(args.category).key
        except SafetymapError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return EXIT_ERROR
    try:
        return args.func(args)
    except SafetymapError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
