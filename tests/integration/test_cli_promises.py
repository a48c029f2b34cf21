"""The CLI's promises, called as a user would (`vnet ...` in a sandbox):
`vnet list` and its health column, `plan --exit-code`, each change's line as
apply makes it with progress on stderr, `--quiet`, "1 change", destroy one
object per line, and `vnet exec host`."""
import json
import os
import time

LAB = """name: cli1
namespaces: [c1, c2]
interfaces:
  - {name: br0, kind: bridge, stp: false}
  - {name: v1, kind: veth, master: br0, peer: {name: eth0, netns: c1, addresses: [10.6.0.1/24]}}
  - {name: v2, kind: veth, master: br0, peer: {name: eth0, netns: c2, addresses: [10.6.0.2/24]}}
"""
CHANGES = 7   # two namespaces, a bridge, two veth pairs, two addresses


def listed(sandbox):
    r = sandbox.vnet("list", "--json")
    return {t["name"]: t for t in json.loads(r.stdout)["topologies"]}


def test_list_nothing_then_a_topology_and_its_health(sandbox):
    r = sandbox.vnet("list")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "no topology applied\n")
    f = sandbox.write("lab.yaml", LAB)
    sandbox.vnet("apply", f)
    t = listed(sandbox)["cli1"]
    assert t["source"] == os.path.abspath(f) and t["namespaces"] == ["c1", "c2"]
    assert sorted(t["devices"]) == ["br0", "c1/eth0", "c2/eth0", "v1", "v2"]
    assert t["health"]["status"] == "ok"
    table = sandbox.vnet("list").stdout.splitlines()
    assert table[0].split() == ["name", "source", "namespaces", "devices", "health"]
    assert table[1].split() == ["cli1", os.path.abspath(f), "2", "5", "ok"]

    sandbox.sh("ip link set br0 type bridge stp_state 1")   # drift: apply would change one thing
    assert listed(sandbox)["cli1"]["health"] == {"status": "drifted", "count": 1, "detail": None}
    assert sandbox.vnet("list").stdout.splitlines()[1].endswith("drifted: 1")

    sandbox.sh("ip netns del c2")   # a namespace gone, and v2 with its peer there: missing, 2
    end = time.monotonic() + 10   # (the kernel cleans a namespace up after it goes: its veth, and v2, a moment later)
    while sandbox.sh("ip link show v2", check=False) and time.monotonic() < end:
        time.sleep(0.05)
    assert listed(sandbox)["cli1"]["health"] == {"status": "missing", "count": 2, "detail": None}
    assert sandbox.vnet("list").stdout.splitlines()[1].endswith("missing: 2")
    sandbox.vnet("destroy", "cli1")
    assert listed(sandbox) == {}


def test_list_of_a_topology_whose_file_is_gone(sandbox):
    f = sandbox.write("lab.yaml", LAB)
    sandbox.vnet("apply", f)
    with open(f, "w") as out:   # now another topology's file: not planned as this one's
        out.write(LAB.replace("name: cli1", "name: other").replace("stp: false", "stp: true"))
    h = listed(sandbox)["cli1"]["health"]
    assert h["status"] == "ok" and "it now declares topology 'other'" in h["detail"]
    os.unlink(f)
    h = listed(sandbox)["cli1"]["health"]
    assert h["status"] == "ok" and "not planned" in h["detail"]   # the record alone: nothing missing
    assert sandbox.vnet("list").stdout.splitlines()[1].endswith(" ok (record only)")


def test_plan_exit_code(sandbox):
    f = sandbox.write("lab.yaml", LAB)
    assert sandbox.vnet("plan", "--exit-code", f, check=False).returncode == 2      # changes pending
    assert sandbox.vnet("plan", f).returncode == 0                                 # without: 0 either way
    sandbox.vnet("apply", f)
    r = sandbox.vnet("plan", "--exit-code", f, check=False)
    assert r.returncode == 0 and "no changes" in r.stdout
    bad = sandbox.write("bad.yaml", LAB.replace("10.6.0.2/24", "10.6.0.2/99"))
    r = sandbox.vnet("plan", "--exit-code", bad, check=False)
    assert r.returncode == 1 and "bad.yaml" in r.stderr and "10.6.0.2/99" in r.stderr   # an error: 1, said
    assert sandbox.vnet("plan", bad, check=False).returncode == 2


def test_apply_prints_each_change_as_done_with_progress_on_stderr(sandbox, monkeypatch):
    monkeypatch.setenv("VNET_PROGRESS_AFTER", "0")   # shown from the start, as a long apply shows it
    f = sandbox.write("lab.yaml", LAB)
    r = sandbox.vnet("apply", f)
    out = r.stdout.splitlines()
    assert len(out) == CHANGES + 1 and all(ln.startswith("  create ") for ln in out[:-1])
    assert out[-1] == f"cli1: applied {CHANGES} changes, verified"
    progress = r.stderr.splitlines()
    assert progress[0] == f"applying: 1/{CHANGES} changes" and progress[-1] == f"applying: {CHANGES}/{CHANGES} changes"

    sandbox.sh("ip link set br0 type bridge stp_state 1")
    r = sandbox.vnet("apply", f)
    assert r.stdout.splitlines() == ["  modify link br0: stp true -> false", "cli1: applied 1 change, verified"]

    r = sandbox.vnet("destroy", "cli1")
    out = r.stdout.splitlines()
    assert sorted(out[:-1]) == ["  link br0", "  link v1", "  link v2", "  netns c1", "  netns c2"]
    assert out[-1] == "cli1: destroyed, 5 removed" and r.stderr.splitlines()[-1] == "destroying: 5 removed"


def test_quiet_says_nothing_but_errors(sandbox, monkeypatch):
    monkeypatch.setenv("VNET_PROGRESS_AFTER", "0")
    f = sandbox.write("lab.yaml", LAB)
    r = sandbox.vnet("apply", "--quiet", f)
    assert (r.stdout, r.stderr) == ("", "")
    assert sandbox.links("c1")["eth0"]["operstate"] in ("UP", "LOWERLAYERDOWN", "UNKNOWN")
    r = sandbox.vnet("apply", "-q", "--json", f)   # asked for JSON: JSON, and still no progress
    assert json.loads(r.stdout)["applied"] == [] and r.stderr == ""
    r = sandbox.vnet("destroy", "-q", "cli1")
    assert (r.stdout, r.stderr) == ("", "")
    assert "c1" not in sandbox.sh("ip netns list")
    r = sandbox.vnet("apply", "-q", sandbox.write("bad.yaml", "name: x\nnamespaces: [a, a]\n"), check=False)
    assert r.returncode == 2 and "bad.yaml" in r.stderr   # errors are still said


def test_exec_host_and_an_unknown_namespace(sandbox):
    f = sandbox.write("lab.yaml", LAB)
    sandbox.vnet("apply", f)
    here = os.readlink("/proc/self/ns/net")
    r = sandbox.vnet("exec", "host", "--", "readlink", "/proc/self/ns/net")
    assert r.stdout.strip() == here   # the namespace vnet runs in
    r = sandbox.vnet("exec", "c1", "--", "readlink", "/proc/self/ns/net")
    assert r.stdout.strip() != here
    r = sandbox.vnet("exec", "host", "--", "sh", "-c", "exit 7", check=False)
    assert r.returncode == 7   # the command's own
    r = sandbox.vnet("exec", "nosuch", "--", "true", check=False)
    assert r.returncode == 1 and r.stderr.startswith("vnet exec: exec: network namespace 'nosuch' does not exist")


def test_a_reader_gone_or_a_full_disk_does_not_undo_the_apply(sandbox):
    """The lines of changes go out as the apply makes them: a write that
    fails then (`vnet apply | head -1`, stdout on a full disk) must not stop
    the apply or undo it; it is said once the apply is done."""
    import subprocess
    import sys
    f = sandbox.write("lab.yaml", LAB)
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "..", "src")}
    r_end, w_end = os.pipe()
    os.close(r_end)   # the reader is gone before the first line
    r = subprocess.run([sys.executable, "-m", "vnet", "apply", f], stdout=w_end, stderr=subprocess.PIPE, text=True,
                       env=env)
    os.close(w_end)
    assert r.returncode == 0 and r.stderr == ""
    assert sandbox.vnet("plan", "--exit-code", f).returncode == 0   # applied, and kept
    sandbox.sh("ip link set br0 type bridge stp_state 1")
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "vnet", "apply", f], stdout=full, stderr=subprocess.PIPE,
                           text=True, env=env)
    assert r.returncode == 1 and r.stderr == "vnet apply: cannot write the output: No space left on device\n"
    assert sandbox.vnet("plan", "--exit-code", f).returncode == 0
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "vnet", "destroy", "cli1"], stdout=full, stderr=subprocess.PIPE,
                           text=True, env=env)
    assert r.returncode == 1 and "c1" not in sandbox.sh("ip netns list")   # destroyed all the same
