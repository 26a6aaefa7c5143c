"""The fast construction of YAML documents gives exactly what PyYAML's generic path gives.

``parse_yaml`` builds plain documents straight from the composed nodes and falls back to the
generic (``construct_document``) path for anything unusual; both must agree on values, types,
line numbers and problems, whichever path a document takes.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.manifests import yamlfile
from reconciler.manifests.yamlfile import LineDict, LineList, ParsedFile, parse_yaml


def _shape(value: Any, active: frozenset[int] = frozenset()) -> Any:
    """Value, exact types and every recorded line, as one comparable structure."""
    if isinstance(value, (LineDict, LineList)):
        if id(value) in active:
            return ("cycle",)
        active = active | {id(value)}
    if isinstance(value, LineDict):
        return (
            "map", value.path, value.line, dict(value.lines), value.paths,
            [(_shape(k, active), _shape(v, active)) for k, v in value.items()],
        )  # fmt: skip
    if isinstance(value, LineList):
        items = [_shape(v, active) for v in value]
        return ("seq", value.path, value.line, list(value.lines), items)
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def _parsed(parsed: ParsedFile) -> Any:
    return (
        [(d.line, _shape(d.value)) for d in parsed.documents],
        [(str(p.location), p.message) for p in parsed.problems],
    )


def _generic_construct(loader: Any, node: Any) -> Any:
    return loader.construct_document(node)


def _generic(text: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(yamlfile, "_construct", _generic_construct)
        return _parsed(parse_yaml(text, "agents.d/x.yaml"))


CASES = [
    "name: a\nproperties:\n  channel: c\n  agent_rtc_uid: '1'\n  remote_rtc_uids: ['*', 2]\n",
    "a: 1\nb: 1.5\nc: true\nd: null\ne: ~\nf: 0x1F\ng: 1_000\nh: .inf\ni: -.nan\nj: 2024-01-01\n",
    "a: 1\na: 2\nb: {c: 1, c: 2, c: 3}\n",
    "{x: {c: 1, c: 2}, x: 3}\n",
    "- 1\n- [2, 3]\n- {a: b}\n-\n  - deep\n",
    "1: int key\ntrue: bool key\n~: null key\n1.5: float key\n",
    "base: &b {x: 1, y: 2}\nuse: *b\n",
    "base: &b {x: 1}\nmerged:\n  <<: *b\n  x: 2\n",
    "? [complex, key]\n: value\n",
    "a: !!str 123\nb: !!int '7'\nc: !!float '1'\nd: !!bool 'true'\ne: !!null ''\n",
    "a: !!binary aGVsbG8=\n",
    "a: !!set {x, y}\n",
    "a: !custom thing\n",
    "a: !!str [not, a, scalar]\n",
    "a: !!null {k: v}\n",
    "a: !!timestamp 2024-01-01 10:00:00\n",
    "a: !!int nope\n",
    "--- \n---\nname: two\n---\n# only a comment\n",
    "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
    "a: [1, 2\n",
    "ok: 1\n---\nbad: [\n",
    "? {a: 1}\n: unhashable\n",
    "r: &r [*r]\n",
]


@pytest.mark.parametrize("text", CASES)
def test_fast_and_generic_construction_agree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        generic = _generic(text, monkeypatch)
    except Exception as exc:  # the generic path's own exceptions must not change either
        with pytest.raises(type(exc)):
            parse_yaml(text, "agents.d/x.yaml")
        return
    assert _parsed(parse_yaml(text, "agents.d/x.yaml")) == generic


def test_the_fast_path_is_taken_for_plain_manifests(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> Any:
        raise AssertionError("the generic constructor ran")

    text = CASES[0] + "labels: {team: x}\nlist:\n  - a: 1\n    b: [true, null, 2.5]\n"
    monkeypatch.setattr(yamlfile._LineLoader, "construct_document", refuse)
    parsed = parse_yaml(text, "agents.d/x.yaml")
    assert not parsed.problems
    assert parsed.documents[0].value["list"][0]["b"] == [True, None, 2.5]


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(max_size=8), st.sampled_from(["1", "true", "null", "~", "0x10", "2024-01-01", "*"]),
)  # fmt: skip
_keys = st.one_of(st.text(max_size=6), st.integers(0, 5), st.booleans())
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=_values, flow=st.booleans(), duplicate=st.booleans())
def test_fast_and_generic_agree_on_generated_documents(
    value: Any, flow: bool, duplicate: bool
) -> None:
    text = yaml.safe_dump({"root": value, "n": 1}, default_flow_style=flow, allow_unicode=True)
    if duplicate:
        text += "n: 2\n"
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _parsed(parse_yaml(text, "agents.d/x.yaml")) == _generic(text, monkeypatch)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(
        st.one_of(
            st.text(max_size=10),
            st.sampled_from(["yes", "No", "~", "null", "0o17", "1e3", ".NaN", "2024-01-01", ""]),
        ),
        max_size=5,
    )
)
def test_memoized_tag_resolution_matches_pyyaml(texts: list[str]) -> None:
    loader = yamlfile._LineLoader("", "x.yaml")
    try:
        for text in texts * 2:  # the second round answers from the memo
            for implicit in ((True, False), (False, True)):
                expected = yaml.resolver.BaseResolver.resolve(
                    loader, yaml.ScalarNode, text, implicit
                )
                assert loader.resolve(yaml.ScalarNode, text, implicit) == expected
    finally:
        loader.dispose()
