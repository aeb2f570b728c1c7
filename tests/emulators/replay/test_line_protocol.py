import re
from pathlib import Path

import pytest

from emulators.replay.errors import ReplayParseError
from emulators.replay.line_protocol import Point, iter_points, parse_line

VALID = [
    ("plain", "cpu value=1.5 10", Point("cpu", {}, {"value": 1.5}, 10)),
    ("no timestamp", "cpu value=2", Point("cpu", {}, {"value": 2.0}, None)),
    ("tags", "cpu,host=a,region=eu value=1i 5", Point("cpu", {"host": "a", "region": "eu"}, {"value": 1}, 5)),
    ("escaped tag value", r"gpu,name=NVIDIA\ A100\,x value=1 1", Point("gpu", {"name": "NVIDIA A100,x"}, {"value": 1.0}, 1)),
    ("escaped measurement", r"my\ gpu value=1 1", Point("my gpu", {}, {"value": 1.0}, 1)),
    ("escaped field key", r"m a\=b=1 1", Point("m", {}, {"a=b": 1.0}, 1)),
    ("unsigned", "m a=7u 1", Point("m", {}, {"a": 7}, 1)),
    ("negative integer", "m a=-7i 1", Point("m", {}, {"a": -7}, 1)),
    ("exponent", "m a=1.5e3 1", Point("m", {}, {"a": 1500.0}, 1)),
    ("booleans", "m a=t,b=FALSE,c=True 1", Point("m", {}, {"a": True, "b": False, "c": True}, 1)),
    ("string", 'm s="a \\"quoted\\" text, with = signs" 1', Point("m", {}, {"s": 'a "quoted" text, with = signs'}, 1)),
    ("negative timestamp", "m a=1 -5", Point("m", {}, {"a": 1.0}, -5)),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in VALID], ids=[case[0] for case in VALID])
def test_parse_line_valid(text: str, expected: Point) -> None:
    assert parse_line(text) == expected


INVALID = [
    ("no fields", "cpu 10", "field '10' has no '=' and value"),
    ("only measurement", "cpu", "missing field set"),
    ("tag without value", "cpu,host value=1", "tag 'host' has no '=' and value"),
    ("bad number", "cpu value=1.2.3 1", "field 'value' has invalid value '1.2.3'"),
    ("nan", "cpu value=nan 1", "field 'value' has invalid value 'nan'"),
    ("negative unsigned", "cpu value=-1u 1", "unsigned integer below zero"),
    ("open string", 'cpu s="abc 1', "string field has no closing quote"),
    ("bad timestamp", "cpu value=1 soon", "timestamp 'soon' is not an integer"),
    ("empty measurement", ",host=a value=1", "missing measurement name"),
]


@pytest.mark.parametrize(("text", "message"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_parse_line_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_line(text)


def test_iter_points_names_line(tmp_path: Path) -> None:
    path = tmp_path / "out.lp"
    path.write_text("# comment\n\ncpu value=1 1\ncpu value=oops 2\n")

    with path.open() as lines:
        points = iter_points(lines, str(path))
        first = next(points)

        assert first[0] == 3
        with pytest.raises(ReplayParseError, match=re.escape("out.lp:4: invalid line protocol: field 'value' has invalid value 'oops'")):
            next(points)
