"""``--target``, ``--exclude`` and ``--replace`` name resources (``KIND/NAME``) as they name
agents: a name nothing has is an error naming it, and what an exclusion leaves out besides the
resource it names is explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import PlanError
from tests.kinds.test_toy_kind import Toy, want
from tests.kinds.toy import widget

FAMILY = (widget("child", parent="parent"), widget("parent", parent="root"), widget("root"))


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    return Toy(tmp_path)


@pytest.mark.parametrize("flag", ["targets", "excludes", "replace"])
def test_an_unknown_resource_address_is_an_error_naming_it_and_its_near_miss(
    toy: Toy, flag: str
) -> None:
    with pytest.raises(PlanError) as refused:
        toy.plan(want(*FAMILY), **{flag: ("Widget/chidl",)})
    message = str(refused.value)
    assert "names no agent or resource (KIND/NAME)" in message
    assert "Widget/chidl" in message and "did you mean Widget/child?" in message


def test_an_unknown_agent_name_keeps_the_agents_wording(toy: Toy) -> None:
    with pytest.raises(PlanError, match=r"^--exclude names no agent in the manifests or state: x$"):
        toy.plan(want(*FAMILY), excludes=("x",))


def test_excluding_a_resource_explains_each_one_that_references_it(toy: Toy) -> None:
    plan = toy.plan(want(*FAMILY, widget("other")), excludes=("Widget/root",))

    assert [r.address for r in plan.resources] == ["Widget/other"]
    assert [w for w in plan.warnings if "--exclude" in w] == [
        "--exclude also leaves out Widget/child: it references Widget/parent, which --exclude "
        "leaves out",
        "--exclude also leaves out Widget/parent: it references Widget/root, which --exclude "
        "leaves out",
    ]


def test_excluding_a_delete_explains_what_it_keeps(toy: Toy) -> None:
    toy.apply(want(*FAMILY))

    plan = toy.plan(want(widget("root")), excludes=("Widget/parent",))

    assert [(r.address, r.action) for r in plan.resources] == [("Widget/child", "delete")]
    assert [w for w in plan.warnings if "--exclude" in w] == [
        "--exclude also leaves out Widget/root: Widget/parent, whose delete --exclude leaves "
        "out, references it"
    ]


def test_a_target_that_references_an_excluded_resource_is_an_error_naming_both(
    toy: Toy,
) -> None:
    with pytest.raises(PlanError) as refused:
        toy.plan(want(*FAMILY), targets=("Widget/child",), excludes=("Widget/root",))
    message = str(refused.value)
    assert message.startswith("Widget/child is asked for (--target/--replace) but --exclude ")
    assert "Widget/parent" in message and message.endswith("drop one of the two options")


def test_an_exclusion_nothing_depends_on_adds_no_warning(toy: Toy) -> None:
    plan = toy.plan(want(*FAMILY, widget("other")), excludes=("Widget/other",))

    assert [r.address for r in plan.resources] == ["Widget/root", "Widget/parent", "Widget/child"]
    assert not [w for w in plan.warnings if "--exclude" in w]


def test_excluding_a_delete_explains_each_resource_it_holds_by_what_holds_it(toy: Toy) -> None:
    """child's delete is excluded: parent's delete waits because child references it, and root
    because parent does; neither is left out because of what *it* references."""
    toy.apply(want(*FAMILY))

    plan = toy.plan(want(widget("root")), excludes=("Widget/child",))

    assert plan.resources == ()
    assert [w for w in plan.warnings if "--exclude" in w] == [
        "--exclude also leaves out Widget/parent: Widget/child, whose delete --exclude leaves "
        "out, references it",
        "--exclude also leaves out Widget/root: Widget/parent, whose delete --exclude leaves "
        "out, references it",
    ]
