import math
import re

import pytest

from emulators.replay.prometheus_text import Sample, parse_sample

VALID = [
    ("no labels", "up 1", Sample("up", {}, 1, None)),
    ("labels", 'DCGM_FI_DEV_GPU_TEMP{gpu="0",Hostname="n1"} 61', Sample("DCGM_FI_DEV_GPU_TEMP", {"gpu": "0", "Hostname": "n1"}, 61, None)),
    ("float", 'x{a="b"} 642.118000', Sample("x", {"a": "b"}, 642.118, None)),
    ("timestamp", "x 1.5 1767225600000", Sample("x", {}, 1.5, 1767225600000)),
    ("trailing comma", 'x{a="1",} 2', Sample("x", {"a": "1"}, 2, None)),
    ("escapes", 'x{a="q\\"uote\\\\back\\nline"} 2', Sample("x", {"a": 'q"uote\\back\nline'}, 2, None)),
    ("comma in value", 'x{a="1,2 3"} 2', Sample("x", {"a": "1,2 3"}, 2, None)),
    ("big integer", "x 9223372036854775794", Sample("x", {}, 9223372036854775794, None)),
    ("exponent", "x 1.4e+14", Sample("x", {}, 1.4e14, None)),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in VALID], ids=[case[0] for case in VALID])
def test_parse_sample_valid(text: str, expected: Sample) -> None:
    assert parse_sample(text) == expected


def test_parse_sample_nan() -> None:
    assert math.isnan(parse_sample("x NaN").value)


def test_parse_sample_infinity() -> None:
    assert parse_sample("x -Inf").value == -math.inf


INVALID = [
    ("no value", 'x{a="1"}', "expected a value and an optional timestamp after x, found 0 items"),
    ("word value", "x high", "value 'high' is not a number"),
    ("bad timestamp", "x 1 soon", "timestamp 'soon' is not an integer of milliseconds"),
    ("open label", 'x{a="1} 2', "label value has no closing quote"),
    ("unquoted label", "x{a=1} 2", 'label a is not followed by ="value"'),
    ("bad escape", 'x{a="\\t"} 2', "invalid escape \\t in a label value"),
    ("missing comma", 'x{a="1" b="2"} 2', "expected ',' or '}' after label a"),
    ("no name", "{a=\"1\"} 2", "line does not start with a metric name"),
    ("extra items", "x 1 2 3", "found 3 items"),
]


@pytest.mark.parametrize(("text", "message"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_parse_sample_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_sample(text)
