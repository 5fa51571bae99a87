"""Administration commands of ``python -m safetymap``: users, backup and migrate."""
from __future__ import annotations

import getpass
import sys

from . import accounts
from .auth import ROLES
from .errors import Problem, ValidationError
from .store import open_store
from .redaction import redact
from .backends.tables import SOURCE_TABLE

CLI_PREFIX = "命令行"


def cli_user() -> str:
    """Who a command acts as: the operating-system account running it (命令行:root), never a name typed on
    the command line. Whoever can run commands can open the database file anyway."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        name = "未知"
    return f"{CLI_PREFIX}:{name[:64]}"


def _password_from_stdin() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise ValidationError([Problem("密码", "未从标准输入读到密码（用法：echo 密码 | python -m safetymap user add …）")])
    return password


def cmd_user(args) -> int:
    store = open_store(args.db)
    if args.action == "add":
        accounts.add_user(store, args.name, args.role, _password_from_stdin(), cli_user())
        print(f"已添加用户 {args.name}（{ROLES[args.role]}）")
    elif args.action == "passwd":
        accounts.set_password(store, args.name, _password_from_stdin(), cli_user())
        print(f"已修改 {args.name} 的密码")
    elif args.action == "disable":
        accounts.set_disabled(store, args.name, True, cli_user())
        print(f"已停用 {args.name}")
    elif args.action == "enable":
        accounts.set_disabled(store, args.name, False, cli_user())
        print(f"已启用 {args.name}")
    else:
        users = store.user_rows()
        for row in users.itertuples():
            state = "停用" if row.disabled else ("锁定" if row.locked_until is not None and str(row.locked_until) != "NaT" else "正常")
            print(f"{row.name}\t{ROLES.get(row.role, row.role)}\t{state}")
        if not len(users):
            print("（没有用户）")
    return 0


def cmd_backup(args) -> int:
    store = open_store(args.db)
    path = store.backup(args.out)
    store.log(cli_user(), "backup", str(path))
    print(f"已备份到 {path}")
    return 0


def cmd_migrate(args) -> int:
    from .migrate import migrate

    source = args.source or args.db
    counts = migrate(source, args.target)
    print(f"已迁移 {redact(source)} → {redact(args.target)}：图斑 {counts[SOURCE_TABLE]} 个，变更历史 {counts['history']} 条，"
          f"团雾事件 {counts['fog_events']} 条，巡查 {counts['inspections']} 条，照片 {counts['photos']} 张，"
          f"用户 {counts['users']} 个，操作日志 {counts['audit']} 条，路线 {counts['routes']} 条")
    return 0


def register(command) -> None:
    """Add the commands to the parser; ``command(name, func, help)`` is cli.build_parser's helper."""
    p = command("user", cmd_user, "用户管理：add / passwd / list / disable / enable")
    p.add_argument("action", choices=["add", "passwd", "list", "disable", "enable"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=list(ROLES), default="viewer")
    p.add_argument("--password-stdin", action="store_true", help="从标准输入读取密码（不在命令行中出现）")
    p = command("backup", cmd_backup, "备份数据库（可在使用中备份）")
    p.add_argument("--out", required=True)
    p = command("migrate", cmd_migrate, "整库迁移台账（GeoPackage 文件 ⇄ PostgreSQL），保留版本、历史与编号；目标须为空")
    p.add_argument("--from", dest="source", help="源：文件或 postgresql://… 地址（默认 --db）")
    p.add_argument("--to", dest="target", required=True, help="目标：新文件或空的 postgresql://… 数据库")
