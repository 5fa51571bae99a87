"""``python -m safetymap report --month 2026-11 --out 月报.html`` (or ``--year 2026``, ``.xlsx``)."""
from __future__ import annotations

from pathlib import Path

from .report import Notes, build_report, period_from
from .report_files import output_format, save
from .store import open_store


def add_report_arguments(parser) -> None:
    """The arguments of ``python -m safetymap report`` (``--db`` comes from the CLI's common ones)."""
    period = parser.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", help="月报：月份，如 2026-11")
    period.add_argument("--year", type=int, help="年报：年份，如 2026")
    parser.add_argument("--out", type=Path, required=True, help="输出文件：.xlsx 为 Excel 表格，.html 为可打印页面（A4）")
    parser.add_argument("--problems", default="", help="存在问题（文字，列在可打印页面的最后）")
    parser.add_argument("--next-steps", default="", help="下步工作（文字，列在可打印页面的最后）")


def cmd_report(args) -> int:
    """Write a report, print where."""
    period = period_from(args.month, args.year)
    output_format(args.out)
    report = build_report(open_store(args.db), period, notes=Notes(args.problems, args.next_steps))
    save(report, args.out)
    print(f"已生成{report.title}：{args.out}" + ("（示例数据）" if report.sample else ""))
    return 0
