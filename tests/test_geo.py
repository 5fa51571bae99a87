import numpy as np
import pytest
import shapely

from safetymap import geo


@pytest.mark.parametrize("text, metres", [("K12+350", 12350.0), ("K0+000", 0.0), ("K7+814.19", 7814.19)])
def test_valid_stakes_parse_and_format_back(text, metres):
    assert geo.parse_stake(text) == pytest.approx(metres)
    assert geo.format_stake(metres) == text


@pytest.mark.parametrize("text", ["K12+1500", "12+350", "K-1+000", "K12+35a", "", "K12+"])
def test_invalid_stakes_are_refused_with_the_expected_format(text):
    with pytest.raises(ValueError, match="冠号\\+公里\\+米"):
        geo.parse_stake(text)


def test_patch_polygon_is_a_flat_capped_buffer_in_metres():
    line = shapely.LineString([(126.70, 42.00), (126.71, 42.00)])
    polygon = geo.patch_polygons([line], 30)[0]
    metric_area = geo.to_metric([polygon])[0].area
    length = geo.lengths_m([line])[0]
    assert length == pytest.approx(828, abs=5)  # 0.01° of longitude at 42°N
    assert metric_area == pytest.approx(length * 60, rel=0.01)  # flat caps: no half-discs at the ends
    point_poly = geo.patch_polygons([shapely.Point(126.7, 42.0)], 25)[0]
    assert geo.to_metric([point_poly])[0].area == pytest.approx(np.pi * 25**2, rel=0.03)


def test_linear_referencing_cuts_the_route_between_two_stakes():
    route = shapely.LineString([(126.70, 42.00), (126.72, 42.00), (126.72, 42.01)])
    segment = geo.segment_from_stakes(route, 1000.0, 1200.0, 2000.0)
    assert geo.lengths_m([segment])[0] == pytest.approx(800, abs=0.5)
    assert geo.stake_at(route, 1000.0, shapely.Point(segment.coords[0])) == pytest.approx(1200, abs=0.5)
    with pytest.raises(ValueError, match="止点桩号"):
        geo.segment_from_stakes(route, 1000.0, 2000.0, 1500.0)
    with pytest.raises(ValueError, match="超出路线范围"):
        geo.segment_from_stakes(route, 1000.0, 1200.0, 99000.0)


def test_district_check_and_coordinate_mistakes():
    inside = shapely.Point(126.76, 42.05)
    outside = shapely.Point(125.5, 43.5)
    assert geo.in_district([inside, outside]).tolist() == [True, False]
    messages = geo.coordinate_problems([shapely.Point(42.05, 126.76), shapely.Point(500000, 4650000), inside])
    assert "颠倒" in messages[0] and "投影" in messages[1] and messages[2] is None


def test_geometry_problems_name_each_cause():
    bowtie = shapely.Polygon([(126.7, 42.0), (126.71, 42.01), (126.71, 42.0), (126.7, 42.01)])
    cases = [None, shapely.LineString(), shapely.Point(126.7, 42.0), shapely.LineString([(126.7, 42.0, 5), (126.71, 42.0, 5)]),
             shapely.LineString([(125.0, 43.5), (125.1, 43.5)])]
    found = dict(geo.geometry_problems(cases, ("LineString",)))
    assert "缺少" in found[0] and "为空" in found[1] and "类型 Point" in found[2]
    assert "高程" in found[3] and "不在江源区" in found[4]
    assert "无效" in dict(geo.geometry_problems([bowtie], ("Polygon",)))[0]
