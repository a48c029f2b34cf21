"""Team devices run by teamd (Figure 3): failover with a running ping, a
load-balancing team passing traffic, teamd supervised (found dead, started
again) and stopped on destroy, and the error when teamd is missing."""
import json
import os
import time

import pytest

from lab import apply_json, pings_during, plan_json
from vnet.check.ping import ping

EX = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
FIG3 = os.path.join(EX, "fig3-team.yaml")


def teamd_pids():
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/comm") as f:
                    if f.read().strip() == "teamd":
                        out.append(int(p))
            except OSError:
                pass
    return out


def _team(sandbox, f, name="team0"):
    devs = json.loads(sandbox.vnet("show", "--json", f).stdout)["devices"]
    return next(d for d in devs if d["name"] == name)


@pytest.mark.needs("team", "bridge", "veth")
def test_fig3_activebackup_failover_keeps_ping_and_destroy_stops_teamd(sandbox):
    before = set(teamd_pids())
    sandbox.vnet("apply", FIG3)
    assert len(set(teamd_pids()) - before) == 1, "one teamd runs for team0"
    assert ping("server", "10.3.0.254", timeout=3)
    t = _team(sandbox, FIG3)
    assert t["kind"] == "team" and t["mode"] == "activebackup" and t["options"]["runner"] == "activebackup"
    first = t["active_port"]
    assert first in ("eth0", "eth1")
    peer = {"eth0": "sw0", "eth1": "sw1"}[first]
    # the active port's link fails
    results = pings_during("server", "10.3.0.254", lambda: sandbox.sh(f"ip -n switch link set {peer} down"))
    now = _team(sandbox, FIG3)["active_port"]
    assert now not in (first, None), f"teamd did not switch away from {first} (show says {now})"
    assert sum(results) >= len(results) - 4, f"ping lost more than during the switch: {results}"
    assert results[-5:] == [True] * 5
    assert "active_port " in sandbox.vnet("show", FIG3).stdout
    sandbox.vnet("destroy", "fig3")
    assert set(teamd_pids()) - before == set(), "teamd still runs after destroy"


@pytest.mark.needs("team", "bridge", "veth")
def test_loadbalance_team_passes_traffic_and_teamd_is_supervised(sandbox):
    body = open(FIG3).read().replace("runner: activebackup", "runner: loadbalance, tx_hash: [eth, ipv4]")
    f = sandbox.write("lb.yaml", body)
    apply_json(sandbox, f)
    assert ping("server", "10.3.0.254", timeout=3, count=3)
    assert _team(sandbox, f)["mode"] == "loadbalance"
    assert plan_json(sandbox, f) == []
    # teamd dies: the next plan says so, and apply starts it again
    before = teamd_pids()
    for pid in before:
        os.kill(pid, 9)
    time.sleep(0.5)
    changes = plan_json(sandbox, f)
    assert changes and changes[0]["action"] == "recreate" and "teamd not running" in changes[0]["reason"]
    apply_json(sandbox, f)
    assert teamd_pids() and plan_json(sandbox, f) == []
    assert ping("server", "10.3.0.254", timeout=3)
    # a runner change re-creates the team with a new teamd
    f = sandbox.write("lb.yaml", body.replace("runner: loadbalance, tx_hash: [eth, ipv4]", "runner: roundrobin"))
    changes = plan_json(sandbox, f)
    assert changes[0]["action"] == "recreate" and "runner" in changes[0]["reason"]
    apply_json(sandbox, f)
    assert _team(sandbox, f)["mode"] == "roundrobin" and len(teamd_pids()) == 1
    assert ping("server", "10.3.0.254", timeout=3)
    sandbox.vnet("destroy", "fig3")
    assert teamd_pids() == []


def test_missing_teamd_says_what_to_install_and_changes_nothing(sandbox):
    before = sandbox.dump_all()
    env_path = os.environ["PATH"]
    os.environ["PATH"] = "/nonexistent"
    try:
        r = sandbox.vnet("apply", FIG3, check=False)
    finally:
        os.environ["PATH"] = env_path
    assert r.returncode == 3, r.stderr
    assert "teamd is not installed" in r.stderr and "apt-get install libteam-utils" in r.stderr
    assert sandbox.dump_all() == before


@pytest.mark.needs("team", "veth")
def test_apply_killed_at_each_request_of_a_team_converges_and_leaves_no_teamd(sandbox):
    """The team is made by vnet with the topology's tag and taken over by
    teamd: a kill at any request (right after the device is made, before
    teamd runs, or after it) leaves what the next apply converges and
    destroy removes, teamd included; before, a kill while teamd was starting
    left an untagged team that every apply refused as not owned."""
    before = sandbox.dump_all()
    f = sandbox.write("tk.yaml", """name: tk
namespaces: [t1]
interfaces:
  - {name: team0, kind: team, netns: t1, runner: activebackup, addresses: [10.31.0.1/24]}
  - {name: p0, kind: veth, netns: t1, master: team0, peer: {name: q0, netns: t1}}
""")
    total = apply_json(sandbox, f)["requests"]
    sandbox.vnet("destroy", f)
    assert teamd_pids() == [] and sandbox.dump_all() == before
    import subprocess
    import sys
    from test_crash import KILL_ON_CALL
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "..", "src")}
    # every request, and the instant teamd has just been started (it had not made
    # the device yet, or made it untagged)
    for k in [*range(1, total + 1), "teamd"]:
        if k == "teamd":
            r = subprocess.run([sys.executable, "-c", KILL_ON_CALL, "subprocess.Popen", "1", "after", "teamd",
                                "apply", f], capture_output=True, text=True, env=env, timeout=120)
        else:
            r = sandbox.vnet_killed_at(k, "apply", f)
        assert r.returncode == -9, f"kill point {k}: {r.returncode}\n{r.stderr}"
        r = sandbox.vnet("apply", f, check=False)
        assert r.returncode == 0, f"after a kill at request {k} of {total}: {r.stdout}{r.stderr}"
        assert plan_json(sandbox, f) == [], f"after a kill at request {k}"
        assert len(teamd_pids()) == 1, f"after a kill at request {k}: teamd {teamd_pids()}"
        sandbox.vnet("destroy", f)
        time.sleep(0.2)
        assert teamd_pids() == [], f"after a kill at request {k}, destroy left teamd running"
        assert sandbox.dump_all() == before, f"after a kill at request {k}, destroy left something"
