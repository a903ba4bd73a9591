"""Request bodies read with orjson give exactly what `json.loads` gives, or its error."""

import json

import pytest

from atom_site.jsonbody import json_loads

SAME_AS_THE_STANDARD_LIBRARY = [
    b'{"a": [1, 2.5, -0.0, true, null, "\\u00e9\\ud83d\\ude00"]}',
    b'{"a": 1, "a": 2}',
    b"[18446744073709551615, -9223372036854775808]",
    b"[123456789012345678901234567890, -9223372036854775809]",  # past 64 bits: still ints
    b'{"id": "s1234567890123456789"}',  # a long run of digits inside a string
    b"[NaN, Infinity, -Infinity, 1e400]",
    b'["\\ud800"]',  # a lone surrogate
    '{"a": "é"}'.encode("utf-16"),
    b'\xef\xbb\xbf{"bom": 1}',
    '{"text": "x"}',
]


@pytest.mark.parametrize("body", SAME_AS_THE_STANDARD_LIBRARY)
def test_it_reads_a_body_as_json_loads_does(body):
    expected = json.loads(body)
    read = json_loads(body)
    assert json.dumps(read) == json.dumps(expected)
    assert [type(v) for v in read] == [type(v) for v in expected]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", json.JSONDecodeError),
        (b"{", json.JSONDecodeError),
        (b'{"a": 1,}', json.JSONDecodeError),
        (b'"\x01"', json.JSONDecodeError),
        (b"\xff", UnicodeDecodeError),
    ],
)
def test_it_refuses_what_json_loads_refuses_with_its_error(body, error):
    with pytest.raises(error):
        json.loads(body)
    with pytest.raises(error):
        json_loads(body)
