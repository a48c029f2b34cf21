"""Everything that lists the kinds follows the registry: README.md's kinds
table, examples/README.md's table and the devices of the all-kinds golden
topology are written from it (and must be rewritten when a kind changes:
`.venv/bin/python scripts/kind_tables.py`), each kind names an example that
declares it, every example has its row in examples/README.md, every kind a
module makes is registered, and the test suite's kernel probe covers every
feature a kind can need."""
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest
import yaml

import vnet.kinds
from vnet.errors import SpecError
from vnet.kinds import REGISTRY, registered
from vnet.kinds.base import Kind
from vnet.topofile.loader import load, load_text
from vnet.topofile.schema import schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ALL_KINDS = ROOT / "tests" / "golden" / "script" / "all-kinds.yaml"
# kinds with no example of their own yet: each is a gap to fill, not a rule
WITHOUT_EXAMPLE = {"ipvtap"}


def _tables():
    spec = importlib.util.spec_from_file_location("kind_tables", ROOT / "scripts" / "kind_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_kinds_table_is_written_from_the_registry():
    t = _tables()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert t.with_table(text, t.table()) == text, \
        "README.md's kinds table is out of date: run `.venv/bin/python scripts/kind_tables.py` and commit README.md"


@pytest.mark.parametrize("kind", REGISTRY, ids=[k.name for k in REGISTRY])
def test_every_kind_says_what_it_is_and_takes(kind):
    assert kind.doc and kind.options_doc, f"{kind.name}: give the kind a `doc` and an `options_doc` (README.md's table)"
    assert "\n" not in kind.options_doc and "|" not in kind.options_doc.replace("\\|", ""), \
        f"{kind.name}: options_doc is one line of a Markdown table (escape | as \\|)"


@pytest.mark.parametrize("kind", REGISTRY, ids=[k.name for k in REGISTRY])
def test_every_kind_has_an_example_that_declares_it(kind):
    if kind.name in WITHOUT_EXAMPLE:
        assert kind.example is None, f"{kind.name} has an example now: take it out of WITHOUT_EXAMPLE"
        return
    assert kind.example, f"{kind.name}: name the file of examples/ that shows it (`example = ...` in its module)"
    path = EXAMPLES / kind.example
    assert path.exists(), f"{kind.name}: example {kind.example} is not in examples/"
    declared = {i["kind"] for i in yaml.safe_load(path.read_text())["interfaces"]}
    # a kind the kernel alone makes (net_failover) is declared as external
    assert kind.name in declared or not kind.creatable and "external" in declared, \
        f"{kind.name}: its example {kind.example} declares no {kind.name}"


def test_every_example_has_its_row_and_diagram_in_the_examples_readme():
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and ".yaml`" in ln]
    for example in sorted(p.name for p in EXAMPLES.glob("*.yaml")):
        stem = example[:-len(".yaml")]
        mine = [r for r in rows if f"| `{example}` |" in r]
        assert len(mine) == 1, f"examples/README.md: give {example} one row in the table (figure, file, what " \
                               f"its checks prove, where it runs, diagram)"
        assert f"(diagrams/{stem}.svg)" in mine[0] and f"### {stem}\n" in text, \
            f"examples/README.md: link diagrams/{stem}.svg in {example}'s row and under a `### {stem}` heading"


def test_examples_readme_is_written_from_the_examples_and_the_registry():
    t = _tables()
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert t.with_examples(text) == text, \
        "examples/README.md's table is out of date: run `.venv/bin/python scripts/kind_tables.py`, " \
        "fill in a new example's figure, what its checks prove and where it runs, and commit it"


def test_every_example_row_says_its_figure_what_it_proves_and_where_it_runs():
    t = _tables()
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for row in t.between(text, t.EX_BEGIN, t.EX_END)[len(t.EX_HEADER):]:
        figure, file, _kinds, proves, where, _diagram = t._cells(row)
        assert figure and proves and where, \
            f"examples/README.md: write {file}'s figure, what its checks prove and where it runs in its row"


def test_the_all_kinds_topology_is_written_from_each_kinds_sample():
    t = _tables()
    text = ALL_KINDS.read_text(encoding="utf-8")
    assert t.with_devices(text) == text, \
        "all-kinds.yaml is out of date: run `.venv/bin/python scripts/kind_tables.py`, then regenerate its " \
        "script golden (VNET_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_iproute2.py) and review it"


def test_a_kind_registered_at_run_time_joins_the_all_kinds_topology_by_its_sample():
    t = _tables()

    class Sampled(Scratch):
        sample = "- {name: s0, kind: scratch0}\n"

    with registered(Sampled()) as k:
        assert t.devices(vnet.kinds.REGISTRY)[-1] == "  - {name: s0, kind: scratch0}"
        text = t.with_devices(ALL_KINDS.read_text(encoding="utf-8"), vnet.kinds.REGISTRY)
        assert [i.name for i in load_text(text, "all-kinds.yaml").interfaces if i.kind_module is k] == ["s0"]


def test_every_kind_a_module_makes_is_registered():
    made = []
    for m in pkgutil.iter_modules(vnet.kinds.__path__):
        mod = importlib.import_module(f"vnet.kinds.{m.name}")
        made += [(m.name, k) for k in vars(mod).values() if isinstance(k, Kind)]
    missing = [f"{mod}.{k.name}" for mod, k in made if k not in REGISTRY]
    assert not missing, f"add {', '.join(missing)} to REGISTRY in src/vnet/kinds/__init__.py"


def test_the_kernel_probe_covers_every_feature_a_kind_can_need():
    """tests/kernel_features.py makes each kind's `probes` in a scratch
    namespace; a feature no kind probes would send its tests to the guest."""
    probed = set().union(*(k.probes(1) for k in REGISTRY))
    topo = load(str(ALL_KINDS))
    needed = set().union(*(i.kind_module.kernel_features(i) for i in topo.interfaces))
    assert needed and needed <= probed, f"not probed: {sorted(needed - probed)}: give the kind a `probes`"


class Scratch(Kind):
    name = kernel_kind = "scratch0"
    doc = "a kind of this test only"
    options_doc = "none"


def test_a_kind_registered_at_run_time_is_known_to_the_file_format_then_forgotten():
    text = "name: t\ninterfaces:\n  - {name: s0, kind: scratch0}\n"
    with registered(Scratch()) as k:
        assert load_text(text, "t.yaml").interfaces[0].kind_module is k
        assert "scratch0" in str(schema())
        with pytest.raises(ValueError):
            vnet.kinds.register(Scratch())   # one kind per name
        t = _tables()
        assert t.table(REGISTRY + (k,))[-1] == "| `scratch0` | none | — |"
    with pytest.raises(SpecError) as e:
        load_text(text, "t.yaml")
    assert "unknown kind 'scratch0'" in str(e.value)
    assert "scratch0" not in str(schema())
