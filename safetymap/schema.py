"""Categories, fields, enums and colours, declared as data in ``schema.toml``.

Everything that names a field (forms, tables, exports, the legend) asks this module.
Point ``SAFETYMAP_SCHEMA`` at another TOML file to use a bureau's own schema.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from .errors import Problem, UnknownCategory, ValidationError

DEFAULT_SCHEMA_PATH = Path(__file__).with_name("schema.toml")
FIELD_TYPES = {"str", "text", "int", "float", "date", "datetime", "bool", "enum", "stake"}
SHP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,9}$")
CATEGORY_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str
    shp: str
    unit: str = ""
    values: tuple[str, ...] = ()
    multiple: bool = False
    required: bool = False
    computed: bool = False
    system: bool = False
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    pattern_hint: str = ""
    help: str = ""
    requires: tuple[str, ...] = ()  # keys of fields that must be filled in whenever this one is

    @property
    def editable(self) -> bool:
        return not (self.computed or self.system)

    @property
    def label_with_unit(self) -> str:
        return f"{self.label}({self.unit})" if self.unit else self.label


@dataclass(frozen=True)
class Grade:
    key: str
    label: str
    color: str
    rank: int  # 0 = highest (重大)
    badge: str = "gray"  # Streamlit's st.badge colour name


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    code_prefix: str
    geometry: tuple[str, ...]
    buffer_m: float
    outline: str
    dash: str
    icon: str
    fields: tuple[Field, ...]  # common fields first, then the category's own
    n_common: int = 0

    @property
    def table(self) -> str:
        return f"patch_{self.key}"

    @property
    def own_fields(self) -> tuple[Field, ...]:
        return self.fields[self.n_common:]

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]

    @property
    def editable_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.editable)


@dataclass(frozen=True)
class Schema:
    meta: dict
    grades: tuple[Grade, ...]
    matrix: tuple[tuple[str, ...], ...]
    likelihood_labels: tuple[str, ...]
    consequence_labels: tuple[str, ...]
    common_fields: tuple[Field, ...]
    categories: tuple[Category, ...]
    open_statuses: tuple[str, ...] = ()  # rectification statuses still open (overdue past the deadline)
    fog_rule: dict = field(default_factory=dict)  # parameters of the 团雾台账 rule (see safetymap.fog)
    source: Path = field(default=DEFAULT_SCHEMA_PATH)

    # ---- lookups
    def category(self, name: str) -> Category:
        """Find a category by key (``fog``) or Chinese label (``团雾多发路段``)."""
        for c in self.categories:
            if name in (c.key, c.label):
                return c
        raise UnknownCategory(str(name), [c.label for c in self.categories])

    @property
    def category_keys(self) -> list[str]:
        return [c.key for c in self.categories]

    @property
    def grade_labels(self) -> list[str]:
        return [g.label for g in self.grades]

    def grade(self, label: str) -> Grade:
        for g in self.grades:
            if label in (g.label, g.key):
                return g
        raise ValidationError([Problem("风险等级", f"「{label}」不是四个风险等级之一（{'、'.join(self.grade_labels)}）")])

    @cached_property
    def _grade_colors(self) -> dict[str, str]:
        return {g.label: g.color for g in self.grades}

    def grade_color(self, label: str | None, default: str | None = None) -> str:
        """The grade's colour; the schema's ``ungraded_color`` for a patch with no (known) grade."""
        return self._grade_colors.get(label, default or self.meta.get("ungraded_color", "#999999"))

    @property
    def bureau(self) -> str:
        return self.meta.get("bureau", "")

    @property
    def fog_category(self) -> str:
        """The category whose fog events are logged and counted for the fog ledger."""
        return self.meta.get("fog_category", "fog")

    def grade_from_matrix(self, likelihood: int, consequence: int) -> str:
        return self.matrix[int(likelihood) - 1][int(consequence) - 1]

    def field(self, key: str) -> Field:
        """A common field (every category has it) by key, e.g. ``schema.field("rect_status").values``."""
        for f in self.common_fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def all_fields(self) -> dict[str, Field]:
        """Every field key of every category (first declaration wins)."""
        out: dict[str, Field] = {}
        for c in self.categories:
            for f in c.fields:
                out.setdefault(f.key, f)
        return out

    @property
    def storage_crs(self) -> str:
        return self.meta.get("storage_crs", "EPSG:4490")

    @property
    def metric_crs(self) -> str:
        return self.meta.get("metric_crs", "EPSG:4551")

    @property
    def separator(self) -> str:
        return self.meta.get("multi_separator", "、")


def _build_field(raw: dict, lists: dict[str, list[str]], grades: list[str], where: str) -> Field:
    raw = dict(raw)
    problems = []
    for required in ("key", "label", "type", "shp"):
        if required not in raw:
            problems.append(f"{where} 缺少 {required}")
    if problems:
        raise ValueError("；".join(problems))
    if raw["type"] not in FIELD_TYPES:
        raise ValueError(f"{where} 字段 {raw['key']} 的类型 {raw['type']} 不支持（可选 {sorted(FIELD_TYPES)}）")
    if not SHP_NAME.match(raw["shp"]):
        raise ValueError(f"{where} 字段 {raw['key']} 的 shapefile 字段名 {raw['shp']} 须为不超过10个字符的英文字母数字")
    source = raw.pop("values_from", None)
    if source == "grades":
        raw["values"] = grades
    elif source is not None:
        if source not in lists:
            raise ValueError(f"{where} 字段 {raw['key']} 引用了不存在的列表 {source}")
        raw["values"] = lists[source]
    raw["values"] = tuple(raw.get("values", ()))
    raw["requires"] = tuple(raw.get("requires", ()))
    if raw["type"] == "enum" and not raw["values"]:
        raise ValueError(f"{where} 枚举字段 {raw['key']} 没有可选值")
    return Field(**raw)


def parse_schema(data: dict, source: Path = DEFAULT_SCHEMA_PATH) -> Schema:
    grades = tuple(Grade(g["key"], g["label"], g["color"], i, g.get("badge", "gray")) for i, g in enumerate(data["grades"]))
    grade_labels = [g.label for g in grades]
    lists = {k: list(v) for k, v in data.get("lists", {}).items()}
    common = tuple(_build_field(f, lists, grade_labels, "common_fields") for f in data["common_fields"])
    categories = []
    for raw in data["categories"]:
        key = raw["key"]
        if not CATEGORY_KEY.match(key):
            raise ValueError(f"类别键 {key} 须为小写英文字母、数字和下划线")
        own = tuple(_build_field(f, lists, grade_labels, f"类别 {key}") for f in raw.get("fields", []))
        fields = common + own
        _check_unique(fields, key)
        cat = Category(
            key=key, label=raw["label"], code_prefix=raw.get("code_prefix", key[:2].upper()),
            geometry=tuple(raw.get("geometry", ["LineString"])), buffer_m=float(raw.get("buffer_m", 30)),
            outline=raw.get("outline", "#333333"), dash=raw.get("dash", ""), icon=raw.get("icon", "info-sign"),
            fields=fields, n_common=len(common),
        )
        categories.append(cat)
    fog = data.get("meta", {}).get("fog_category", "fog")
    if fog not in {c.key for c in categories}:
        raise ValueError(f"meta.fog_category「{fog}」不是已声明的类别")
    open_statuses = tuple(lists.get("open_rect_statuses", ()))
    unknown = set(open_statuses) - set(lists.get("rect_statuses", ()))
    if unknown:
        raise ValueError(f"open_rect_statuses 中的 {'、'.join(sorted(unknown))} 不在 rect_statuses 中")
    matrix = data["matrix"]
    rows = tuple(tuple(r) for r in matrix["grades"])
    for r in rows:
        for label in r:
            if label not in grade_labels:
                raise ValueError(f"风险矩阵中的等级 {label} 不在 grades 中")
    return Schema(
        meta=data.get("meta", {}), grades=grades, matrix=rows,
        likelihood_labels=tuple(matrix.get("likelihood_labels", [])),
        consequence_labels=tuple(matrix.get("consequence_labels", [])),
        common_fields=common, categories=tuple(categories), open_statuses=open_statuses, source=source,
        fog_rule=dict(data.get("fog_rule", {})),
    )


def _check_unique(fields: tuple[Field, ...], where: str) -> None:
    for attr in ("key", "label", "shp"):
        seen: set[str] = set()
        for f in fields:
            value = getattr(f, attr).upper() if attr == "shp" else getattr(f, attr)
            if value in seen:
                raise ValueError(f"类别 {where} 中字段的 {attr}「{value}」重复")
            seen.add(value)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Schema:
    with open(path, "rb") as fh:
        return parse_schema(tomllib.load(fh), Path(path))


def load_schema(path: str | os.PathLike | None = None) -> Schema:
    """The schema from ``path``, ``$SAFETYMAP_SCHEMA`` or the packaged ``schema.toml``."""
    path = Path(path or os.environ.get("SAFETYMAP_SCHEMA") or DEFAULT_SCHEMA_PATH)
    return _load_cached(str(path.resolve()), path.stat().st_mtime)
