"""The Python lab API and the pytest plugin, used as a user would: the
worked example in docs/examples runs under pytest (one test failing on
purpose), and nothing it built or started is left behind."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIG10 = os.path.join(ROOT, "examples", "fig10-bridge.yaml")


def _procs(word):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if word.encode() in f.read():
                        out.append(int(p))
            except OSError:
                pass
    return out


@pytest.mark.needs("bridge", "veth")
def test_the_plugin_example_passes_and_a_failure_leaves_nothing(sandbox):
    env = {**os.environ, "VNET_DEMO_FAILURE": "1", "PYTHONPATH": os.path.join(ROOT, "src")}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", ROOT,
                        os.path.join(ROOT, "docs", "examples", "test_fig10_lab.py")],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert "2 passed" in r.stdout and "1 failed" in r.stdout, r.stdout + r.stderr
    assert "test_a_failing_test_still_tears_everything_down" in r.stdout
    assert os.listdir("/run/netns") == [], "a namespace was left behind"
    assert not os.path.exists("/run/vnet/fig10.json")
    assert _procs("31337") == [], "a process the lab started was left running"


@pytest.mark.needs("bridge", "veth")
def test_lab_api_in_process(sandbox):
    from vnet import Lab
    with pytest.raises(TypeError):
        Lab.from_file(FIG10).run("net1", "ping 10.0.10.2")
    with Lab.from_file(FIG10) as lab:
        assert lab.ping("net1", "10.0.10.2")
        assert all(r.ok for r in lab.check())
        assert lab.run("net2", ["ip", "-br", "addr", "show", "eth0"]).stdout.split()[2] == "10.0.10.2/24"
        p = lab.popen("net1", ["sleep", "31338"])
        with pytest.raises(ValueError):
            lab.netns("nowhere")
    assert p.poll() is not None and os.listdir("/run/netns") == []
    # an exception inside the block still destroys the lab
    with pytest.raises(RuntimeError):
        with Lab.from_file(FIG10) as lab:
            raise RuntimeError("boom")
    assert os.listdir("/run/netns") == [] and not os.path.exists("/run/vnet/fig10.json")


def _plan(sandbox, path):
    import json
    return json.loads(sandbox.vnet("plan", "--json", path).stdout)["changes"]


@pytest.mark.needs("bridge", "veth")
def test_a_lab_refuses_a_topology_applied_outside_it_unless_told_to_reuse_it(sandbox):
    from vnet import Lab
    from vnet.lab import LabInUse
    sandbox.vnet("apply", FIG10)                 # applied by hand, before the lab
    applied = sandbox.dump_all()
    with pytest.raises(LabInUse) as e:
        with Lab.from_file(FIG10):
            pytest.fail("the lab started on a topology it did not apply")
    assert "'fig10' is already applied" in str(e.value) and "reuse=True" in str(e.value), str(e.value)
    assert e.value.exit_code == 6
    assert sandbox.dump_all() == applied and os.path.exists("/run/vnet/fig10.json"), "the refusal touched it"
    with Lab.from_file(FIG10, reuse=True) as lab:  # told to: used as it is, and left applied
        assert lab.ping("net1", "10.0.10.2")
    assert sandbox.dump_all() == applied and os.path.exists("/run/vnet/fig10.json")
    assert _plan(sandbox, FIG10) == []
    sandbox.vnet("destroy", "fig10")
    with Lab.from_file(FIG10, reuse=True) as lab:  # nothing to reuse: the lab applied it, so it destroys it
        assert lab.ping("net1", "10.0.10.2")
    assert os.listdir("/run/netns") == [] and not os.path.exists("/run/vnet/fig10.json")


@pytest.mark.needs("bridge", "veth")
def test_a_lab_refuses_a_namespace_another_topology_owns_and_leaves_it(sandbox):
    from vnet import Lab
    from vnet.lab import LabInUse
    other = sandbox.write("other.yaml", "name: other\nnamespaces: [net1]\n")
    sandbox.vnet("apply", other)
    applied = sandbox.dump_all()
    for reuse in (False, True):    # reuse is for the lab's own topology, never another's
        with pytest.raises(LabInUse) as e:
            with Lab.from_file(FIG10, reuse=reuse):
                pass
        assert "'net1', owned by topology 'other'" in str(e.value), str(e.value)
    assert sandbox.dump_all() == applied and os.path.exists("/run/vnet/other.json")
    assert not os.path.exists("/run/vnet/fig10.json")
    sandbox.vnet("destroy", "other")


REUSE_TESTS = '''
import os
import pytest

FIG10 = {fig10!r}


def test_refused(vnet_lab):
    vnet_lab(FIG10)


@pytest.mark.vnet_reuse
def test_reused_by_marker(vnet_lab):
    assert vnet_lab(FIG10).ping("net1", "10.0.10.2")


def test_reused_by_argument(vnet_lab):
    assert vnet_lab(FIG10, reuse=True).ping("net1", "10.0.10.2")
'''


@pytest.mark.needs("bridge", "veth")
def test_the_fixtures_refuse_a_topology_applied_outside_them_and_never_destroy_it(sandbox, tmp_path):
    t = tmp_path / "test_reuse.py"
    t.write_text(REUSE_TESTS.format(fig10=FIG10))
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    sandbox.vnet("apply", FIG10)
    applied = sandbox.dump_all()

    def pytest_run(*extra):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                               str(tmp_path), str(t), *extra], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)
    r = pytest_run()
    assert "1 failed, 2 passed" in r.stdout, r.stdout + r.stderr
    assert "LabInUse" in r.stdout and "'fig10' is already applied" in r.stdout, r.stdout
    assert sandbox.dump_all() == applied and os.path.exists("/run/vnet/fig10.json")
    r = pytest_run("--vnet-reuse")
    assert "3 passed" in r.stdout, r.stdout + r.stderr
    assert sandbox.dump_all() == applied and os.path.exists("/run/vnet/fig10.json")
    assert _plan(sandbox, FIG10) == []
    sandbox.vnet("destroy", "fig10")
