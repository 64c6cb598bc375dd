"""``Shape.fits`` (the fast path ``validate`` takes first) agrees with ``validate`` on every value:
``fits`` is True exactly when ``validate`` raises nothing. Generated JSON against the shapes the
client checks answers with (a pod, a node, a list page) and small shapes of every kind."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from preflight import jsonshape
from preflight.clients import kubeshapes

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=4)
)
KEYS = st.sampled_from(
    ["metadata", "name", "spec", "status", "containers", "resources", "requests", "cpu", "items",
     "labels", "nodeName", "phase", "x"]
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)
SHAPES = [
    kubeshapes.POD,
    kubeshapes.NODE,
    kubeshapes.list_of(kubeshapes.OBJECT),
    jsonshape.Obj({"name": jsonshape.STR}, values=jsonshape.INT, required=("name",)),
    jsonshape.Arr(jsonshape.OneOf(jsonshape.STR, jsonshape.Obj({"cpu": jsonshape.SCALAR})),
                  max_items=3),
]  # fmt: skip


def agrees(shape: jsonshape.Shape, value: Any) -> None:
    try:
        shape.validate(value, "", "GET /x")
        valid = True
    except jsonshape.ShapeError:
        valid = False
    assert shape.fits(value) is valid, (shape, value)


@settings(max_examples=1000)
@given(JSON)
def test_fits_is_validate_without_the_message(value: Any) -> None:
    for shape in SHAPES:
        agrees(shape, value)


@settings(max_examples=300)
@given(st.dictionaries(KEYS, JSON, max_size=4), JSON)
def test_fits_agrees_inside_a_pod(spec: Any, status: Any) -> None:
    pod = {"metadata": {"name": "p"}, "spec": spec, "status": status}
    agrees(kubeshapes.POD, pod)
    agrees(kubeshapes.list_of(kubeshapes.POD), {"items": [pod, pod]})
