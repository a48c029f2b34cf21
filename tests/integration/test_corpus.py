"""Networks built by others round-trip through `vnet export`: each script of
tests/corpus builds a network with plain `ip` and `bridge` commands in a
sandbox; `vnet export` writes it; the export, applied in a fresh sandbox,
gives the same kernel state, compared field by field as iproute2 prints
it; then `vnet plan` of the export is empty."""
import os
import re

import pytest
import yaml
from conftest import sandboxed
from kstate import differences, snapshot

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "corpus")


def _scripts():
    out = []
    for f in sorted(os.listdir(CORPUS)):
        if f.endswith(".sh"):
            text = open(os.path.join(CORPUS, f)).read()
            needs = re.search(r"^# needs: (.*)$", text, re.M).group(1).split()
            out.append(pytest.param(f, marks=pytest.mark.needs(*needs), id=f[:-3]))
    return out


def round_trip(sandbox, tmp_path, build, export_args=()):
    """Build with ``build`` (a shell script) in ``sandbox``, export, apply
    in a fresh sandbox: (the export's text, differences)."""
    sandbox.sh(f"set -e\n{build}")
    before = snapshot()
    doc = sandbox.vnet("export", *export_args).stdout
    path = sandbox.write("exported.yaml", doc)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with sandboxed(fresh) as again:
        r = again.vnet("apply", path, check=False)
        assert r.returncode == 0, f"the export does not apply ({r.returncode}):\n{r.stderr}\n--- export:\n{doc}"
        after = snapshot()
        plan = again.vnet("plan", path, "--json", check=False)
        assert plan.returncode == 0, plan.stderr
        import json
        steps = json.loads(plan.stdout).get("steps") or json.loads(plan.stdout).get("changes")
        assert not steps, f"the plan of the applied export is not empty: {steps}\n--- export:\n{doc}"
    return doc, differences(before, after)


@pytest.mark.parametrize("script", _scripts())
def test_a_network_built_by_hand_round_trips_through_export(sandbox, tmp_path, script):
    build = open(os.path.join(CORPUS, script)).read()
    doc, diff = round_trip(sandbox, tmp_path, build)
    if diff:
        pytest.fail("the re-created network differs:\n" + "\n".join(diff) + "\n--- export:\n" + doc, pytrace=False)
    yaml.safe_load(doc)   # and it is a topology file a user can read back
