"""Reading a state file shares equal values: one object for equal strings and for equal
mappings of scalars, across records (what keeps a large state's memory down).

That sharing is only safe because nothing changes a record's spec in place:
``tests/apply/test_shared_specs.py`` plans and applies on shared specs and checks them unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.state import LocalStateStore
from tests.state.conftest import make_doc


def _written(tmp_path: Path, specs: dict[str, dict[str, object]]) -> LocalStateStore:
    store = LocalStateStore(tmp_path / "state" / "agents.json")
    doc = make_doc(*specs)
    agents = {n: r.model_copy(update={"spec": specs[n]}) for n, r in doc.agents.items()}
    store.write(doc.model_copy(update={"agents": agents}))
    return LocalStateStore(store.path)  # a fresh store: reads the file, not its memory


def test_equal_mappings_of_scalars_in_two_records_are_one_object_once_loaded(
    tmp_path: Path,
) -> None:
    spec = {"llm": {"params": {"model": "gpt-4o-mini", "temperature": 0.4}, "url": "u"}}
    store = _written(tmp_path, {"a": json.loads(json.dumps(spec)), "b": spec})
    doc = store.load()
    a, b = (doc.agents[n].spec for n in ("a", "b"))
    assert a == b == spec
    assert a["llm"]["params"] is b["llm"]["params"]


def test_mappings_equal_in_python_but_not_in_json_stay_apart(tmp_path: Path) -> None:
    # 1 == 1.0 == True in Python; in the state file they are three different values.
    specs = {"a": {"v": {"x": 1}}, "b": {"v": {"x": 1.0}}, "c": {"v": {"x": True}}}
    store = _written(tmp_path, specs)
    loaded = {n: r.spec for n, r in store.load().agents.items()}
    assert loaded == specs
    assert [type(loaded[n]["v"]["x"]) for n in "abc"] == [int, float, bool]


def test_an_empty_mapping_is_never_shared(tmp_path: Path) -> None:
    store = _written(tmp_path, {"a": {"params": {}}, "b": {"params": {}}})
    doc = store.load()
    a, b = (doc.agents[n].spec for n in ("a", "b"))
    assert a["params"] == b["params"] == {}
    assert a["params"] is not b["params"]
