"""No traceback, ever: the command line driven with random argument lists,
random and truncated topology files, a directory as FILE, unreadable files,
unwritable outputs, corrupt and foreign-version records, a missing
/run/netns, a half-made namespace and no privileges. Every run must end with
a documented exit code, say something when it fails, and print no traceback.
An internal error (exit 70) is a bug vnet caught: it fails the test too.

Commands run in this process through vnet.cli.main where they can (fast:
no interpreter to start), in subprocesses where they must (exec replaces
the process, a tunnel runs until stopped, privileges are dropped, or the
namespace directory is read at import). Seeded: a failure is reproducible."""
import glob
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from vnet.errors import EXIT_CODES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.yaml")))
FIG10 = os.path.join(ROOT, "examples", "fig10-bridge.yaml")
GOOD = set(EXIT_CODES) - {70, 130}   # 70: a bug vnet caught; 130: nobody pressed Ctrl-C
NO_CAPS = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
ENV = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
ENV.pop("VNET_DEBUG", None)

HOSTILE = [-1, 0, 1, 4094, 4095, 4096, 65536, 2 ** 64, 1.5, "", " ", "x" * 200, "eth0/1", "a:b", None, True,
           False, [], {}, [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], "10.0.0.1/33",
           "0.0.0.0", "::1/128", "default", "nan", {"vid": 4095}, [{"vid": 4095}], ["x"], {"name": None},
           "net9", "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "02:00:00:00:00:00", "1-5000"]


class Runs:
    """Every run's verdict; the test fails listing each bad run."""

    def __init__(self):
        self.bad, self.count, self.codes = [], 0, {}

    def judge(self, how, argv, rc, out, err):
        self.count += 1
        self.codes[rc] = self.codes.get(rc, 0) + 1
        text = out + err
        why = []
        if rc is not None and rc not in GOOD:
            why.append(f"exit {rc}")
        if "Traceback" in text:
            why.append("a traceback")
        if rc not in (0, None) and not text.strip():
            why.append("no message")
        if why:
            self.bad.append(f"{how} vnet {' '.join(map(repr, argv))}: {', '.join(why)}\n"
                            + "\n".join("    " + ln for ln in text[-1500:].splitlines()))

    def verdict(self):
        print(f"{self.count} runs; exit codes: {dict(sorted(self.codes.items(), key=str))}")
        assert not self.bad, f"{len(self.bad)} of {self.count} runs went wrong:\n" + "\n".join(self.bad[:25])


@pytest.fixture
def runs(capfd):
    r = Runs()

    def inproc(*argv):
        from vnet import cli
        capfd.readouterr()
        t0 = time.monotonic()
        try:
            rc = cli.main([str(a) for a in argv])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException as e:   # escaped main: the very thing under test
            import traceback
            out, err = capfd.readouterr()
            r.judge("in-process", argv, "escaped", out, err + "Traceback\n" + traceback.format_exc())
            return "escaped", out, err
        out, err = capfd.readouterr()
        r.judge("in-process", argv, rc, out, err)
        if os.environ.get("FUZZ_VERBOSE"):
            with capfd.disabled():
                print("in-process", argv, rc, out[-200:], err[-300:], "T=%.2f" % (time.monotonic() - t0))
        return rc, out, err

    def sub(*argv, prefix=(), env=None, timeout=15, stdout=None, how="subprocess", may_run=False):
        p = subprocess.Popen([*prefix, sys.executable, "-m", "vnet", *map(str, argv)], env=env or ENV,
                             stdin=subprocess.DEVNULL, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, errors="backslashreplace", start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:   # a tunnel that runs: fine, as long as it said nothing wrong
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            rc = None if may_run else f"none: still running after {timeout} s"
        r.judge(how, argv, rc, out or "", err or "")
        if os.environ.get("FUZZ_VERBOSE"):
            print(how, argv, rc, (out or "")[-300:], (err or "")[-300:])
        return rc, out or "", err or ""

    r.inproc, r.sub = inproc, sub
    return r


# ---- files ---------------------------------------------------------------

def _mutate(doc, rng, depth=0):
    """``doc`` with one random change somewhere: a hostile value, a key
    dropped, an unknown key added, a list emptied or doubled."""
    if isinstance(doc, dict) and doc and depth < 6 and rng.random() < 0.8:
        k = rng.choice(list(doc))
        doc[k] = _mutate(doc[k], rng, depth + 1)
        return doc
    if isinstance(doc, list) and doc and depth < 6 and rng.random() < 0.8:
        i = rng.randrange(len(doc))
        doc[i] = _mutate(doc[i], rng, depth + 1)
        return doc
    roll = rng.random()
    if isinstance(doc, dict) and doc and roll < 0.3:
        doc.pop(rng.choice(list(doc)))
        return doc
    if isinstance(doc, dict) and roll < 0.45:
        doc[rng.choice(["bogus", "mtu", "vid", "vlans", "netns", "master", "peer", "kind", "tunnel"])] = \
            rng.choice(HOSTILE)
        return doc
    if isinstance(doc, list) and roll < 0.45:
        return doc + doc
    return rng.choice(HOSTILE)


def _leaves(doc, path=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _leaves(v, path + (i,))
    else:
        yield path, doc


def _tweak(doc, rng):
    """``doc`` with one leaf changed to a near value of its own type (an
    option flipped, a number moved, a name swapped for another of the file's
    names): often still valid, so it gets as far as plan, apply and destroy."""
    leaves = list(_leaves(doc))
    if not leaves:
        return doc
    path, v = rng.choice(leaves)
    names = [x for _p, x in leaves if isinstance(x, str) and len(x) < 16]
    if isinstance(v, bool):
        v = not v
    elif isinstance(v, int):
        v = rng.choice([v + 1, v - 1, v * 2, 0, 1, 1280, 9000, 4094, 65535])
    elif isinstance(v, str):
        v = rng.choice(names) if names and rng.random() < 0.4 else v + rng.choice(["1", "x", "-2"])
    if not path:
        return v
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = v
    return doc


class Files:
    """Topology files good and bad, made once per test in its tmp dir."""

    def __init__(self, tmp, rng):
        self.tmp, self.rng, self.n = tmp, rng, 0
        self.dir = tmp / "a-directory.yaml"
        self.dir.mkdir()
        self.missing = str(tmp / "missing.yaml")

    def _write(self, text, ext=".yaml"):
        self.n += 1
        p = self.tmp / f"f{self.n}{ext}"
        (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
        return str(p)

    def example(self):
        return self.rng.choice(EXAMPLES)

    def truncated(self):
        data = open(self.example(), "rb").read()
        return self._write(data[:self.rng.randrange(len(data))])

    def mutated(self):
        src = self.example()
        doc = yaml.safe_load(open(src))
        for _ in range(self.rng.randint(1, 3)):
            doc = _mutate(doc, self.rng)
        if self.rng.random() < 0.2:
            import json
            return self._write(json.dumps(doc), ".json")
        if not os.path.exists(self.tmp / "keys"):   # key_file paths are relative to the file
            os.symlink(os.path.join(ROOT, "examples", "keys"), self.tmp / "keys")
        return self._write(yaml.safe_dump(doc, sort_keys=False))

    def tweaked(self):
        doc = yaml.safe_load(open(self.example()))
        for _ in range(self.rng.randint(1, 2)):
            doc = _tweak(doc, self.rng)
        if not os.path.exists(self.tmp / "keys"):
            os.symlink(os.path.join(ROOT, "examples", "keys"), self.tmp / "keys")
        return self._write(yaml.safe_dump(doc, sort_keys=False))

    def garbage(self):
        choices = [b"", b"\x00\xff\xfe" * 50, b"null", b"[]", b"name: x", b"name: [", b"{", b"- - - -",
                   b"name: ok\nnamespaces: " + b"[" * 300, b"&a [*a]", b"\t\tname: x",
                   b"name: " + b"[" * 999 + b"]" * 999, b"name: x\ninterfaces: [{name: d, kind: dummy, mtu: "
                   + b"{a: " * 999 + b"1" + b"}" * 999 + b"}]", b'{"name": "x", "interfaces": ' + b"[" * 5000,
                   b"name: x\ninterfaces:\n  - {name: br0, kind: bridge, vlan_filtering: true}\n"
                   b"  - {name: d0, kind: dummy, master: br0, vlans: [{vid: 4095}]}\n",
                   b"a: &a [" + b"*a, " * 50 + b"]\nname: [*a, *a, *a, *a, *a, *a, *a, *a]",
                   bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 400)))]
        return self._write(self.rng.choice(choices), self.rng.choice([".yaml", ".json", ".txt"]))

    def any(self):
        return self.rng.choice([self.example, self.example, self.truncated, self.mutated, self.mutated,
                                self.tweaked, self.tweaked, self.tweaked,
                                self.garbage, lambda: str(self.dir), lambda: self.missing,
                                lambda: "/dev/null", lambda: "/"])()


# ---- random argument lists -------------------------------------------------

NAMES = ["fig10", "fig8", "nope", "NOPE", "../etc", "", "-", "a" * 40, "x/y", "--", "fig10.yaml"]
NETNS = ["net1", "net2", "host", "nope", "", "../x", "a" * 300]
SEC = ["0", "0.5", "-1", "nan", "inf", "abc", "1e400", ""]
JUNK = ["--bogus", "-x", "", "--json=1", "\u2603", "x" * 300, "-", "--", "--help-me", "-oo"]


def _argv(rng, files, tmp):
    def out():
        return rng.choice([f"{tmp}/d{rng.randrange(99)}.{rng.choice(['svg', 'dot', 'md', 'png', 'gv'])}",
                           f"{tmp}/x.pdf", "/nonexistent/x.svg", "/nonexistent/x.dot", str(files.dir) + "/",
                           str(tmp), "-", "/dev/full", "/proc/version.dot", "/sys/x.md", ""])

    target = lambda: rng.choice([files.any, lambda: rng.choice(NAMES)])()   # noqa: E731
    spec = {
        "validate": [files.any, "--json"],
        "plan": [files.any, "--json", "--exit-code"],
        "apply": [files.any, "--json", "--check", "--quiet", ("--lock-timeout", lambda: rng.choice(SEC))],
        "check": [files.any, "--json"],
        "destroy": [target, "--json", "-q", ("--lock-timeout", lambda: rng.choice(SEC))],
        "list": [None, "--json"],
        "show": [target, "--json"],
        "export": [target, "--json", ("--netns", lambda: rng.choice(NETNS)), ("--name", lambda: rng.choice(NAMES))],
        "script": [files.any, "--json"],
        "diagram": [target, "--live", ("--netns", lambda: rng.choice(NETNS)), ("-o", out)],
        "schema": [None],
    }
    weights = {"apply": 4, "plan": 2, "show": 2, "export": 2, "destroy": 2, "diagram": 2}   # the live ones
    cmd = rng.choice([c for c in list(spec) + ["bogus"] for _ in range(weights.get(c, 1))]) \
        if rng.random() < 0.97 else rng.choice(JUNK)
    argv = [cmd]
    positional, *options = spec.get(cmd, [None])
    if positional and rng.random() < 0.9:
        argv.append(positional())
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        r = rng.random()
        opt = rng.choice(options) if options and r < 0.85 else positional if positional and r < 0.9 \
            else rng.choice(JUNK)
        if isinstance(opt, tuple):
            argv += [opt[0]] + ([opt[1]()] if rng.random() < 0.9 else [])
        elif callable(opt):
            argv.append(opt())
        else:
            argv.append(opt)
    return argv


def _slow(argv):
    """A run of real checks takes seconds: rarer than the rest."""
    return argv[0] == "check" or "--check" in argv


def test_random_argument_lists(sandbox, runs, tmp_path):
    # FUZZ_SEED and FUZZ_CASES explore further: `FUZZ_SEED=7 FUZZ_CASES=3000 pytest -k random_argument ...`
    rng = random.Random(int(os.environ.get("FUZZ_SEED", 19)))
    files = Files(tmp_path, rng)
    runs.inproc("apply", FIG10)   # a topology to find by name, namespaces to enter
    slow = 0
    for _ in range(int(os.environ.get("FUZZ_CASES", 420))):
        argv = _argv(rng, files, tmp_path)
        if _slow(argv):
            slow += 1
            if slow > 8:
                continue
        runs.inproc(*argv)
    runs.verdict()


def test_exec_and_tunnel_with_random_arguments(sandbox, runs, tmp_path):
    rng = random.Random(100 * int(os.environ.get("FUZZ_SEED", 19)) + 19)
    runs.inproc("apply", FIG10)
    # commands that succeed, or fail before they run: a command's own exit code is its own
    cmds = [["true"], ["sh", "-c", "echo ran"], ["/nonexistent"], [str(tmp_path)], [], ["--"], [""]]
    for _ in range(20):
        argv = ["exec"] + rng.sample(["net1", "net2", "nope", "", "../x", "--json", "--"], rng.randint(0, 2))
        argv += rng.choice([["--"], []]) + rng.choice(cmds)
        runs.sub(*argv)
    keyf = tmp_path / "key"
    keyf.write_text("00" * 32)
    bad_key = tmp_path / "badkey"
    bad_key.write_text("zz")
    opts = [("--dev", ["t0", "tun-with-a-name-too-long", "", "lo", "veth1"]),
            ("--listen", ["127.0.0.1:5000", "127.0.0.1:99999", "x", "[::1]:5000", "127.0.0.1", ":"]),
            ("--peer", ["127.0.0.1:5001", "127.0.0.1:5000", "10.9.9.9:1", "y", "[::1]:5001"]),
            ("--key-file", [str(keyf), str(bad_key), "/nonexistent", str(tmp_path)]),
            ("--key-env", ["NO_SUCH_VAR", "HOME"]), ("--netns", ["net1", "nope", "../x"]),
            ("--underlay-mtu", ["1500", "0", "-1", "70000", "x"]), ("--nice", ["0", "-30", "x"]),
            ("--stats", [str(tmp_path / "stats"), "/nonexistent/s", str(tmp_path)]),
            ("--pidfile", [str(tmp_path / "pid"), "/nonexistent/p"]),
            ("--tap", None), ("--no-create", None), ("--supervise", None)]
    for i in range(16):
        argv = ["tunnel"]
        required = [o for o in opts[:3] if rng.random() < 0.95]   # mostly a tunnel that can start
        for opt, values in rng.sample(opts[3:], rng.randint(0, 4)) + required:
            argv += [opt] + ([values[0] if rng.random() < 0.5 else rng.choice(values)] if values else [])
        if i % 4 == 0:
            argv = ["tunnel", "--dev", f"t{i}", "--listen", f"127.0.0.1:{5000 + i}", "--peer", "127.0.0.1:4999"]
        runs.sub(*argv, timeout=3, may_run=True)
    runs.verdict()


def test_hostile_files_and_outputs(sandbox, runs, tmp_path):
    d = tmp_path / "dir.yaml"
    d.mkdir()
    runs.inproc("apply", FIG10)
    for f in [str(d), str(tmp_path / "missing.yaml"), "/dev/null", "/", "/proc/self/mem"]:
        for cmd in ("validate", "plan", "apply", "check", "script", "diagram", "show", "export", "destroy"):
            rc, out, err = runs.inproc(cmd, f)
            assert rc != 0, (cmd, f, out)
    # outputs that cannot be written
    for out in ["/nonexistent/x.svg", "/nonexistent/x.dot", "/nonexistent/x.md", str(d) + "/", str(d),
                "/dev/full", "/proc/version.dot", "/sys/x.md", str(tmp_path / "x.pdf"), ""]:
        for target in (FIG10, "fig10", "--live"):
            rc, _out, err = runs.inproc("diagram", target, "-o", out)
            assert rc != 0 and len(err.strip().splitlines()) == 1, (out, target, err)
    for cmd in (["schema"], ["show"], ["export"], ["script", FIG10], ["diagram", FIG10], ["show", "--json"]):
        with open("/dev/full", "w") as full:
            runs.sub(*cmd, stdout=full, how="stdout /dev/full:")
    # stdout closed; a file name that is not UTF-8
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/\xff.yaml")
    with open(odd, "w") as f:
        f.write(open(FIG10).read())
    closed = ("sh", "-c", 'exec "$@" >&-', "sh")
    for cmd in (["validate", odd], ["script", odd], ["diagram", odd], ["show"], ["schema"], ["plan", odd]):
        runs.sub(*cmd)
        rc, _out, _err = runs.sub(*cmd, prefix=closed, how="stdout closed:")
        assert rc == 0
    # the lab's own state directory unusable
    plain = tmp_path / "plain-file"
    plain.write_text("")
    for state in (str(plain), str(plain / "sub"), "/proc/vnet"):
        env = {**ENV, "VNET_STATE_DIR": state}
        for cmd in (["apply", FIG10], ["destroy", "fig10"], ["show", "fig10"], ["plan", FIG10],
                    ["export", FIG10]):
            rc, _out, _err = runs.sub(*cmd, env=env, how=f"VNET_STATE_DIR={state}")
            assert rc != 0
    runs.verdict()


CORRUPT = {
    "not JSON": "{",
    "empty": "",
    "binary": "\udcff",
    "a list": "[]",
    "wrong types": '{"namespaces": "net1", "devices": {}}',
    "a bad device": '{"devices": [{"netns": 1, "name": [], "kind": null}]}',
    "a bad route": '{"routes": [["net1", "default"]]}',
    "a bad sysctl": '{"sysctls": [{"netns": "net1"}]}',
    "a bad group": '{"group": "x"}',
    "a bad version": '{"version": "one"}',
    "deep": "[" * 100000 + "]" * 100000,
}


def test_corrupt_and_foreign_records(sandbox, runs, tmp_path):
    runs.inproc("apply", FIG10)
    path = "/run/vnet/fig10.json"
    good = open(path).read()
    assert '"version": 1' in good
    cases = dict(CORRUPT)
    cases["a newer vnet's"] = good.replace('"version": 1', '"version": 99')
    cases["a directory"] = None
    cases["a namespace named '..'"] = good.replace('"net1"', '".."')
    for what, text in cases.items():
        if os.path.isdir(path):
            os.rmdir(path)
        elif os.path.exists(path):
            os.unlink(path)
        if text is None:
            os.mkdir(path)
        else:
            with open(path, "w", errors="surrogateescape") as f:
                f.write(text)
        for cmd in (["show", "fig10"], ["show", FIG10], ["plan", FIG10], ["apply", FIG10], ["export", "fig10"],
                    ["diagram", "fig10"], ["destroy", "fig10"], ["show", "fig10", "--json"], ["list"],
                    ["list", "--json"]):
            rc, out, err = runs.inproc(*cmd)
            assert rc == 8, (what, cmd, rc, out, err)
            assert "fig10.json" in out + err and ("newer vnet" in out + err) == (what == "a newer vnet's")
    os.unlink(path)
    with open(path, "w") as f:
        f.write(good.replace('"version": 1,\n', ""))   # a record of before the version field: still read
    rc, _out, _err = runs.inproc("destroy", "fig10")
    assert rc == 0
    runs.verdict()


def test_missing_netns_directory_and_half_made_namespace(sandbox, runs, tmp_path):
    # /run/netns missing (subprocesses: the directory is read when vnet is imported)
    os.rmdir("/run/netns")
    for cmd in (["show"], ["show", "fig10"], ["plan", FIG10], ["export"], ["diagram", "--live"],
                ["exec", "net1", "--", "true"], ["destroy", "fig10"]):
        runs.sub(*cmd)
    rc, _out, _err = runs.sub("apply", FIG10)
    assert rc == 0, "apply makes /run/netns when it is missing"
    runs.sub("destroy", "fig10")
    # /run/netns a plain file
    _remove_netns_dir()
    open("/run/netns", "w").close()
    for cmd in (["show"], ["plan", FIG10], ["apply", FIG10], ["export"], ["exec", "net1", "--", "true"]):
        rc, _out, _err = runs.sub(*cmd)
    os.unlink("/run/netns")
    os.mkdir("/run/netns")
    # a half-made namespace: a plain file where a namespace mount should be
    open("/run/netns/net1", "w").close()
    for cmd in (["show"], ["show", FIG10], ["plan", FIG10], ["apply", FIG10], ["export"], ["diagram", "--live"],
                ["exec", "net1", "--", "true"], ["check", FIG10], ["destroy", "fig10"]):
        runs.sub(*cmd)
    runs.verdict()


def _remove_netns_dir():
    """/run/netns gone: its namespaces unmounted, and itself (vnet made it a shared mount)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for n in os.listdir("/run/netns"):
        libc.umount2(f"/run/netns/{n}".encode(), 2)
    while libc.umount2(b"/run/netns", 2) == 0:
        pass
    import shutil
    shutil.rmtree("/run/netns")


def _can_run_as(prefix):
    r = subprocess.run([*prefix, sys.executable, "-c", "import vnet.cli"], env=ENV, capture_output=True)
    return r.returncode == 0


def test_without_privileges(sandbox, runs):
    runs.inproc("apply", FIG10)
    pub = Path("/run/fuzz")   # the sandbox's own /run: where nobody may look (pytest's tmp is root's alone)
    pub.mkdir(mode=0o755)
    unreadable = pub / "unreadable.yaml"
    unreadable.write_text(open(FIG10).read())
    unreadable.chmod(0)
    os.chown(unreadable, 65534, 65534)
    out = pub / "out"
    out.mkdir(mode=0o500)
    os.chown(out, 65534, 65534)
    cmds = [["apply", FIG10], ["destroy", "fig10"], ["destroy", FIG10], ["plan", FIG10], ["show", FIG10],
            ["show", "fig10"], ["show"], ["export", FIG10], ["export", "fig10"], ["export"], ["diagram", "fig10"],
            ["diagram", "--live"], ["diagram", FIG10, "-o", str(out / "x.svg")], ["exec", "net1", "--", "true"],
            ["check", FIG10], ["apply", "--json", FIG10], ["show", "--json"],
            ["tunnel", "--dev", "t0", "--listen", "127.0.0.1:5000", "--peer", "127.0.0.1:5001"],
            ["tunnel", "--dev", "t0", "--listen", "127.0.0.1:5000", "--peer", "127.0.0.1:5001", "--netns", "net1"],
            ["validate", str(unreadable)], ["plan", str(unreadable)], ["apply", str(unreadable)], ["list"],
            ["list", "--json"], ["plan", "--exit-code", FIG10]]
    who = [("without capabilities", NO_CAPS)]
    if _can_run_as(NOBODY):   # the interpreter may live where nobody cannot reach it
        who.append(("as nobody", NOBODY))
    for how, prefix in who:
        for cmd in cmds:
            rc, o, e = runs.sub(*cmd, prefix=prefix, how=how, timeout=10)
            if cmd[0] in ("apply", "destroy", "check") and "unreadable" not in cmd[-1] or cmd[0] == "exec" \
                    or cmd[:2] in (["show", "fig10"], ["export", FIG10], ["show"]):
                assert rc == 3 and len((o + e).strip().splitlines()) == 1 and "root" in o + e, (how, cmd, o, e)
            if "unreadable" in cmd[-1]:
                assert rc == 2 and "Permission denied" in e, (how, cmd, e)
            if cmd[0] == "list" or "--exit-code" in cmd:   # the health, the plan: observed in namespaces
                assert rc == (3 if cmd[0] == "list" else 1) and "root" in e, (how, cmd, o, e)
    # a state directory it cannot write, and a file big enough to be cached there
    os.chmod("/run/vnet", 0o555)
    big = pub / "big.yaml"
    big.write_text("name: big\ninterfaces:\n" + "".join(f"  - {{name: d{i}, kind: dummy}}\n" for i in range(1500)))
    assert big.stat().st_size > 32 << 10
    for how, prefix in who:
        for cmd in (["validate", big], ["plan", big], ["show", "fig10"], ["show", big], ["destroy", "big"]):
            rc, o, e = runs.sub(*cmd, prefix=prefix, how=how + ", /run/vnet read-only")
            assert rc == (0 if cmd[0] in ("validate", "plan") else 1 if cmd[1] == big else 3), (how, cmd, o, e)
    os.chmod("/run/vnet", 0o755)
    assert os.path.exists("/run/netns/net1"), "an unprivileged run changed nothing"
    runs.verdict()


def test_a_topology_not_applied_is_said_so(sandbox, runs):
    """show, export and diagram of a topology without a record: an error
    naming it (export printed `interfaces: []` and exited 0)."""
    for cmd in (["show", FIG10], ["export", FIG10], ["diagram", FIG10, "--live"], ["show", FIG10, "--json"]):
        rc, out, err = runs.inproc(*cmd)
        assert rc == 1 and "topology 'fig10'" in out + err and "is not applied" in out + err, (cmd, out, err)
        assert "interfaces" not in out
    for cmd in (["show", "fig10"], ["export", "fig10"], ["diagram", "fig10"]):
        rc, out, err = runs.inproc(*cmd)
        assert rc == 1 and err.splitlines() == [f"vnet {cmd[0]}: no topology 'fig10': not a file, and no record "
                                                "of that name in /run/vnet/fig10.json"], (cmd, err)
    runs.inproc("apply", FIG10)
    rc, out, _err = runs.inproc("export", FIG10)
    assert rc == 0 and "veth1" in out
    runs.verdict()
