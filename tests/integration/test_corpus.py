"""Networks built by others round-trip through `vnet export`: each script of
tests/corpus builds a network with plain `ip` and `bridge` commands in a
sandbox; `vnet export` writes it; the export, applied in a fresh sandbox,
gives the same kernel state, compared field by field as iproute2 prints
it; then `vnet plan` of the export is empty."""
import os
import re
import sys

import pytest
import yaml
from conftest import sandboxed
from kstate import differences, settled

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "corpus")


def _scripts():
    out = []
    for f in sorted(os.listdir(CORPUS)):
        if f.endswith(".sh"):
            text = open(os.path.join(CORPUS, f)).read()
            needs = re.search(r"^# needs: (.*)$", text, re.M).group(1).split()
            out.append(pytest.param(f, marks=pytest.mark.needs(*needs), id=f[:-3]))
    return out


def _with_keys(node, keys):
    """The export with its MACsec keys given (the kernel never gives a key
    back: an export says `key: "***"`, and a user supplies the keys)."""
    if isinstance(node, dict):
        if node.get("key") == "***":   # key ids by their 16 bytes (`ip macsec` pads them with zeros)
            node = {**node, "key": {k.ljust(32, "0"): v for k, v in keys.items()}[node["key_id"].ljust(32, "0")]}
        return {k: _with_keys(v, keys) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_keys(v, keys) for v in node]
    return node


def round_trip(sandbox, tmp_path, build, export_args=(), keys=None):
    """Build with ``build`` (a shell script) in ``sandbox``, export, apply
    in a fresh sandbox: (the export's text, differences)."""
    sandbox.sh(f"set -e\n{build}")
    before = settled()
    exported = sandbox.vnet("export", *export_args)
    doc = exported.stdout
    lost = [ln for ln in exported.stderr.splitlines() if "made from the file" in ln or "did not compare" in ln]
    assert not lost, "the export names settings lost where the re-created network has them all:\n" + "\n".join(lost)
    text = yaml.safe_dump(_with_keys(yaml.safe_load(doc), keys), sort_keys=False) if keys else doc
    path = sandbox.write("exported.yaml", text)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with sandboxed(fresh) as again:
        r = again.vnet("apply", path, check=False)
        assert r.returncode == 0, f"the export does not apply ({r.returncode}):\n{r.stderr}\n--- export:\n{doc}"
        after = settled()
        plan = again.vnet("plan", path, "--json", check=False)
        assert plan.returncode == 0, plan.stderr
        import json
        steps = json.loads(plan.stdout).get("steps") or json.loads(plan.stdout).get("changes")
        assert not steps, f"the plan of the applied export is not empty: {steps}\n--- export:\n{doc}"
    return doc, differences(before, after)


@pytest.mark.parametrize("script", _scripts())
def test_a_network_built_by_hand_round_trips_through_export(sandbox, tmp_path, script):
    build = open(os.path.join(CORPUS, script)).read()
    keys = re.search(r"^# keys: (.*)$", build, re.M)
    keys = dict(k.split("=") for k in keys.group(1).split()) if keys else None
    doc, diff = round_trip(sandbox, tmp_path, build, keys=keys)
    if diff:
        pytest.fail("the re-created network differs:\n" + "\n".join(diff) + "\n--- export:\n" + doc, pytrace=False)
    yaml.safe_load(doc)   # and it is a topology file a user can read back


EXAMPLES = os.path.join(os.path.dirname(CORPUS), "..", "examples")


def _examples():
    from test_examples import ELSEWHERE, needs
    return [pytest.param(e, marks=pytest.mark.needs(*needs(e)), id=e[:-5])
            for e in sorted(os.listdir(EXAMPLES)) if e.endswith(".yaml") and e not in ELSEWHERE]


@pytest.mark.parametrize("example", _examples())
def test_every_example_round_trips_through_export(sandbox, tmp_path, example):
    """An example applied by vnet, exported by name, re-created from the
    export in a fresh sandbox: the same kernel state."""
    import vnet
    path = os.path.abspath(os.path.join(EXAMPLES, example))
    name = vnet.load(path).name
    keys = {}
    for i in vnet.load(path).interfaces:   # the example's MACsec keys, by key id
        for sa in [i.options.get("tx")] + [sa for rx in i.options.get("rx") or [] for sa in rx["sas"]]:
            if sa:
                key = sa["key"]   # read from its key_file: bytes that print as ***
                keys[sa["key_id"]] = key.value.hex() if hasattr(key, "value") else key
    build = f"PYTHONPATH={ROOT}/src {sys.executable} -m vnet apply {path}"
    doc, diff = round_trip(sandbox, tmp_path, build, export_args=(name,), keys=keys)
    if diff:
        pytest.fail("the re-created network differs:\n" + "\n".join(diff) + "\n--- export:\n" + doc, pytrace=False)
