"""Generate the synthetic sample ledger (示例数据) of Jiangyuan District: route centrelines with their
technical grade and maintenance unit (data/routes.geojson), patches of every category and facility layer
(data/segments.geojson), a fog event log (data/fog_events.csv) and hazards (data/hazards.csv), the patches'
整改状态 settled to agree with their hazards. Route codes and township names are real; every line, stake and value is
invented. Deterministic (seeded); validated against the schema before anything is written.

    python scripts/make_sample_data.py
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from safetymap import geo
from safetymap.hazards import clean_hazard, hazard_contradictions, patch_contradictions
from safetymap.schema import load_schema
from safetymap.validation import clean_frame, derive, grade_problems

SEED, TODAY, DATA = 20261128, dt.date(2026, 11, 28), ROOT / "data"
STEP, CURVE_STEP, R_MIN, EDGE_M = 25.0, 20.0, 150.0, 1000.0  # metres
# Synthetic township seats, km in EPSG:4551 (the four 街道 are the urban core).
SEATS = {"孙家堡子街道": (549.5, 4654.5), "江源街道": (551.8, 4656.6), "正岔街道": (554.6, 4652.8),
         "城墙街道": (551.6, 4650.6), "湾沟镇": (542.0, 4666.5), "松树镇": (556.5, 4664.0),
         "砟子镇": (547.2, 4664.0), "石人镇": (549.6, 4640.5), "大阳岔镇": (590.0, 4658.0),
         "大石人镇": (573.5, 4658.5)}
# code, name, stake of the first vertex (m), waypoints (a seat, or km), tight bends at (km along)
ROUTES = [
    ("G201", "鹤大线", 36000, [(548.0, 4672.0), (546.8, 4668.5), "砟子镇", (549.0, 4661.5), (547.5, 4658.0),
                             "孙家堡子街道", "城墙街道", (549.5, 4647.5), (551.5, 4644.0), "石人镇", (550.3, 4636.5)],
     [2.5, 9, 17, 27]),
    ("G222", "嘉临线", 18500, [(554.5, 4669.0), "松树镇", (554.0, 4662.0), (555.5, 4659.0), "江源街道",
                             "孙家堡子街道"], [3, 8.5]),
    ("S204", "正岔—大阳岔段", 52000, ["城墙街道", "正岔街道", (558.5, 4654.0), (562.0, 4657.5), (566.5, 4656.0),
                                  (570.0, 4659.5), "大石人镇", (577.5, 4656.5), (581.5, 4659.5), (585.5, 4657.0),
                                  "大阳岔镇", (592.5, 4661.0), (595.0, 4660.0)], [4, 12, 21, 33, 41]),
    ("X024", "砟子—湾沟线", 0, ["砟子镇", (545.0, 4666.8), (543.5, 4665.2), "湾沟镇", (540.5, 4668.5)], [2, 5.5]),
    ("X031", "松树—大石人线", 0, ["松树镇", (559.5, 4661.5), (563.5, 4663.0), (567.0, 4660.5), (570.0, 4662.0),
                               "大石人镇"], [3.5, 11, 17]),
    ("X047", "大阳岔—葫芦线", 3200, ["大阳岔镇", (589.0, 4662.0), (586.5, 4665.0)], [2.5, 5]),
]
# technical grade (技术等级) and maintenance unit (管养单位) of each route
ROUTE_INFO = {"G201": ("二级", "公路事业发展中心"), "G222": ("二级", "公路事业发展中心"), "S204": ("三级", "公路事业发展中心"),
              "X024": ("三级", "公路事业发展中心"), "X031": ("四级", "公路事业发展中心"), "X047": ("四级", "大阳岔镇人民政府")}
# The layers added later are drawn with their own generator (seed + 1) after the first five, so that
# the first five keep their places and values.
MORE_COUNTS = {"danger_bridge": 4, "overpass": 3, "tunnel": 3, "geohazard": 8, "camera": 6, "fog_guide": 5,
               "emergency_store": 4}
MORE_LENGTHS = {"danger_bridge": (0, 180), "overpass": (40, 160), "tunnel": (300, 1600), "geohazard": (80, 600)}
COUNTS = {"fog": 15, "bridge": 14, "curve": 14, "waterside": 12, "downhill": 10}
LENGTHS = {"fog": (500, 2500), "waterside": (150, 900), "downhill": (1500, 3500)}
FUNDING = {"fog": (8, 120), "bridge": (40, 600), "curve": (5, 80), "waterside": (3, 60), "downhill": (20, 400)}
GRADE_WEIGHTS = {"重大": 13, "较大": 30, "一般": 37, "较小": 20}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭肖田董潘于姜崔"
GIVEN = ["志强", "建国", "海波", "立新", "春雷", "秀梅", "丽娟", "洪涛", "振华", "国庆", "雪峰",
         "晓东", "玉芬", "德明", "文博", "宏伟", "桂兰", "树林", "永刚", "红艳", "明辉", "凤霞"]
# Per category: what it is, the plan; two choices ("a|b") each of measures, monitoring, emergency, hazard.
TEXT = {
    "fog": ["沿河谷低洼路段，夜间至清晨易生团雾", "《江源区公路团雾天气交通安全应急预案》",
            "设置雾区诱导灯和限速标志，雾天限速40km/h、禁止超车|增设可变情报板，雾天发布预警并分段限速",
            "雾季每日早晚巡查，能见度检测仪实时上传|视频监控接入局值班室，能见度低于100米自动报警",
            "能见度低于50米时联合交警实施临时交通管制|启动雾天应急预案，派员在两端疏导车辆",
            "河谷水汽充沛，秋季昼夜温差大，团雾突发，能见度骤降易引发追尾|路段临江，夜间团雾频发，缺少连续诱导设施"],
    "bridge": ["独柱墩桥梁，上部结构为连续梁", "《江源区独柱墩桥梁安全应急预案》",
               "设置限载、限速标志，禁止超限车辆偏载通行|增设桥头限高限宽设施，超限检测站联动劝返",
               "每月经常检查1次，每年定期检查1次|支座和墩顶位移人工观测，重车通行时加密巡查",
               "发现支座脱空或梁体偏位立即封闭交通|启动桥梁突发事件应急预案，组织绕行",
               "独柱墩单支座，偏载时存在倾覆风险|支座老化，墩柱局部混凝土剥落、露筋"],
    "curve": ["山区急弯陡坡，视距不良", "《江源区急弯陡坡路段安全保障预案》",
              "设置急弯警告标志、线形诱导标和减速标线|弯道外侧加强护栏，内侧清除遮挡视线的树木",
              "每周巡查1次，雨雪天气加密巡查|弯道设置广角镜和视频监控",
              "冰雪天气撒布防滑料，必要时封闭交通|发生事故时两端设置警示，联系交警和120",
              "弯道半径小、纵坡大，大货车下坡制动距离长|弯道视距不足，路侧护栏高度不够"],
    "waterside": ["路侧临江或临崖，路基外侧落差大", "《江源区临水临崖路段安全应急预案》",
                  "完善路侧护栏和警示桩，设置临水临崖警告标志|路肩加宽并设置轮廓标",
                  "汛期每日巡查路基和护栏，平时每周1次|水位观测点人工观测，视频监控覆盖",
                  "汛期水位超警戒时封闭路段，组织绕行|发生车辆坠河坠崖时启动预案，联系消防救援",
                  "路侧无防护或护栏等级不足，车辆冲出路外后果严重|汛期河水冲刷路基，存在坍塌隐患"],
    "downhill": ["连续长大下坡，大货车制动易失效", "《江源区长大下坡路段安全应急预案》",
                 "坡顶设置强制停车检查区和长下坡提示标志|设置减速振荡标线和限速40km/h标志",
                 "每周巡查1次，重点检查标志标线和避险车道|坡底设置测速和视频监控",
                 "车辆制动失效时引导驶入避险车道|冰雪天气实施交通管制，撒布防滑料",
                 "连续下坡长，货车频繁制动致刹车热衰退|坡底接平交路口，事故后果严重"],
}


# The sample hazards (示例隐患), in every state of the closure workflow: road hazards led by 工程科 with 质监办,
# 公路事业发展中心 and 交投公司 cooperating; 超限超载通行 (enforcement) led by 综合执法大队. Written, checked against
# the schema's [hazard] rules, to data/hazards.csv; the patches' 整改状态 is settled to agree with them.
HAZARDS_CSV = """\
code,hazard_code,status,hazard_type,hazard_level,found_date,found_way,found_unit,description,measures,lead_unit,assist_units,resp_person,deadline,fund_wan,fund_source,done_date,accept_by,accept_date,accept_opinion,closed_date,supervise_level,supervise_doc,recheck_date,recheck_by,recheck_way
DZ-010,DZ-010-YH01,待整改,抗倾覆能力不足,重大隐患,2026-03-12,专项排查,质监办,5类危桥，独柱墩抗倾覆验算不满足，偏载有倾覆风险。,增设盖梁及双支座，改造前限载限行。,工程科,质监办、公路事业发展中心、交投公司,王建国,2027-06-30,320,车购税资金,,,,,,市级,白市交安办〔2026〕7号,,,
DZ-010,DZ-010-YH02,整改中,超限超载通行,一般隐患,2026-04-02,日常巡查,综合执法大队,夜间超限货车绕行通过危桥。,设置限载标志和限高架，联合治超。,综合执法大队,公路事业发展中心,刘强,2026-12-31,6,区级财政,,,,,,,,,,
DZ-001,DZ-001-YH01,整改中,技术状况差,重大隐患,2026-02-20,专项排查,质监办,技术状况评定4类，墩柱裂缝，抗倾覆尚未验算。,委托抗倾覆验算，按设计加固墩柱。,工程科,质监办、公路事业发展中心、交投公司,赵立新,2027-05-31,260,省级补助,,,,,,,,,,
DZ-006,DZ-006-YH01,待整改,支座病害,一般隐患,2026-05-18,日常巡查,公路事业发展中心,支座老化，墩柱局部混凝土剥落。,更换支座，修补墩柱混凝土。,工程科,质监办、公路事业发展中心、交投公司,孙海,2026-12-31,18,养护资金,,,,,,,,,,
DZ-013,DZ-013-YH01,待验收,支座病害,一般隐患,2026-04-10,日常巡查,公路事业发展中心,支座老化，墩柱露筋。,更换支座，墩柱露筋处理。,工程科,质监办、公路事业发展中心、交投公司,孙海,2026-10-31,12,养护资金,2026-10-20,,,,,,,,,
DZ-004,DZ-004-YH01,已销号,抗倾覆能力不足,重大隐患,2025-09-05,专项排查,质监办,独柱墩单支座，偏载倾覆风险。,增设盖梁及双支座（已完成改造）。,工程科,质监办、公路事业发展中心、交投公司,李明,2026-06-30,150,车购税资金,2026-06-15,局安全科 陈静,2026-06-25,现场复查：盖梁及双支座施工完成，验收合格，同意销号。,2026-06-25,区级,江源交安办〔2025〕12号,2026-06-24,局安全科 陈静,现场复查
DZ-002,DZ-002-YH01,已销号,墩柱病害,一般隐患,2025-11-03,日常巡查,公路事业发展中心,墩柱局部混凝土剥落、露筋。,凿除松散混凝土，除锈后修补。,工程科,质监办、公路事业发展中心、交投公司,孙海,2026-05-31,8,养护资金,2026-05-20,局安全科 陈静,2026-05-28,修补完成，外观良好，验收合格。,2026-05-28,,,,,
DZ-008,DZ-008-YH01,待验收,技术状况差,重大隐患,2025-12-01,督查检查,质监办,4类桥，主梁裂缝。,主梁粘贴钢板加固（改造已完成）。,工程科,质监办、公路事业发展中心、交投公司,赵立新,2026-10-31,210,省级补助,2026-10-28,,,,,市级,白市交安办〔2025〕21号,,,
TW-006,TW-006-YH01,整改中,诱导设施缺失,重大隐患,2026-03-22,专项排查,工程科,团雾高发路段无连续诱导灯。,安装智能诱导灯及能见度检测仪。,工程科,质监办、公路事业发展中心、交投公司,周涛,2026-11-30,95,省级补助,,,,,,,,,,
TW-001,TW-001-YH01,待整改,情报板缺失,一般隐患,2026-06-01,日常巡查,公路事业发展中心,缺少团雾预警情报板。,增设可变情报板。,工程科,质监办、公路事业发展中心、交投公司,周涛,2027-03-31,40,区级财政,,,,,,,,,,
TW-002,TW-002-YH01,已销号,标志标线不足,一般隐患,2025-10-12,群众举报,公路事业发展中心,雾区限速标志缺失。,补设雾区限速及警示标志。,工程科,质监办、公路事业发展中心、交投公司,周涛,2026-04-30,3.5,养护资金,2026-04-18,局安全科 陈静,2026-04-26,标志齐全，验收合格。,2026-04-26,,,,,
JW-001,JW-001-YH01,整改中,护栏缺失或不足,一般隐患,2026-05-06,日常巡查,交投公司,弯道外侧护栏高度不足。,更换为加强型波形梁护栏。,工程科,质监办、公路事业发展中心、交投公司,吴刚,2026-12-15,22,养护资金,,,,,,,,,,
JW-014,JW-014-YH01,待验收,视距不足,一般隐患,2026-04-15,督查检查,质监办,弯道内侧树木遮挡视距。,清理视距范围树木，增设凸面镜。,工程科,质监办、公路事业发展中心、交投公司,吴刚,2026-09-30,2,养护资金,2026-09-25,,,,,,,,,
LS-001,LS-001-YH01,待整改,路基冲刷,重大隐患,2026-07-20,上级交办,公路事业发展中心,汛期河水冲刷路基，局部掏空。,砌筑浆砌石挡墙，增设防撞护栏。,工程科,质监办、公路事业发展中心、交投公司,郑伟,2027-05-31,180,车购税资金,,,,,,省级,吉交安委〔2026〕3号,,,
LS-011,LS-011-YH01,已销号,路侧护栏缺失,一般隐患,2025-08-30,日常巡查,公路事业发展中心,临水路段路侧无护栏。,增设混凝土护栏。,工程科,质监办、公路事业发展中心、交投公司,郑伟,2026-06-30,35,区级财政,2026-06-10,局安全科 陈静,2026-06-20,护栏施工完成，验收合格。,2026-06-20,,,,,
CX-005,CX-005-YH01,整改中,避险车道缺失,重大隐患,2026-03-08,专项排查,工程科,长大下坡无避险车道。,坡底前设置避险车道。,工程科,质监办、公路事业发展中心、交投公司,冯磊,2027-08-31,420,车购税资金,,,,,,,,,,
CX-005,CX-005-YH02,待验收,超限超载通行,一般隐患,2026-05-12,日常巡查,综合执法大队,货车超载下坡，制动失效风险。,设置治超卡点，联合执法。,综合执法大队,公路事业发展中心,刘强,2026-10-31,5,区级财政,2026-10-15,,,,,,,,,
WQ-001,WQ-001-YH01,待整改,技术状况差,重大隐患,2026-08-15,专项排查,质监办,4类危桥，主梁横向裂缝，承载能力下降。,限载20吨并设限高架，委托加固设计。,工程科,质监办、公路事业发展中心、交投公司,王建国,2027-09-30,180,车购税资金,,,,,,市级,白市交安办〔2026〕15号,,,
"""


def drive(waypoints, tight_km, rng):
    """Steer a vehicle through the waypoints (metres, EPSG:4551) on a wandering heading (turn radius
    at least R_MIN), making a tight bend (radius 30–80 m) at each distance of ``tight_km``.
    Returns the vertices and the bends as (start m, end m, radius m)."""
    pos, s, bends, todo = np.array(waypoints[0], float), 0.0, [], sorted(k * 1000 for k in tight_km)
    pts, heading = [pos], math.atan2(waypoints[1][1] - pos[1], waypoints[1][0] - pos[0])
    waves = [(rng.uniform(0.5, 0.7), rng.uniform(3000, 6000), rng.uniform(0, 6.3)),
             (rng.uniform(0.2, 0.3), rng.uniform(900, 1600), rng.uniform(0, 6.3))]
    wander, limit = 0.0, 2 * math.asin(STEP / (2 * R_MIN))  # wander: Ornstein-Uhlenbeck, 400 m

    def advance(turn, chord):
        nonlocal pos, heading, s
        pos = pos + chord * np.array([math.cos(heading + turn / 2), math.sin(heading + turn / 2)])
        heading, s = heading + turn, s + chord
        pts.append(pos)

    def arc(sign, radius, angle):  # vertices exactly on a circle
        n = max(3, math.ceil(radius * angle / CURVE_STEP))
        for _ in range(n):
            advance(sign * angle / n, 2 * radius * math.sin(angle / n / 2))

    for target in waypoints[1:]:
        while (dist := math.dist(pos, target)) > 250:
            assert len(pts) < 20000, "route does not converge"
            bearing = math.atan2(target[1] - pos[1], target[0] - pos[0])
            if todo and s >= todo[0]:
                todo.pop(0)
                start, r1, r2 = s, rng.uniform(30, 70), rng.uniform(40, 80)
                if rng.random() < 0.5:  # a switchback pair
                    sign, angle = rng.choice([-1, 1]), math.radians(rng.uniform(120, 160))
                    arc(sign, r1, angle)
                    advance(0, 30)
                    advance(0, 30)
                    arc(-sign, r2, angle)
                else:  # one hairpin-like bend toward the target
                    sign = 1 if math.remainder(bearing - heading, math.tau) > 0 else -1
                    arc(sign, r1, math.radians(rng.uniform(80, 120)))
                bends.append((start, s, r1))
                continue
            wander += -wander * STEP / 400 + 0.5 * math.sqrt(2 * STEP / 400) * rng.gauss(0, 1)
            offset = np.clip(wander + sum(a * math.sin(math.tau * s / p + ph) for a, p, ph in waves), -1.3, 1.3)
            desired = bearing + min(1.0, max(0.0, (dist - 300) / 1500)) * offset  # straighten near a waypoint
            advance(float(np.clip(0.35 * math.remainder(desired - heading, math.tau), -limit, limit)), STEP)
    return np.array(pts), bends


def radius_profile(metric_line, k=2):
    """Radius (m) of the circle through vertices i-k, i, i+k, for each inner vertex i."""
    xy = shapely.get_coordinates(metric_line)
    a, b, c = xy[:-2 * k], xy[k:-k], xy[2 * k:]
    cross = np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])
    with np.errstate(divide="ignore"):
        return np.prod([np.linalg.norm(p - q, axis=1) for p, q in ((a, b), (b, c), (c, a))], axis=0) / (2 * cross)


def make_routes(rng):
    """The route centrelines (EPSG:4490, 6 decimals), their bends and radii: each drawn again (up to 20 times)
    until it does not cross itself and keeps EDGE_M inside the district."""
    district, routes = geo.to_metric([geo.district_boundary()])[0], []
    for code, name, start_m, waypoints, tight in ROUTES:
        for _ in range(20):
            pts, bends = drive([np.array(SEATS.get(w, w)) * 1000 for w in waypoints], tight, rng)
            line = geo.round_coords(geo.to_storage([LineString(pts)]), 6)[0]
            metric = geo.to_metric([line])[0]
            if metric.is_simple and district.exterior.distance(metric) >= EDGE_M and district.contains(metric):
                break
        else:
            raise AssertionError(f"{code}: no route inside the district that does not cross itself")
        assert geo.in_district([line])[0]
        along = shapely.line_locate_point(metric, shapely.points(shapely.get_coordinates(metric)[2:-2]))
        routes.append({"code": code, "name": f"{code} {name}（示例数据）", "start_m": start_m, "line": line,
                       "metric": metric, "bends": bends, "along": along, "radii": radius_profile(metric), "taken": []})
    return routes


def claim(route, a, b, gap=150.0):
    """Take the interval a–b (m along) if it keeps ``gap`` from the others and 50 m from the ends."""
    if a < 50 or b > route["metric"].length - 50 or any(b + gap > x and a - gap < y for x, y in route["taken"]):
        return False
    route["taken"].append((a, b))
    return True


def place(routes, length, rng, radii=None):
    """A free (route, a, b) of ``length`` m, centred anywhere or where the route's radius is within ``radii``."""
    for _ in range(2000):
        route = rng.choices(routes, weights=[r["metric"].length for r in routes])[0]
        mids = route["along"][(route["radii"] > radii[0]) & (route["radii"] < radii[1])] if radii else []
        mid = rng.choice(list(mids)) if len(mids) else rng.uniform(0, route["metric"].length)
        if claim(route, mid - length / 2, mid + length / 2):
            return route, mid - length / 2, mid + length / 2
    raise AssertionError(f"no room for a {length:.0f} m patch")


def slots(routes, rng):
    """Where every patch lies, as (category, route, a, b) in metres along: curves at the tight bends."""
    out = []
    for route, (a, b, _) in rng.sample([(r, b) for r in routes for b in r["bends"]], COUNTS["curve"]):
        a, b = a - rng.uniform(60, 150), b + rng.uniform(60, 150)
        assert claim(route, a, b, gap=0), "curve patches overlap"
        out.append(("curve", route, a, b))
    for cat in ("downhill", "fog", "waterside"):  # longest first
        out += [(cat,) + place(routes, rng.uniform(*LENGTHS[cat]), rng) for _ in range(COUNTS[cat])]
    for i in range(COUNTS["bridge"]):  # every other bridge on a curve, the others straight; three points
        length = rng.randint(30, 400) if i >= 3 else 0
        route, a, b = place(routes, max(length, 40), rng, (150, 500) if i % 2 else (1500, np.inf))
        out.append(("bridge", route, a, b) if length else ("bridge", route, (a + b) / 2, (a + b) / 2))
    return out


def values(schema, key):
    return next(f.values for f in schema.common_fields if f.key == key)


BUREAU_UNITS = [u for u in values(load_schema(), "resp_unit") if not u.endswith(("人民政府", "办事处"))]


def person(rng):
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def phone(rng):
    if rng.random() < 0.5:
        return f"0439-35{rng.randint(0, 99999):05d}"
    return f"{rng.choice(['139', '138', '135', '158', '186', '131'])}{rng.randint(0, 99999999):08d}"


def date_between(rng, first, last):
    return (first + dt.timedelta(days=rng.randint(0, (last - first).days))).isoformat()


def common(cat, route, start, end, township, village, rng, schema):
    """The common fields of one patch: location, grade, duty, the five lists, rectification."""
    grade = rng.choices(list(GRADE_WEIGHTS), weights=list(GRADE_WEIGHTS.values()))[0]
    L, C = rng.choice([(l, c) for l in range(1, 6) for c in range(1, 6) if schema.grade_from_matrix(l, c) == grade])
    mode = rng.random()  # < 0.2: grade left to the L×C matrix; < 0.3: grade alone; else both
    status = rng.choices(values(schema, "rect_status"), weights=[25, 30, 25, 20])[0]
    overdue = status in ("待整改", "整改中") and rng.random() < 0.4
    deadline = date_between(rng, dt.date(2026, 3, 1), dt.date(2026, 11, 20)) if overdue or status in ("已整改", "已销号") \
        else date_between(rng, dt.date(2026, 12, 1), dt.date(2027, 10, 31))
    unit, who = rng.choice(BUREAU_UNITS), person(rng)
    what, plan, *lists = TEXT[cat]
    measures, monitoring, emergency, hazard = (rng.choice(t.split("|")) + "。" for t in lists)
    stakes = f"{geo.format_stake(start)}–{geo.format_stake(end)}"
    return {
        "code": "", "name": "", "route_code": route["code"], "start_stake": geo.format_stake(start),
        "end_stake": geo.format_stake(end), "township": township, "risk_grade": None if mode < 0.2 else grade,
        "likelihood": None if 0.2 <= mode < 0.3 else L, "consequence": None if 0.2 <= mode < 0.3 else C,
        "grade_method": "直接判定" if 0.2 <= mode < 0.3 else "矩阵计算",
        "grade_basis": "专家现场研判（示例数据）" if 0.2 <= mode < 0.3 else None,
        "resp_unit": unit, "resp_person": who, "resp_phone": phone(rng),
        "list_basic": f"{route['code']} {stakes}，长{end - start}米，位于{township}{village}附近，{what}。",
        "list_duty": f"{unit}牵头，{who}负责日常巡查，综合执法大队配合路政管理。", "list_measures": measures,
        "list_monitoring": monitoring, "list_emergency": emergency, "hazard": hazard, "rect_status": status,
        "rect_deadline": deadline, "funding_wan": round(rng.uniform(*FUNDING[cat]), 1), "plan": plan,
        "last_inspection": date_between(rng, dt.date(2026, 1, 5), TODAY - dt.timedelta(days=1))}


def own_fields(cat, props, length, r_min, village, rng, index):
    """The category's own fields; sets the patch name (and the grade of a 危桥)."""
    stakes = f"{props['route_code']} {props['start_stake']}–{props['end_stake']}"
    if cat == "fog":
        props["name"] = f"{stakes} 团雾路段"
        facilities = rng.sample(["诱导灯", "情报板", "能见度检测仪", "雾灯", "限速标志", "视频监控"], rng.randint(1, 4))
        return {"fog_monitor_start": None, "fog_events_manual": None, "fog_manual_year": None, "fog_manual_basis": None,
                "fog_peak_months": rng.choice(["8、9月", "7、8、9月", "8、9、10月", "9月"]),
                "fog_peak_hours": rng.choice(["21:00–09:00", "22:00–08:00", "00:00–07:00", "03:00–08:00"]),
                "min_visibility_m": rng.randint(30, 200), "facilities": "、".join(facilities)}
    if cat == "bridge":
        total = length or rng.randint(16, 28)
        n = max(1, round(total / 25))
        span = max(v for v in [8, 10, 13, 16, 20, 25, 30, 35, 40] if v <= max(8, (total - 4) / n))
        tech = {4: 4, 9: 5, 12: 4}.get(index, rng.choice([1, 2, 2, 3, 3]))
        props["name"] = f"{village}{'大桥' if total >= 100 else '中桥' if total >= 30 else '小桥'}"
        if tech >= 4:
            props.update(risk_grade="重大", likelihood=4, consequence=5)
        return {"bridge_code": "", "bridge_length_m": float(total), "spans": f"{n}×{span}m",
                "superstructure": rng.choice(["现浇连续箱梁"] * 4 + ["预制箱梁", "钢箱梁", "钢混组合梁"]),
                "curved": bool(r_min < 700), "curve_radius_m": round(r_min, -1) if r_min < 700 else None,
                "tech_class": tech, "year_built": rng.randint(1992, 2002) if tech >= 4 else rng.randint(1998, 2018),
                "load_limit_t": [55.0, 49.0, 40.0, 30.0, 20.0][tech - 1],
                "crosses": rng.choice(["河流"] * 5 + ["沟谷", "公路"] + ["铁路"] * (props["township"] == "孙家堡子街道")),
                "anti_overturn": rng.choice(["满足", "不满足", "未验算"]),
                "retrofit_measure": rng.choice(["增设盖梁改为双柱墩", "增设钢支撑及抗倾覆支座", "更换支座并增设限位挡块"]),
                "retrofit_status": rng.choice(["未启动", "设计中", "施工中", "已完成"]),
                "health_monitoring": rng.random() < 0.4}
    if cat == "curve":
        props["name"] = rng.choice([f"{village}急弯陡坡段", f"{stakes} 急弯陡坡段"])
        return {"min_radius_m": float(round(r_min)), "max_grade_pct": round(rng.uniform(5, 12), 1),
                "guardrail": rng.choice(["波形梁护栏", "混凝土护栏", "无"])}
    if cat == "waterside":
        side, guard = rng.choice(["临水", "临崖", "临水临崖"]), rng.choice(["波形梁护栏", "混凝土护栏", "缆索护栏", "无"])
        props["name"] = f"{village}{side}路段"
        drop = {"临水": (2, 6), "临崖": (8, 45)}.get(side, (6, 25))  # water depth or drop
        guard_len = 0.0 if guard == "无" else float(round(length * rng.uniform(0.5, 1)))
        return {"side_type": side, "drop_m": round(rng.uniform(*drop), 1), "guardrail_type": guard,
                "guardrail_length_m": guard_len}
    props["name"] = rng.choice([f"{village}长大下坡", f"{stakes} 长大下坡路段"])
    return {"avg_grade_pct": round(rng.uniform(3, 7), 1), "slope_length_m": float(length),
            "runaway_ramp": rng.random() < 0.4}


def build_patches(routes, rng, schema):
    """Every patch as {properties, geom}, in schema category order, numbered along the routes."""
    names = dict(pd.read_csv(DATA / "jiangyuan_divisions_2023.csv", dtype=str)[["code", "name"]].values)
    stem = {n: n[:-2] if n.endswith("社区") else n[:-1] if n.endswith("村") and not n.endswith("新村") else n
            for n in names.values()}  # 汤河村 -> 汤河, 八宝社区 -> 八宝, 立新村 stays
    villages = {t: [stem[n] for c, n in names.items() if len(c) == 12 and names[c[:9]] == t] for t in SEATS}
    full = {(names[c[:9]], stem[n]): n for c, n in names.items() if len(c) == 12}
    feats, index = [], dict.fromkeys(COUNTS, 0)
    for cat, route, a, b in slots(routes, rng):
        start, end = route["start_m"] + round(a), route["start_m"] + round(b)
        geom = geo.round_coords([geo.segment_from_stakes(route["line"], route["start_m"], start, end)], 7)[0]
        metric = geo.to_metric([geom])[0]
        township = min(SEATS, key=lambda t: metric.distance(Point(np.array(SEATS[t]) * 1000)))
        village = rng.choice(villages[township])
        r_min = float(np.min(route["radii"][(route["along"] >= a) & (route["along"] <= b)], initial=np.inf))
        props = common(cat, route, start, end, township, village, rng, schema)
        props.update(own_fields(cat, props, end - start, r_min, village, rng, index[cat]))
        props["village"] = full[(township, village)]
        index[cat] += 1
        feats.append({"properties": {"category": cat, **props}, "geom": geom, "order": (routes.index(route), a)})
    feats.sort(key=lambda f: (schema.category_keys.index(f["properties"]["category"]), f["order"]))
    seen = {}
    for cat in schema.categories:
        for n, p in enumerate((f["properties"] for f in feats if f["properties"]["category"] == cat.key), 1):
            p["code"] = f"{cat.code_prefix}-{n:03d}"
            if cat.key == "bridge":
                p["bridge_code"] = f"{p['route_code']}220605L{n * 10 + 20:04d}"
            k = seen[p["name"]] = seen.get(p["name"], 0) + 1
            if k > 1:  # a second 汤河大桥 becomes 汤河二号大桥; other patches get their stake
                p["name"] = p["name"][:-2] + "二三四五"[k - 2] + "号" + p["name"][-2:] if cat.key == "bridge" \
                    else f"{p['route_code']} {p['start_stake']} {p['name']}"
    return feats


def spoil_some(feats, rng):
    """Leave one of the five-in-place items out of eight patches, and one point bridge's end stake."""
    items = ["resp_person", "list_measures", "funding_wan", "rect_deadline", "plan"]
    for f, key in zip(rng.sample(feats, 8), items * 2):
        f["properties"][key] = 0.0 if key == "funding_wan" else None
    next(f for f in feats if f["geom"].geom_type == "Point")["properties"]["end_stake"] = None


def fog_event(code, date, rng):
    """One fog event: starts 21:00–09:00, mostly under 6 hours, visibility 30–200 m."""
    hour = rng.choice([21, 22, 23, *range(9)])
    long = (hour >= 21 or hour <= 2) and rng.random() < 0.2  # only a fog formed at night lasts past 6 hours
    return {"code": code, "date": date.isoformat(), "start_time": f"{hour:02d}:{rng.randrange(0, 60, 5):02d}",
            "duration_h": round(rng.uniform(6, 9) if long else rng.uniform(0.5, min(5.8, (11 - hour) % 24)), 1),
            "min_visibility_m": rng.randint(30, 200),
            "reporter": f"{rng.choice(['公路事业发展中心', '综合执法大队'])} {person(rng)}"}


def fog_events(feats, rng):
    """The event log: about half the fog segments ≥ 3 a year, the others fewer, one with exactly 2 (both
    in 2026), two with none (a manual yearly count instead). Sets min visibility from the events."""
    fog = [f["properties"] for f in feats if f["properties"]["category"] == "fog"]
    roles = ["two2026", "manual", "manual"] + ["high"] * 6 + ["low"] * 6
    rng.shuffle(roles)
    rows, manual = [], iter([(4, 2022, "乡镇上报（示例数据）"), (9, 2025, "养护站值班记录（示例数据）")])
    for p, role in zip(fog, roles):
        if role == "manual":  # one for a year in the window (counted), one before it (not counted)
            p["fog_events_manual"], p["fog_manual_year"], p["fog_manual_basis"] = next(manual)
            continue
        if role == "two2026":  # monitored only since this spring: too short to judge
            p["fog_monitor_start"] = "2026-04-01"
        per_year = {y: rng.randint(3, 6) if role == "high" else rng.randint(0, 2) for y in range(2023, 2027)}
        if role == "low" and sum(per_year.values()) < 3:
            per_year |= {2023: 1, 2025: 2}
        per_year = {2026: 2} if role == "two2026" else per_year
        for year, n in per_year.items():
            dates = set()
            while len(dates) < n:
                month = rng.choices([6, 7, 8, 9, 10, 11], weights=[3, 8, 38, 38, 10, 3])[0]
                dates.add(dt.date(year, month, rng.randint(1, 27)))
            rows += [fog_event(p["code"], d, rng) for d in sorted(dates)]
        p["min_visibility_m"] = min(r["min_visibility_m"] for r in rows if r["code"] == p["code"])
    return sorted(rows, key=lambda r: (r["code"], r["date"]))


def validate(schema, feats):
    """Assert every category's properties clean, graded, with storable geometry; return derived frames."""
    assert len({f["properties"]["code"] for f in feats}) == len(feats), "codes not unique"
    derived = []
    for cat in schema.categories:
        mine = [f for f in feats if f["properties"]["category"] == cat.key]
        raw = pd.DataFrame([{k: v for k, v in f["properties"].items() if k != "category"} for f in mine])
        frame, problems = clean_frame(cat, raw, schema)
        assert not problems, [str(p) for p in problems]
        geoms = np.array([f["geom"] for f in mine], dtype=object)
        derived.append(derive(cat, frame, geoms, schema).assign(category=cat.key))
        assert not grade_problems(cat, derived[-1], range(1, len(mine) + 1)), cat.key
        assert not geo.geometry_problems(geoms, cat.geometry), geo.geometry_problems(geoms, cat.geometry)
    return pd.concat(derived, ignore_index=True)


def write_collection(path, features, **members):
    """A FeatureCollection in UTF-8, one feature per line (readable diffs)."""
    head = json.dumps({"type": "FeatureCollection", **members}, ensure_ascii=False)[:-1]
    body = ",\n".join(json.dumps(f, ensure_ascii=False) for f in features)
    path.write_text(f'{head}, "features": [\n{body}\n]}}\n', encoding="utf-8")


def write_all(routes, feats, events):
    def feature(properties, geom):
        return {"type": "Feature", "properties": properties, "geometry": json.loads(shapely.to_geojson(geom))}

    write_collection(DATA / "routes.geojson", [feature(
        {"route_code": r["code"], "name": r["name"], "start_stake_m": r["start_m"],
         "tech_grade": ROUTE_INFO[r["code"]][0], "maint_unit": ROUTE_INFO[r["code"]][1], "sample": True}, r["line"])
        for r in routes],
        name="江源区示例路线中心线（示例数据）", description="示例数据：路线编码为真实编码，中心线几何和桩号均为虚构。")
    write_collection(DATA / "segments.geojson", [feature(f["properties"], f["geom"]) for f in feats],
        name="江源区公路安全风险图斑（示例数据）",
        description="示例数据：几何、桩号和各项数值均为虚构；路线编码和乡镇名称为真实名称。不得用于实际决策。")
    with open(DATA / "fog_events.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, ["code", "date", "start_time", "duration_h", "min_visibility_m", "reporter"])
        writer.writeheader()
        writer.writerows(events)


def summary(routes, derived, events):
    for r in routes:
        print(f"{r['code']}: {r['metric'].length / 1000:.1f} km, {len(r['radii']) + 4} vertices")
    overdue = derived["rect_status"].isin(["待整改", "整改中"]) & (derived["rect_deadline"] < pd.Timestamp(TODAY))
    for col in ("category", "risk_grade", "rect_status", "five_in_place", "village"):
        print(col, derived[col].value_counts().to_dict())
    per = pd.DataFrame(events).assign(year=lambda d: d["date"].str[:4]).pivot_table(
        index="code", columns="year", values="date", aggfunc="count", fill_value=0)
    print(f"overdue {int(overdue.sum())}", per, f"exactly 2 in 2026 only: "
          f"{[c for c, r in per.iterrows() if r.sum() == 2 and r.get('2026') == 2]}", sep="\n")


def vocabulary(feats, routes, rng):
    """The ledger columns added later (路线名称, 技术等级, 管养单位, 牵头/配合单位, 备注) and the bridge
    block's newer fields, from their own generator."""
    by_code = {r["code"]: r for r in routes}
    for f in feats:
        p, cat = f["properties"], f["properties"]["category"]
        route = by_code[p["route_code"]]
        p["route_name"] = route["name"].split(" ", 1)[1].replace("（示例数据）", "")
        p["tech_grade"], p["maint_unit"] = ROUTE_INFO[p["route_code"]]
        if "resp_unit" in p:
            p["lead_unit"] = p["resp_unit"]
            p["coop_units"] = "、".join(rng.sample([u for u in BUREAU_UNITS if u != p["resp_unit"]], 2))
        p["remarks"] = "示例数据"
        if cat in ("bridge", "danger_bridge", "overpass"):
            bridge_block(p, rng)


def bridge_block(p, rng):
    """中心桩号, 设计荷载, 支座布置, 技术状况评定 (and 独柱墩 墩号, 数量) of a sample bridge."""
    start = geo.parse_stake(p["start_stake"])
    end = geo.parse_stake(p["end_stake"]) if p.get("end_stake") else start
    p["center_stake"] = geo.format_stake((start + end) / 2)
    p["design_load"] = rng.choice(["公路-I级", "公路-II级", "汽车-20级", "汽车-超20级"])
    p["support_layout"] = rng.choice(["单支座", "单支座", "双支座"]) if p["category"] == "bridge" else rng.choice(
        ["双支座", "多支座"])
    p["assess_date"] = date_between(rng, dt.date(2024, 3, 1), dt.date(2026, 10, 31))
    p["assess_unit"] = rng.choice(["吉林省公路工程质量检测中心（示例）", "白山市公路桥梁检测站（示例）"])
    if p["category"] == "bridge":
        n = rng.randint(1, 4)
        first = rng.randint(1, 4)
        p["pier_numbers"] = "、".join(f"{first + i}#" for i in range(n))
        p["pier_count"] = n


def more_patches(routes, rng, schema, villages):
    """Sample patches of the layers added later: 危桥, 上跨桥梁, 隧道, 地质灾害 and the facility points."""
    feats = []
    for key, count in MORE_COUNTS.items():
        cat = schema.category(key)
        for n in range(1, count + 1):
            lo, hi = MORE_LENGTHS.get(key, (0, 0))
            length = rng.randint(lo, hi) if hi else 0
            route, a, b = place(routes, max(length, 40), rng)
            a, b = (a, b) if length else ((a + b) / 2, (a + b) / 2)
            start, end = route["start_m"] + round(a), route["start_m"] + round(b)
            geom = geo.round_coords([geo.segment_from_stakes(route["line"], route["start_m"], start, end)], 7)[0]
            township = min(SEATS, key=lambda t: geo.to_metric([geom])[0].distance(Point(np.array(SEATS[t]) * 1000)))
            village = rng.choice(villages[township])
            props = {"category": key, **more_common(cat, route, start, end, township, village, rng, schema)}
            props.update(MORE_FIELDS[key](props, rng, n))
            props["code"] = f"{cat.code_prefix}-{n:03d}"
            feats.append({"properties": props, "geom": geom, "order": (routes.index(route), a)})
    return feats


def more_common(cat, route, start, end, township, village, rng, schema):
    """Common fields of a later layer's patch; a facility keeps only the fields it has."""
    what = MORE_TEXT[cat.key]
    base = {"code": "", "name": "", "route_code": route["code"], "start_stake": geo.format_stake(start),
            "end_stake": geo.format_stake(end), "township": township, "village": village,
            "resp_unit": rng.choice(BUREAU_UNITS), "resp_person": person(rng), "resp_phone": phone(rng),
            "last_inspection": date_between(rng, dt.date(2026, 1, 5), TODAY - dt.timedelta(days=1))}
    if not cat.is_facility:
        grade = rng.choices(list(GRADE_WEIGHTS), weights=list(GRADE_WEIGHTS.values()))[0]
        L, C = rng.choice([(l, c) for l in range(1, 6) for c in range(1, 6) if schema.grade_from_matrix(l, c) == grade])
        status = rng.choice(["待整改", "整改中", "已整改"])
        base |= {"likelihood": L, "consequence": C, "grade_method": "矩阵计算", "rect_status": status,
                 "list_basic": f"{route['code']} {base['start_stake']}，位于{township}{village}，{what}。",
                 "list_duty": f"{base['resp_unit']}牵头，{base['resp_person']}负责日常巡查。",
                 "list_measures": "设置警示标志，定期巡查（示例数据）。", "hazard": what,
                 "rect_deadline": date_between(rng, dt.date(2026, 12, 1), dt.date(2027, 10, 31)),
                 "funding_wan": round(rng.uniform(5, 300), 1), "plan": "《江源区公路突发事件应急预案》"}
    return base


MORE_TEXT = {"danger_bridge": "技术状况评定为4、5类的危桥", "overpass": "上跨铁路或干线公路，落物和撞击后果严重",
             "tunnel": "隧道洞口结冰、照明不足", "geohazard": "雨季边坡失稳、落石、泥石流或水毁",
             "camera": "视频监控点", "fog_guide": "雾区诱导设施", "emergency_store": "应急物资储备点"}


def _danger_bridge(p, rng, n):
    p["name"] = f"{p['village'][:2]}危桥"
    tech = rng.choice([4, 5])
    return {"bridge_code": f"{p['route_code']}220605L{900 + n:04d}", "bridge_length_m": float(rng.randint(16, 180)),
            "spans": f"{rng.randint(1, 6)}×13m", "superstructure": rng.choice(["空心板", "T梁", "拱桥"]), "curved": False,
            "tech_class": tech, "year_built": rng.randint(1975, 1995), "load_limit_t": [20.0, 10.0][tech - 4],
            "crosses": rng.choice(["河流", "沟谷"]), "retrofit_status": rng.choice(["未启动", "设计中", "施工中"]),
            "danger_measure": "限载、限速" if tech == 4 else "封闭交通、拆除重建",
            "detour": "" if tech == 4 else f"经 {p['route_code']} 相邻便道绕行（示例）"}


def _overpass(p, rng, n):
    crossed = rng.choice(["铁路", "高速公路", "国省干线"])
    p["name"] = f"{p['village'][:2]}上跨{crossed}桥"
    return {"bridge_code": f"{p['route_code']}220605L{950 + n:04d}", "bridge_length_m": float(rng.randint(40, 160)),
            "spans": f"{rng.randint(2, 5)}×25m", "superstructure": "预制箱梁", "curved": False,
            "tech_class": rng.choice([1, 2, 3]), "year_built": rng.randint(2000, 2018),
            "crosses": "铁路" if crossed == "铁路" else "公路", "crossed_type": crossed,
            "crossed_name": {"铁路": "鸭大铁路（示例）", "高速公路": "G11 鹤大高速（示例）", "国省干线": "G201（示例）"}[crossed],
            "clearance_m": round(rng.uniform(5.5, 8.5), 1), "anti_fall": "防抛网、警示标志", "safety_agreement": n != 2}


def _tunnel(p, rng, n):
    length = geo.parse_stake(p["end_stake"]) - geo.parse_stake(p["start_stake"])
    p["name"] = f"{p['village'][:2]}隧道"
    return {"tunnel_code": f"{p['route_code']}220605U{n:04d}", "tech_class": rng.choice([1, 2, 3]),
            "tunnel_class": "长隧道" if length > 1000 else "中隧道" if length > 500 else "短隧道",
            "lighting": length > 500, "ventilation": "机械通风" if length > 1000 else "自然通风",
            "assess_date": date_between(rng, dt.date(2024, 3, 1), dt.date(2026, 10, 31)),
            "assess_unit": "白山市公路桥梁检测站（示例）"}


def _geohazard(p, rng, n):
    kind = ["边坡", "落石", "泥石流", "水毁"][(n - 1) % 4]
    p["name"] = f"{p['village'][:2]}{kind}路段"
    return {"geohazard_type": kind, "slope_height_m": round(rng.uniform(8, 45), 1) if kind in ("边坡", "落石") else None,
            "geo_monitoring": rng.choice(["人工巡查", "人工巡查、雨量计", "裂缝计、视频监控"]),
            "protection": rng.choice(["主动防护网", "挡土墙", "排水沟", "拦石墙"]) + "（示例数据）"}


def _camera(p, rng, n):
    p["name"] = f"{p['route_code']} {p['start_stake']} 视频监控点"
    return {"device_code": f"SP{n:03d}", "run_status": rng.choice(["正常", "正常", "故障"]),
            "install_date": date_between(rng, dt.date(2019, 1, 1), dt.date(2025, 12, 31)),
            "camera_type": rng.choice(["枪机", "球机", "全景"]), "networked": rng.random() < 0.8}


def _fog_guide(p, rng, n):
    p["name"] = f"{p['route_code']} {p['start_stake']} 雾区诱导设施"
    return {"device_code": f"WY{n:03d}", "run_status": "正常", "guide_type": rng.choice(
        ["雾区诱导灯", "雾区预警系统", "可变情报板", "能见度检测仪"]), "unit_count": rng.randint(1, 40),
        "install_date": date_between(rng, dt.date(2019, 1, 1), dt.date(2025, 12, 31))}


def _emergency_store(p, rng, n):
    p["name"] = f"{p['township']}应急物资储备点"
    return {"materials": f"融雪剂 {rng.randint(20, 80)} t、防滑料 {rng.randint(100, 400)} 立方米、锥桶 200 个（示例数据）",
            "keeper_phone": phone(rng), "stock_checked": date_between(rng, dt.date(2026, 6, 1), TODAY)}


MORE_FIELDS = {"danger_bridge": _danger_bridge, "overpass": _overpass, "tunnel": _tunnel, "geohazard": _geohazard,
               "camera": _camera, "fog_guide": _fog_guide, "emergency_store": _emergency_store}


def sample_hazards():
    return list(csv.DictReader(HAZARDS_CSV.splitlines()))


def settle_statuses(feats, hazards, schema):
    """A patch's 整改状态 agreeing with its hazards and the declared rules: a patch that may not be 已整改 or
    已销号 (an open hazard, a 危桥 whose 改造 has not started) is 整改中 when one of its hazards is under way,
    else 待整改."""
    spec = schema.hazard
    for f in feats:
        p = f["properties"]
        mine = [h for h in hazards if h["code"] == p["code"]]
        if patch_contradictions(spec, p, mine):
            started = any(h["status"] != spec.first_status for h in mine)
            p["rect_status"] = "整改中" if started else "待整改"
        assert not patch_contradictions(spec, p, mine), patch_contradictions(spec, p, mine)


def check_hazards(hazards, feats, schema):
    """Every sample hazard clean and in a status the workflow's rules allow on its patch."""
    spec, patches = schema.hazard, {f["properties"]["code"]: f["properties"] for f in feats}
    for i, h in enumerate(hazards, start=1):
        patch = patches[h["code"]]
        values = {k: v for k, v in h.items() if k not in ("code", "status") and v != ""}
        clean, problems = clean_hazard(spec, patch["category"], values, row=i, file="hazards.csv")
        assert not problems, [str(p) for p in problems]
        why = hazard_contradictions(spec, clean | {"status": h["status"]}, patch)
        assert not why, (h["hazard_code"], why)


def write_hazards(hazards, schema):
    columns = ["code", "hazard_code", "status", *(k for k in schema.hazard.event.keys if k != "hazard_code")]
    with open(DATA / "hazards.csv", "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(hazards)


def division_villages():
    """township -> its villages (full names), from the divisions file."""
    names = dict(pd.read_csv(DATA / "jiangyuan_divisions_2023.csv", dtype=str)[["code", "name"]].values)
    return {t: [n for c, n in names.items() if len(c) == 12 and names[c[:9]] == t] for t in SEATS}


def main():
    rng, schema = random.Random(SEED), load_schema()
    routes = make_routes(rng)
    feats = build_patches(routes, rng, schema)
    spoil_some(feats, rng)
    events = fog_events(feats, rng)
    more = random.Random(SEED + 1)
    feats += more_patches(routes, more, schema, division_villages())
    vocabulary(feats, routes, more)
    feats.sort(key=lambda f: schema.category_keys.index(f["properties"]["category"]))
    hazards = sample_hazards()
    settle_statuses(feats, hazards, schema)
    check_hazards(hazards, feats, schema)
    derived = validate(schema, feats)
    write_all(routes, feats, events)
    write_hazards(hazards, schema)
    summary(routes, derived, events)


if __name__ == "__main__":
    main()
