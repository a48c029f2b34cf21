"""`vnet validate` on broken topology files: exit code 2 and the exact text
a user reads, compared with golden files.

Each case is tests/golden/errors/NAME.yaml (or .json) with its expected
stderr in NAME.txt, the file's path written as `{file}` and the list of
every kind of the registry as `{kinds}` (a new kind changes no golden).
After a deliberate change of wording, regenerate the goldens and review the
diff:

    VNET_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_topology_errors.py
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vnet.kinds import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
GOLDEN = ROOT / "tests" / "golden" / "errors"
VALID = ROOT / "tests" / "golden" / "script" / "all-kinds.yaml"
REGEN = os.environ.get("VNET_REGEN_GOLDEN") == "1"
CASES = sorted(p for p in GOLDEN.iterdir() if p.suffix in (".yaml", ".json"))


def vnet(*args):
    env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "vnet", *map(str, args)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def shown(case, text):
    """The text with the case's path made location independent, and the
    registry's kinds independent of which kinds there are."""
    return text.replace(str(case), "{file}").replace("kinds: " + ", ".join(k.name for k in REGISTRY), "kinds: {kinds}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_reports_the_golden_error(case):
    r = vnet("validate", case)
    assert r.returncode == 2, f"exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}"
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    got = shown(case, r.stderr)
    golden = case.with_suffix(".txt")
    if REGEN:
        golden.write_text(got)
    assert golden.exists(), f"no golden {golden.name}; create it with VNET_REGEN_GOLDEN=1 and review it"
    assert got == golden.read_text()


def test_every_golden_has_its_case():
    stems = {c.stem for c in CASES}
    orphans = [g.name for g in GOLDEN.glob("*.txt") if g.stem not in stems]
    assert not orphans


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_line_names_the_file(case):
    """Each problem is on its own line, prefixed with the file, so an editor
    can jump to it."""
    lines = case.with_suffix(".txt").read_text().splitlines()
    assert lines
    assert all(ln.startswith("{file}: ") for ln in lines), lines


def test_several_problems_are_all_reported_with_object_and_field():
    case = GOLDEN / "several-problems.yaml"
    lines = shown(case, vnet("validate", case).stderr).splitlines()
    assert sorted(lines) == sorted([
        "{file}: interfaces[1] (vx0).vni: 0 is out of range 1..16777215",
        "{file}: interfaces[2] (mv1).link: device 'eth9' in namespace net1 is neither declared nor external",
        "{file}: interfaces[3] (veth1).peer.addresses[0]: '10.0.0.1' is not an address with prefix length, "
        "e.g. 10.0.0.1/24 or fd00::1/64",
        "{file}: interfaces[3] (veth1).peer.netns: namespace 'net3' is not declared (did you mean 'net2'?)",
        "{file}: routes[0]: a route needs via, dev, or both",
        "{file}: sysctls[0].key: 'vm.swappiness' is not valid: a network sysctl key like net.ipv4.ip_forward",
    ])


def test_yaml_syntax_error_gives_line_and_column():
    case = GOLDEN / "yaml-syntax-error.yaml"
    err = shown(case, vnet("validate", case).stderr)
    assert err.startswith("{file}: invalid YAML: line 5, column 4: ")


def test_json_output_lists_the_same_problems():
    case = GOLDEN / "several-problems.yaml"
    r = vnet("validate", "--json", case)
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["error"] == "SpecError"
    assert out["problems"] == vnet("validate", case).stderr.splitlines()
    assert len(out["problems"]) == 6


def test_missing_file():
    r = vnet("validate", ROOT / "tests" / "golden" / "no-such-file.yaml")
    assert r.returncode == 2
    assert r.stderr.endswith("no-such-file.yaml: cannot read: No such file or directory\n")


# the file's devices, each end of a pair counted (it grows with each new kind)
DEVICES = sum(1 + ("peer" in i) for i in yaml.safe_load(VALID.read_text())["interfaces"])


def test_valid_file_exits_0():
    r = vnet("validate", VALID)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == f"{VALID}: valid topology 'allkinds': {DEVICES} devices, 2 namespaces\n"


def test_valid_file_json():
    r = vnet("validate", "--json", VALID)
    assert r.returncode == 0
    assert json.loads(r.stdout) == {"valid": True, "name": "allkinds", "interfaces": DEVICES, "namespaces": 2,
                                    "warnings": []}


@pytest.mark.parametrize("size_mb", [4, 20, 1024])
def test_a_huge_file_is_refused_before_it_is_read_whole(tmp_path, size_mb):
    """A file past the cap (a sparse one here, so the test writes nothing) is
    refused after reading just past the cap, without parsing any of it."""
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as f:
        f.truncate(size_mb << 20)
    r = vnet("validate", huge)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"{huge}: larger than 3 MiB, the most a topology file may be\n"


def test_an_endless_file_is_refused():
    r = vnet("validate", "/dev/zero")
    assert (r.returncode, r.stderr) == (2, "/dev/zero: larger than 3 MiB, the most a topology file may be\n")
