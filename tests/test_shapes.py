"""Property-based: any string given as a shape is either a valid shape or a UsageError."""

from __future__ import annotations

from hypothesis import given, strategies as st

from costlab.api import parse_shape
from costlab.core.errors import UsageError


@given(st.text(max_size=30))
def test_parse_shape_never_crashes(text):
    try:
        shape = parse_shape(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert shape and all(isinstance(d, int) and d > 0 for d in shape)


@given(st.lists(st.integers(1, 4096), min_size=1, max_size=5))
def test_parse_shape_round_trip(dims):
    assert parse_shape(",".join(map(str, dims))) == tuple(dims)
    assert parse_shape("x".join(map(str, dims))) == tuple(dims)
