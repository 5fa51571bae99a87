"""Categories, fields, enums and colours, declared as data in ``schema.toml``.

Everything that names a field (forms, tables, exports, the legend) asks this module.
Point ``SAFETYMAP_SCHEMA`` at another TOML file to use a bureau's own schema.
"""
from __future__ import annotations

import csv
import json
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, wraps
from pathlib import Path

import shapely

from .errors import Problem, SchemaError, UnknownCategory, ValidationError

DEFAULT_SCHEMA_PATH = Path(__file__).with_name("schema.toml")
DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # where a relative district boundary is found
FIELD_TYPES = {"str", "text", "int", "float", "date", "datetime", "bool", "enum", "stake"}
EVENT_FIELD_TYPES = {"str", "text", "int", "float", "date", "time", "datetime", "enum"}
STATUS_ROLES = ("open", "rectified", "closed")
SHP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,9}$")
CATEGORY_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
NORMALISE = ("", "code")
CATEGORY_KINDS = ("risk", "facility")
MARKERS = ("circle", "square", "triangle", "star", "cross")  # a facility's point symbol in desktop GIS styles
# Stake chain prefixes (桩号冠号): main line, left and right carriageways, interchange ramps A–H.
# A field may take them as ``values_from = "stake_prefixes"``; geo parses stakes with them.
STAKE_PREFIXES = ("K", "ZK", "YK") + tuple(f"{letter}K" for letter in "ABCDEFGH")


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
    examples: tuple[str, ...] = ()  # values the pattern accepts, shown to users and checked on load
    normalise: str = ""  # "code": upper case, spaces removed, full-width characters made ASCII
    help: str = ""
    requires: tuple[str, ...] = ()  # keys of fields that must be filled in whenever this one is
    default: str | None = None  # what a new patch gets when the field is left blank
    risk: bool = False  # a field of risk patches only (grade, rectification …): facility layers leave it out
    within: str = ""  # key of the field whose chosen value this one's value must belong to (village in township)

    @property
    def editable(self) -> bool:
        return not (self.computed or self.system)

    @property
    def expected(self) -> str:
        """The expected form of a patterned field, as users are told it: its hint and examples."""
        examples = f"如 {'、'.join(self.examples)}" if self.examples else ""
        return "，".join(filter(None, [self.pattern_hint, examples]))

    @property
    def label_with_unit(self) -> str:
        return f"{self.label}({self.unit})" if self.unit else self.label


@dataclass(frozen=True)
class Status:
    """A rectification status (整改状态) with its role in the workflow and its colour."""

    label: str
    role: str  # open (overdue past the deadline) | rectified (已整改) | closed (销号)
    color: str


@dataclass(frozen=True)
class EventType:
    """An event logged against a patch (fog event, inspection): its fields with types, ranges and labels."""

    key: str
    label: str
    fields: tuple[Field, ...]
    together: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (label, field keys) given all or none

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)


@dataclass(frozen=True)
class HazardStep:
    """One allowed move of a hazard's status, with the right it needs (``safetymap.auth``)."""

    source: str
    target: str
    label: str
    right: str
    requires: tuple[str, ...] = ()
    fill: tuple[tuple[str, str], ...] = ()  # (field key, "today" | "user") filled in when blank
    checks: tuple[str, ...] = ()  # "five_in_place", "rules"


@dataclass(frozen=True)
class HazardSpec:
    """隐患: the fields of a hazard record, its statuses and steps, 五到位 and the contradiction rules."""

    label: str
    event: EventType  # the fields, checked like an event's
    statuses: tuple[Status, ...]
    steps: tuple[HazardStep, ...]
    types: dict[str, tuple[str, ...]]  # category key -> 隐患类型
    five_levels: tuple[str, ...] = ()
    five_parts: tuple[dict, ...] = ()
    rules: tuple[dict, ...] = ()
    code_pattern: str = ""
    code_hint: str = ""

    @property
    def status_labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.statuses)

    @property
    def first_status(self) -> str:
        return self.statuses[0].label

    def statuses_with_role(self, role: str) -> tuple[str, ...]:
        return tuple(s.label for s in self.statuses if s.role == role)

    def steps_from(self, status: str) -> tuple[HazardStep, ...]:
        return tuple(s for s in self.steps if s.source == status)


@dataclass(frozen=True)
class UnitRouteRule:
    """Units of one kind (乡镇人民政府, 街道办事处) allowed in some fields only on some roads (乡道, 村道),
    told apart by the first letter of the route code."""

    units: frozenset[str]
    fields: tuple[str, ...]
    route_prefixes: tuple[str, ...]
    roads: str  # how the message names those roads, e.g. 乡道、村道

    def allows(self, route_code) -> bool:
        return isinstance(route_code, str) and route_code.startswith(self.route_prefixes)

    def message(self, unit: str, field_label: str, route_code: str) -> str:
        prefixes = "、".join(self.route_prefixes)
        return (f"「{unit}」只能作为{self.roads}（路线编码以 {prefixes} 开头）的{field_label}，"
                f"本图斑的路线编码为「{route_code}」")


@dataclass(frozen=True)
class District:
    """The district the ledger covers: its boundary file, and the centre and bounds derived from it."""

    name: str
    boundary_path: Path
    tolerance_m: float = 500.0

    @cached_property
    def boundary(self):
        """The district polygon (EPSG:4490)."""
        with open(self.boundary_path, encoding="utf-8") as fh:
            feature = json.load(fh)
        return shapely.geometry.shape(feature.get("geometry", feature))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat)."""
        return tuple(float(v) for v in self.boundary.bounds)

    @property
    def centre(self) -> tuple[float, float]:
        """(lat, lon) of the bounds' centre, as Leaflet takes it."""
        minx, miny, maxx, maxy = self.bounds
        return (round((miny + maxy) / 2, 3), round((minx + maxx) / 2, 3))


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
    n_common: int = 0  # how many of ``fields`` are common fields (the rest: its blocks, then its own)
    kind: str = "risk"  # "risk" (graded, counted as a risk) or "facility" (equipment, stores: neither)
    symbol: str = ""  # the character a facility's marker shows on the map and in the legend
    marker: str = "circle"  # a facility's point symbol in QGIS/SLD styles (``MARKERS``)

    @property
    def is_facility(self) -> bool:
        return self.kind == "facility"

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
    statuses: tuple[Status, ...] = ()  # rectification statuses in workflow order
    events: dict[str, EventType] = field(default_factory=dict)  # "fog_event", "inspection"
    district: District | None = None
    fog_rule: dict = field(default_factory=dict)  # parameters of the 团雾台账 rule (see safetymap.fog)
    hazard: HazardSpec | None = None
    parents: dict = field(default_factory=dict)  # village -> (its township,), from the divisions file
    stake_length_rule: dict = field(default_factory=dict)  # tolerance of 桩号 vs length (validation.stake_length_notes)
    township_unit_rule: UnitRouteRule | None = None  # 乡镇人民政府 only on 乡道/村道 (validation)
    source: Path = field(default=DEFAULT_SCHEMA_PATH)

    @property
    def open_statuses(self) -> tuple[str, ...]:
        """Rectification statuses still open (overdue past the deadline)."""
        return self.statuses_with_role("open")

    def statuses_with_role(self, role: str) -> tuple[str, ...]:
        return tuple(s.label for s in self.statuses if s.role == role)

    @property
    def status_colors(self) -> dict[str, str]:
        return {s.label: s.color for s in self.statuses}

    @property
    def ungraded_label(self) -> str:
        """What a patch with no grade shows in tables, the legend and reports."""
        return self.meta.get("ungraded_label", "未定级")

    def label(self, key: str) -> str:
        """The label of a field by key (common fields first, then any category's); the key if unknown."""
        found = self.all_fields().get(key)
        return found.label if found else key

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
    def risk_categories(self) -> tuple[Category, ...]:
        """The categories whose patches are risks (graded, counted); facility layers are not."""
        return tuple(c for c in self.categories if not c.is_facility)

    @property
    def facility_keys(self) -> list[str]:
        return [c.key for c in self.categories if c.is_facility]

    def belongs(self, value: str, parent: str) -> bool:
        """Whether ``value`` (a village) lies in ``parent`` (its township), by the district's divisions."""
        return parent in self.parents.get(value, ())

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


class _Bad(Exception):
    """One entry of the schema is wrong; ``parse_schema`` adds the file and raises SchemaError."""

    def __init__(self, entry: str, problem: str):
        super().__init__(entry, problem)
        self.entry, self.problem = entry, problem


def _build_field(raw: dict, lists: dict[str, list[str]], grades: list[str], where: str,
                 types: set[str] = FIELD_TYPES, needs_shp: bool = True) -> Field:
    raw = dict(raw)
    needed = ("key", "label", "type", "shp") if needs_shp else ("key", "label", "type")
    missing = [k for k in needed if k not in raw]
    if missing:
        raise _Bad(f"{where} 字段 {raw.get('key', '?')}", f"缺少 {'、'.join(missing)}")
    entry = f"{where} 字段 {raw['key']}"
    if raw["type"] not in types:
        raise _Bad(entry, f"类型 {raw['type']} 不支持（可选 {sorted(types)}）")
    if needs_shp and not SHP_NAME.match(raw["shp"]):
        raise _Bad(entry, f"shapefile 字段名 {raw['shp']} 须为不超过10个字符的英文字母数字")
    raw.setdefault("shp", "")
    source = raw.pop("values_from", None)
    if source is not None:
        raw["values"] = [v for name in ([source] if isinstance(source, str) else source)
                         for v in _named_list(name, lists, grades, entry)]
    raw["values"] = tuple(raw.get("values", ()))
    raw["requires"] = tuple(raw.get("requires", ()))
    raw["examples"] = tuple(raw.get("examples", ()))
    if raw.get("normalise", "") not in NORMALISE:
        raise _Bad(entry, f"normalise「{raw['normalise']}」须为 {'、'.join(NORMALISE)} 之一")
    _check_examples(raw, entry)
    if raw["type"] == "enum" and not raw["values"]:
        raise _Bad(entry, "枚举字段没有可选值")
    try:
        return Field(**raw)
    except TypeError as exc:
        raise _Bad(entry, f"有不认识的设置（{exc}）") from None


def _named_list(name: str, lists: dict[str, list[str]], grades: list[str], entry: str) -> list[str]:
    if name == "grades":
        return grades
    if name not in lists:
        raise _Bad(entry, f"引用了不存在的列表 {name}")
    return lists[name]


def _township_units(townships: list[str]) -> list[str]:
    """The township governments (乡镇人民政府, 街道办事处), responsible for 乡道 and 村道."""
    return [f"{t}办事处" if t.endswith("街道") else f"{t}人民政府" for t in townships]


def _divisions(meta: dict) -> dict[str, tuple[str, ...]]:
    """village -> (its township,) from the district's divisions file (code,name,parent_code)."""
    name = meta.get("district", {}).get("divisions")
    if not name:
        return {}
    path = Path(name) if Path(name).is_absolute() else DATA_DIR / name
    if not path.is_file():
        raise _Bad("meta.district.divisions", f"找不到区划文件 {path}")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    towns = {r["code"]: r["name"] for r in rows}
    parents: dict[str, tuple[str, ...]] = {}
    for r in rows:
        if r["parent_code"] in towns:
            parents[r["name"]] = parents.get(r["name"], ()) + (towns[r["parent_code"]],)
    return parents


def _category_fields(raw: dict, common: tuple[Field, ...], blocks: dict[str, tuple[Field, ...]], lists, grades,
                     where: str) -> tuple[tuple[Field, ...], int]:
    """(the category's fields: common ones (no risk fields for a facility), its blocks, its own; how
    many of them are common)."""
    kind = raw.get("kind", "risk")
    if kind not in CATEGORY_KINDS:
        raise _Bad(where, f"kind「{kind}」须为 {'、'.join(CATEGORY_KINDS)} 之一")
    shared = tuple(f for f in common if not (kind == "facility" and f.risk))
    n_common = len(shared)
    for name in raw.get("blocks", []):
        if name not in blocks:
            raise _Bad(where, f"引用了不存在的字段块 {name}（可选 {'、'.join(blocks)}）")
        shared += blocks[name]
    own = tuple(_build_field(f, lists, grades, where) for f in raw.get("fields", []))
    return shared + own, n_common


def _marker(raw: dict, where: str) -> str:
    marker = raw.get("marker", MARKERS[0])
    if marker not in MARKERS:
        raise _Bad(where, f"marker「{marker}」须为 {'、'.join(MARKERS)} 之一")
    return marker


def _check_examples(raw: dict, entry: str) -> None:
    """Every declared example is accepted by the field's pattern (so the hint never lies)."""
    if not raw.get("pattern"):
        return
    wrong = [e for e in raw["examples"] if not re.match(raw["pattern"], e)]
    if wrong:
        raise _Bad(entry, f"示例 {'、'.join(wrong)} 不符合 pattern")


def _build_statuses(data: dict) -> tuple[Status, ...]:
    statuses = []
    for i, raw in enumerate(data.get("rect_statuses", []), start=1):
        entry = f"rect_statuses 第 {i} 项"
        if "label" not in raw:
            raise _Bad(entry, "缺少 label")
        role = raw.get("role", "open")
        if role not in STATUS_ROLES:
            raise _Bad(f"{entry}（{raw['label']}）", f"role「{role}」须为 {'、'.join(STATUS_ROLES)} 之一")
        statuses.append(Status(raw["label"], role, raw.get("color", "#5B7DB1")))
    if statuses and not any(s.role == "open" for s in statuses):
        raise _Bad("rect_statuses", "至少要有一个 role = \"open\" 的整改状态")
    return tuple(statuses)


def _build_events(data: dict, lists: dict[str, list[str]], grades: list[str]) -> dict[str, EventType]:
    events = {}
    for key, raw in data.get("events", {}).items():
        fields = tuple(_build_field(f, lists, grades, f"events.{key}", EVENT_FIELD_TYPES, needs_shp=False)
                       for f in raw.get("fields", []))
        keys = {f.key for f in fields}
        together = tuple((g.get("label", ""), tuple(g.get("fields", []))) for g in raw.get("together", []))
        for label, group in together:
            if not set(group) <= keys:
                raise _Bad(f"events.{key}.together {label}", f"{'、'.join(sorted(set(group) - keys))} 不是该事件的字段")
        events[key] = EventType(key, raw.get("label", key), fields, together)
    return events


def _build_hazard(data: dict, lists: dict[str, list[str]], grades: list[str],
                  categories: list[Category]) -> HazardSpec | None:
    raw = data.get("hazard")
    if raw is None:
        return None
    statuses = tuple(Status(s["label"], s.get("role", "open"), s.get("color", "#5B7DB1"))
                     for s in raw.get("statuses", []))
    labels = {s.label for s in statuses}
    if not statuses:
        raise _Bad("hazard.statuses", "至少要声明一个隐患状态")
    event = _build_events({"events": {"hazard": raw}}, lists | {"hazard_statuses": sorted(labels)}, grades)["hazard"]
    steps = []
    for i, s in enumerate(raw.get("steps", []), start=1):
        if not {s.get("from"), s.get("to")} <= labels:
            raise _Bad(f"hazard.steps 第 {i} 项", "from 和 to 须为已声明的隐患状态")
        unknown = set(s.get("requires", [])) - set(event.keys)
        if unknown:
            raise _Bad(f"hazard.steps 第 {i} 项", f"{'、'.join(sorted(unknown))} 不是隐患字段")
        steps.append(HazardStep(s["from"], s["to"], s.get("label", s["to"]), s.get("right", "edit"),
                                tuple(s.get("requires", [])), tuple(s.get("fill", {}).items()),
                                tuple(s.get("checks", []))))
    types = {k: tuple(v) for k, v in raw.get("types", {}).items()}
    unknown = set(types) - {c.key for c in categories}
    if unknown:
        raise _Bad("hazard.types", f"{'、'.join(sorted(unknown))} 不是已声明的类别")
    five = raw.get("five_in_place", {})
    return HazardSpec(raw.get("label", "隐患"), event, statuses, tuple(steps), types,
                      tuple(five.get("levels", [])), tuple(five.get("parts", [])), tuple(raw.get("rules", [])),
                      raw.get("code_pattern", ""), raw.get("code_hint", ""))


def _build_unit_rule(data: dict, lists: dict[str, list[str]], common: tuple[Field, ...]) -> UnitRouteRule | None:
    raw = data.get("township_unit_rule")
    if raw is None:
        return None
    entry = "township_unit_rule"
    missing = [k for k in ("units", "fields", "route_prefixes", "roads") if k not in raw]
    if missing:
        raise _Bad(entry, f"缺少 {'、'.join(missing)}")
    if raw["units"] not in lists:
        raise _Bad(entry, f"引用了不存在的列表 {raw['units']}")
    keys = {f.key for f in common}
    unknown = [k for k in raw["fields"] if k not in keys]
    if unknown:
        raise _Bad(entry, f"{'、'.join(unknown)} 不是公共字段")
    route = next((f for f in common if f.key == "route_code"), None)
    if route is not None and route.pattern:
        wrong = [p for p in raw["route_prefixes"] if not re.match(route.pattern, f"{p}001")]
        if wrong:
            raise _Bad(entry, f"路线编码前缀 {'、'.join(wrong)} 不符合路线编码的 pattern")
    return UnitRouteRule(frozenset(lists[raw["units"]]), tuple(raw["fields"]), tuple(raw["route_prefixes"]),
                         raw["roads"])


def _build_district(meta: dict) -> District | None:
    raw = meta.get("district")
    if raw is None:
        return None
    if "boundary" not in raw:
        raise _Bad("meta.district", "缺少 boundary（区界 GeoJSON 文件）")
    path = Path(raw["boundary"])
    path = path if path.is_absolute() else DATA_DIR / path
    if not path.is_file():
        raise _Bad("meta.district.boundary", f"找不到区界文件 {path}")
    return District(raw.get("name", ""), path, float(raw.get("tolerance_m", 500.0)))


def parse_schema(data: dict, source: Path = DEFAULT_SCHEMA_PATH) -> Schema:
    """The schema declared by ``data`` (a parsed TOML file); SchemaError names ``source``, the entry and
    the problem."""
    try:
        return _parse(data, source)
    except _Bad as exc:
        raise SchemaError(source, exc.entry, exc.problem) from None
    except KeyError as exc:
        raise SchemaError(source, str(exc.args[0]), "缺少这一项") from None


def _parse(data: dict, source: Path) -> Schema:
    grades = tuple(Grade(g["key"], g["label"], g["color"], i, g.get("badge", "gray")) for i, g in enumerate(data["grades"]))
    grade_labels = [g.label for g in grades]
    lists = {k: list(v) for k, v in data.get("lists", {}).items()}
    statuses = _build_statuses(data)
    lists["stake_prefixes"] = list(STAKE_PREFIXES)
    lists["township_units"] = _township_units(lists.get("townships", []))
    parents = _divisions(data.get("meta", {}))
    lists["villages"] = list(parents)
    if statuses:
        lists["rect_statuses"] = [s.label for s in statuses]
    common = tuple(_build_field(f, lists, grade_labels, "common_fields") for f in data["common_fields"])
    blocks = {name: tuple(_build_field(f, lists, grade_labels, f"blocks.{name}") for f in block.get("fields", []))
              for name, block in data.get("blocks", {}).items()}
    categories = []
    for raw in data["categories"]:
        key = raw["key"]
        if not CATEGORY_KEY.match(key):
            raise _Bad(f"类别 {key}", "键须为小写英文字母、数字和下划线")
        fields, n_shared = _category_fields(raw, common, blocks, lists, grade_labels, f"类别 {key}")
        _check_unique(fields, key)
        cat = Category(
            key=key, label=raw["label"], code_prefix=raw.get("code_prefix", key[:2].upper()),
            geometry=tuple(raw.get("geometry", ["LineString"])), buffer_m=float(raw.get("buffer_m", 30)),
            outline=raw.get("outline", "#333333"), dash=raw.get("dash", ""), icon=raw.get("icon", "info-sign"),
            fields=fields, n_common=n_shared, kind=raw.get("kind", "risk"), symbol=raw.get("symbol", raw["label"][0]),
            marker=_marker(raw, f"类别 {key}"),
        )
        categories.append(cat)
    fog = data.get("meta", {}).get("fog_category", "fog")
    if fog not in {c.key for c in categories}:
        raise _Bad("meta.fog_category", f"「{fog}」不是已声明的类别")
    matrix = data["matrix"]
    rows = tuple(tuple(r) for r in matrix["grades"])
    for r in rows:
        for label in r:
            if label not in grade_labels:
                raise _Bad("matrix.grades", f"等级 {label} 不在 grades 中")
    return Schema(
        meta=data.get("meta", {}), grades=grades, matrix=rows,
        likelihood_labels=tuple(matrix.get("likelihood_labels", [])),
        consequence_labels=tuple(matrix.get("consequence_labels", [])),
        common_fields=common, categories=tuple(categories), statuses=statuses,
        events=_build_events(data, lists, grade_labels), district=_build_district(data.get("meta", {})), source=source,
        fog_rule=dict(data.get("fog_rule", {})), hazard=_build_hazard(data, lists, grade_labels, categories),
        parents=parents, stake_length_rule=dict(data.get("stake_length_rule", {})),
        township_unit_rule=_build_unit_rule(data, lists, common),
    )


def _check_unique(fields: tuple[Field, ...], where: str) -> None:
    for attr in ("key", "label", "shp"):
        seen: set[str] = set()
        for f in fields:
            value = getattr(f, attr).upper() if attr == "shp" else getattr(f, attr)
            if value in seen:
                raise _Bad(f"类别 {where}", f"字段的 {attr}「{value}」重复")
            seen.add(value)


def per_schema(build):
    """Cache ``build(schema)`` for each schema object (a Schema holds dicts, so it cannot be an
    ``lru_cache`` key). What is built from the schema alone, such as SQL text or default styles, is then
    made once per process instead of on every opening of a ledger. The result is shared: do not change it."""
    results: dict[int, tuple[Schema, object]] = {}  # the schema is held, so its id is not reused meanwhile
    lock = threading.Lock()  # app sessions open ledgers from several threads

    @wraps(build)
    def cached(schema: Schema):
        with lock:
            held = results.get(id(schema))
            if held is None or held[0] is not schema:
                if len(results) >= 8:
                    results.pop(next(iter(results)))
                held = results[id(schema)] = (schema, build(schema))
            return held[1]
    return cached


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Schema:
    with open(path, "rb") as fh:
        try:
            data = tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SchemaError(path, "TOML 语法", str(exc)) from None
    return parse_schema(data, Path(path))


def load_schema(path: str | os.PathLike | None = None) -> Schema:
    """The schema from ``path``, ``$SAFETYMAP_SCHEMA`` or the packaged ``schema.toml``."""
    path = Path(path or os.environ.get("SAFETYMAP_SCHEMA") or DEFAULT_SCHEMA_PATH)
    if not path.is_file():
        raise SchemaError(path, "文件", "不存在（检查 SAFETYMAP_SCHEMA 设置）")
    return _load_cached(str(path.resolve()), path.stat().st_mtime)
