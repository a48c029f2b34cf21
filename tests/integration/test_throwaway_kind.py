"""A kind added at run time, the way docs/adding-a-kind.md adds one: a Kind
subclass with a name and a kernel kind, registered with
``vnet.kinds.registered``. Generic code learns nothing about it, yet every
command handles it: plan, apply, show, export, script, diagram and destroy.

The kind is ifb (the intermediate functional block: like dummy, a device
with no lower device and no options), which this kernel has and vnet's
registry has not."""
import yaml

from vnet import cli
from vnet.kinds import registered
from vnet.kinds.base import Kind


class Ifb(Kind):
    name = kernel_kind = "ifb"
    doc = "an intermediate functional block: traffic redirected to it passes its qdiscs"
    shape, colour = "box", "#cfe2f3"


LAB = """
name: tk
namespaces: [net1]
interfaces:
  - {name: ifb0, kind: ifb, netns: net1, mtu: 1400, addresses: [10.7.0.1/24]}
  - {name: ifb1, kind: ifb, up: false}
"""


def run(capsys, *argv):
    """One vnet command in this process (where the kind is registered): its
    exit code and output."""
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def test_a_kind_registered_at_run_time_goes_through_every_command(sandbox, capsys):
    f = sandbox.write("lab.yaml", LAB)
    with registered(Ifb()):
        rc, out, err = run(capsys, "plan", f)
        assert rc == 0, err
        assert "ifb0" in out and "ifb1" in out

        assert run(capsys, "apply", f)[0] == 0
        ifb0 = sandbox.links("net1")["ifb0"]
        assert (ifb0["linkinfo"]["info_kind"], ifb0["mtu"]) == ("ifb", 1400)
        assert "10.7.0.1/24" in sandbox.sh("ip -n net1 addr show ifb0")
        assert "UP" not in sandbox.links()["ifb1"]["flags"]

        rc, out, err = run(capsys, "plan", "--json", f)
        assert rc == 0, err
        assert yaml.safe_load(out)["changes"] == [], "nothing to do once applied"

        rc, out, err = run(capsys, "show", f)
        assert rc == 0, err
        assert [ln for ln in out.splitlines() if "ifb0" in ln and "ifb" in ln.replace("ifb0", "")]

        rc, out, err = run(capsys, "export", "tk")
        assert rc == 0, err
        exported = sandbox.write("export.yaml", out)
        again = {i["name"]: i for i in yaml.safe_load(out)["interfaces"]}
        assert again["ifb0"]["kind"] == again["ifb1"]["kind"] == "ifb"
        assert (again["ifb0"]["netns"], again["ifb0"]["mtu"]) == ("net1", 1400)
        rc, out, err = run(capsys, "plan", "--json", exported)
        assert rc == 0 and yaml.safe_load(out)["changes"] == [], "the export describes what runs"

        rc, out, err = run(capsys, "script", f)
        assert rc == 0, err
        assert "ip -n net1 link add ifb0 mtu 1400 type ifb" in out.splitlines()

        for what in (f, "tk"):   # the file, and the live state
            rc, out, err = run(capsys, "diagram", what)
            assert rc == 0, err
            assert "ifb0" in out and "#cfe2f3" in out, what

        rc, out, err = run(capsys, "destroy", "tk")
        assert rc == 0, err
        assert "ifb0" not in sandbox.sh("ip -n net1 link show 2>/dev/null || true")
        assert "ifb1" not in sandbox.links()

    # out of the block the kind is unknown again: a user's error, not a crash
    rc, out, err = run(capsys, "validate", f)
    assert rc == 2
    assert "unknown kind 'ifb'" in err
