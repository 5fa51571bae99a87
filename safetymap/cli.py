"""``python -m safetymap``: the ledger from the command line. Errors print one line on stderr
(Chinese, naming the cause) and exit non-zero; nothing is written then."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import shapely

from . import cli_admin
from .errors import SafetymapError
from .ledger import ledger_table
from .schema import load_schema
from .seed import default_db_path, init_database
from .stats import summary
from .store import Store, display_value

EXIT_ERROR = 2


def _json_value(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "__geo_interface__"):
        return shapely.geometry.mapping(value)
    return value


def record_json(record: dict) -> dict:
    return {k: _json_value(v) for k, v in record.items()}


def cmd_init(args) -> int:
    store = init_database(args.db, sample=not args.no_sample, force=args.force)
    counts = store.count()
    print(f"已创建 {args.db}：{sum(counts.values())} 个图斑" + ("（示例数据）" if not args.no_sample else ""))
    return 0


def cmd_list(args) -> int:
    store = Store(args.db)
    frame = store.read(args.category, include_archived=args.archived)
    if args.json:
        rows = [record_json(store._row_to_record(store.schema.category(r["category"]), r)) for _, r in frame.iterrows()]
        for row in rows:
            row.pop("geometry", None)
            row.pop("source_geometry", None)
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    table = ledger_table(frame, store.schema)[["图斑编号", "类别", "名称", "路线编码", "起点桩号", "止点桩号", "风险等级", "整改状态"]]
    print(table.to_string(index=False) if len(table) else "（无图斑）")
    return 0


def cmd_show(args) -> int:
    store = Store(args.db)
    record = store.get(args.code)
    if args.json:
        print(json.dumps(record_json(record), ensure_ascii=False, indent=1))
        return 0
    c = store.schema.category(record["category"])
    print(f"{c.label} {record['code']}（版本 {record['version']}{'，已归档' if record['archived'] else ''}）")
    for f in c.fields:
        print(f"  {f.label_with_unit}: {display_value(f, record[f.key])}")
    return 0


def cmd_export(args) -> int:
    from .io.shapefile import export_shapefile  # io is only loaded by the commands that need it

    store = Store(args.db)
    frame = store.read(args.category)
    result = export_shapefile(frame, args.out, store.schema, encoding=args.encoding)
    for warning in result.warnings:
        print(f"注意：{warning}", file=sys.stderr)
    print(f"已导出 {len(frame)} 个图斑到 {args.out}（{', '.join(result.layers)}）")
    return 0


def cmd_stats(args) -> int:
    store = Store(args.db)
    result = summary(store.read(), store.schema)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(f"图斑总数 {result['total']}，逾期未整改 {result['overdue']}")
    for title, key in (("按类别", "by_category"), ("按风险等级", "by_grade"), ("按整改状态", "by_status")):
        print(title + "：" + "，".join(f"{k} {v}" for k, v in result[key].items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m safetymap", description="江源区公路安全风险图斑台账")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--db", type=Path, default=default_db_path(), help="数据库文件（默认 $SAFETYMAP_DB 或 data/safetymap.gpkg）")
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
    p = command("export", cmd_export, "导出台账")
    p.add_argument("--format", choices=["shp"], default="shp")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--category")
    p.add_argument("--encoding", choices=["utf-8", "gbk"], default="utf-8")
    p = command("stats", cmd_stats, "统计")
    p.add_argument("--json", action="store_true")
    cli_admin.register(command)
    return parser


def main(argv: list[str] | None = None) -> int:
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
