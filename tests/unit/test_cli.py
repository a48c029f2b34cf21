"""The command line's promises that need no root: --version, help for every
command and argument, the kinds listed from the registry, --json where the
README says, plan --exit-code on a bad file, `vnet list` with nothing applied
or without root, shell completion, the progress of a long apply, and plan
messages in the file's own notation."""
import argparse
import importlib.metadata
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vnet
from vnet import cli
from vnet.cli import output, parser, report
from vnet.kinds import REGISTRY
from vnet.planner import _show
from vnet.render.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
FIG10 = str(ROOT / "examples" / "fig10-bridge.yaml")
README = (ROOT / "README.md").read_text()
KINDS = [k.name for k in REGISTRY if k.creatable]
NO_JSON = {"exec", "tunnel", "diagram", "cni"}


def run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def subcommands():
    p = parser.build()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def vnet_cmd(*argv, env=None):
    return subprocess.run([sys.executable, "-m", "vnet", *argv], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})})


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as e:   # argparse's version action ends the parse
        parser.build().parse_args(["--version"])
    assert e.value.code == 0
    capsys.readouterr()
    rc, out, _err = run(capsys, "--version")
    assert rc == 0 and out == f"vnet {vnet.__version__}\n"
    assert importlib.metadata.version("vnet") == vnet.__version__   # pyproject takes it from vnet.__version__


def test_every_command_and_argument_has_help():
    for name, parser in subcommands().items():
        assert parser.description, f"vnet {name} has no description"
        for a in parser._actions:
            assert a.help, f"vnet {name}: {a.dest} has no help"
    r = vnet_cmd("--help")
    for name in subcommands():
        assert re.search(rf"^    {name} +\S", r.stdout, re.M), f"vnet --help: {name} has no line of help"


@pytest.mark.parametrize("cmd", ["schema", "exec", "list", "plan"])
def test_help_of_a_command_says_what_it_does(cmd):
    r = vnet_cmd(cmd, "--help")
    assert r.returncode == 0
    assert subcommands()[cmd].description.split()[0] in r.stdout


def test_help_and_package_description_list_every_kind():
    out = " ".join(vnet_cmd("--help").stdout.split())
    meta = importlib.metadata.metadata("vnet")["Summary"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    for kind in KINDS:
        assert re.search(rf"\b{kind}\b", out), f"vnet --help does not list {kind}"
        assert re.search(rf"\b{kind}\b", pyproject.split("description = ")[1].splitlines()[0]), \
            f"pyproject's description does not list {kind}"
    assert meta == re.search(r'^description = "(.*)"$', pyproject, re.M).group(1)


def test_json_is_taken_by_every_command_the_readme_says():
    assert "Every command but `exec`, `tunnel`, `cni` and `diagram` takes `--json`" in README
    for name, parser in subcommands().items():
        takes = any("--json" in a.option_strings for a in parser._actions)
        assert takes == (name not in NO_JSON), name


def test_schema_json_is_the_schema(capsys):
    rc, out, _ = run(capsys, "schema", "--json")
    rc2, out2, _ = run(capsys, "schema")
    assert rc == rc2 == 0 and out == out2 and json.loads(out)["type"] == "object"


@pytest.mark.parametrize("argv", [["exec"], ["plan", "--exit-code"], ["list", "extra"], ["destroy"],
                                  ["diagram", "--json"], ["exec", "--json"]])
def test_more_usage_errors_exit_1(capsys, argv):
    rc, _out, err = run(capsys, *argv)
    assert rc == 1 and "usage:" in err


def test_plan_exit_code_of_an_invalid_file_is_1(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\n")
    rc, _out, err = run(capsys, "plan", "--exit-code", str(bad))
    assert rc == 1 and "bad.yaml" in err
    rc, _out, _err = run(capsys, "plan", str(bad))
    assert rc == 2   # without --exit-code: an invalid file, as everywhere
    rc, out, _err = run(capsys, "plan", "--exit-code", "--json", str(tmp_path / "missing.yaml"))
    assert rc == 1 and json.loads(out)["error"] == "SpecError"


def test_list_with_nothing_applied(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("VNET_STATE_DIR", str(tmp_path / "none"))
    rc, out, err = run(capsys, "list")
    assert (rc, out, err) == (0, "", "no topology applied\n")
    rc, out, err = run(capsys, "list", "--json")
    assert rc == 0 and json.loads(out) == {"topologies": []}


def test_list_without_root_says_what_it_knows_then_needs_root(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("VNET_STATE_DIR", str(tmp_path))
    (tmp_path / "lab1.json").write_text(json.dumps({
        "version": 1, "name": "lab1", "source": "/x/lab1.yaml", "namespaces": ["n1"],
        "devices": [{"netns": "n1", "name": "eth0", "kind": "veth"}, {"netns": None, "name": "br0", "kind": "bridge"}]}))
    monkeypatch.setattr(report, "privileged", lambda: False)
    rc, out, err = run(capsys, "list")
    assert rc == 3 and err == "vnet list: the health is unknown: vnet needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) for this\n"
    assert out.splitlines()[1].split() == ["lab1", "/x/lab1.yaml", "1", "2", "unknown"]
    rc, out, err = run(capsys, "list", "--json")
    assert rc == 3 and json.loads(out)["topologies"][0]["health"]["status"] == "unknown"   # one JSON document


def test_list_of_a_corrupt_record_lists_the_others(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("VNET_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(report, "privileged", lambda: False)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "good.json").write_text(json.dumps({"name": "good", "namespaces": ["n1"]}))
    rc, out, err = run(capsys, "list")
    assert rc == 8 and [ln.split()[0] for ln in out.splitlines()[1:]] == ["bad", "good"]
    assert out.splitlines()[1].split()[-1] == "unreadable" and str(tmp_path / "bad.json") in err


def completions(line, state_dir):
    """What the shell would offer for ``line`` (argcomplete's protocol)."""
    out = state_dir / "completions"
    r = vnet_cmd(env={"_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
                      "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "_ARGCOMPLETE_IFS": "\n",
                      "VNET_STATE_DIR": str(state_dir)})
    assert r.returncode == 0, r.stderr
    return [c.strip() for c in out.read_text().split("\n")]


def test_completion_of_commands_and_topology_names(tmp_path):
    (tmp_path / "lab1.json").write_text('{"name": "lab1"}')
    (tmp_path / "lab2.json").write_text('{"name": "lab2"}')
    assert "list" in completions("vnet li", tmp_path)
    assert completions("vnet destroy la", tmp_path)[:2] == ["lab1", "lab2"]
    assert completions("vnet show lab", tmp_path)[:2] == ["lab1", "lab2"]
    assert "host" in completions("vnet exec h", tmp_path)


def test_completion_in_bash_as_the_readme_enables_it(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "lab7.json").write_text('{"name": "lab7"}')
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "lab.yaml").write_text("name: lab7\n")
    (tmp_path / "work" / "labnotes.txt").write_text("")
    bindir = Path(sys.executable).parent   # the venv's: vnet and register-python-argcomplete (setup.sh)
    script = ('eval "$(register-python-argcomplete vnet)"; COMP_LINE="vnet destroy la"; COMP_POINT=${#COMP_LINE}; '
              'COMP_WORDS=(vnet destroy la); COMP_CWORD=2; '
              '$(complete -p vnet | grep -o -- "-F [^ ]*" | cut -d" " -f2) vnet la destroy; echo "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path / "work",
                       env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}",
                            "VNET_STATE_DIR": str(tmp_path / "state")})
    assert r.stdout.split() == ["lab7", "lab.yaml"], r.stderr   # the applied topology, then topology files


def test_vnet_works_without_argcomplete(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "argcomplete", None)   # not installed: import fails
    monkeypatch.setenv("_ARGCOMPLETE", "1")
    rc, out, _err = run(capsys, "--version")
    assert rc == 0 and out.startswith("vnet ")


def test_progress_waits_a_second_then_a_line_every_few_seconds():
    now = [0.0]
    out, err = io.StringIO(), io.StringIO()
    p = Progress("applying", 1200, out=out, err=err, clock=lambda: now[0])
    p.after = 1.0
    for i in range(1200):
        now[0] = i * 0.01          # 12 s in all
        p.step(f"  change {i}")
    p.finish()
    lines = err.getvalue().splitlines()
    assert lines[0] == "applying: 101/1200 changes"       # the first past one second
    assert lines[-1] == "applying: 1200/1200 changes"     # the end, said once
    assert len(lines) == 4 and len(out.getvalue().splitlines()) == 1200


def test_a_quick_apply_shows_no_progress():
    err = io.StringIO()
    p = Progress("applying", 3, out=io.StringIO(), err=err, clock=lambda: 0.5)
    p.after = 1.0
    for _ in range(3):
        p.step()
    p.finish()
    assert err.getvalue() == ""


def test_progress_on_a_terminal_is_one_line_rewritten():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    now, err = [0.0], Tty()
    p = Progress("destroying", unit="removed", out=io.StringIO(), err=err, clock=lambda: now[0])
    p.after = 1.0
    for i in range(30):
        now[0] = 0.9 + i * 0.2
        p.step()
    p.finish()
    text = err.getvalue()
    assert "\n" not in text and "\r\033[Kdestroying: 30 removed" in text and text.endswith("\r\033[K")


@pytest.mark.parametrize("value, said", [(True, "true"), (False, "false"), (None, "none"),
                                         ({"an": 1, "key_id": "01"}, "{an: 1, key_id: 01}"),
                                         ([1, True], "[1, true]"), (("net1", "eth0"), "net1/eth0")])
def test_plan_values_in_the_files_notation(value, said):
    assert _show(value) == said


def test_one_change_is_singular():
    assert output.count(1, "change") == "1 change" and output.count(2, "change") == "2 changes"
    assert output.count(0, "namespace") == "0 namespaces"


def test_validate_counts_in_english(capsys, tmp_path):
    f = tmp_path / "one.yaml"
    f.write_text("name: one\nnamespaces: [n1]\ninterfaces: [{name: d0, kind: dummy, netns: n1}]\n")
    rc, out, _err = run(capsys, "validate", str(f))
    assert rc == 0 and out == f"{f}: valid topology 'one': 1 device, 1 namespace\n"


def test_a_short_command_collects_no_garbage_and_gives_the_collector_back(capsys, tmp_path, monkeypatch):
    """A one-shot command runs without the cycle collector (its passes over
    a big lab's objects cost it 5%); main() called inside a longer process
    (a test, a script) leaves the collector as it found it, even when the
    command fails."""
    import gc
    seen = []
    f = tmp_path / "one.yaml"
    f.write_text("name: one\ninterfaces: [{name: d0, kind: dummy}]\n")
    import vnet.cli.reading as reading
    real = reading.cmd_validate
    monkeypatch.setattr(reading, "cmd_validate", lambda args: seen.append(gc.isenabled()) or real(args))
    assert gc.isenabled()
    assert run(capsys, "validate", str(f))[0] == 0
    assert seen == [False] and gc.isenabled()
    f.write_text("name: one\ninterfaces: [{name: d0, kind: nosuchkind}]\n")
    assert run(capsys, "validate", str(f))[0] == 2
    assert seen == [False, False] and gc.isenabled()


def test_the_program_ends_a_one_shot_command_with_its_output_whole_and_its_exit_code(tmp_path):
    """`vnet` ends a one-shot command without Python's teardown: what it
    printed (a schema of tens of kilobytes into a pipe, a problem on stderr)
    arrives whole, with the command's exit code; an atexit hook, teardown's
    part, does not run (a command's work is done by then)."""
    hook = tmp_path / "hook.py"
    hook.write_text("import atexit, sys\natexit.register(lambda: sys.stderr.write('TEARDOWN\\n'))\n"
                    "from vnet.cli import entry\nsys.exit(entry())\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, str(hook), "schema"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["properties"]["interfaces"] and "TEARDOWN" not in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: one\ninterfaces: [{name: d0, kind: nosuchkind}]\n")
    r = subprocess.run([sys.executable, "-m", "vnet", "validate", str(bad)], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "nosuchkind" in r.stderr and r.stderr.endswith("\n")
    r = subprocess.run([sys.executable, str(hook), "--version"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "TEARDOWN" in r.stderr   # not a command that ran: the usual end
    after = tmp_path / "after.py"   # a one-shot command run in-process before says nothing of the next
    after.write_text("import io, sys, contextlib\nfrom vnet.cli import entry, main\n"
                     "with contextlib.redirect_stdout(io.StringIO()):\n    main(['schema'])\n"
                     "sys.argv = ['vnet', '--version']\nentry()\nprint('STILL HERE')\n")
    r = subprocess.run([sys.executable, str(after)], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "STILL HERE" in r.stdout, r.stderr
