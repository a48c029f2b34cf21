"""The command line's error paths that need no kernel: a bug is one line
(exit 70) and a traceback only with VNET_DEBUG=1, usage errors exit 1 as the
README says, the README's exit codes are the code's, an output that cannot
be written is one line, and `import vnet.cli` stays light."""
import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vnet import cli
from vnet.cli import reading, report
from vnet.errors import EXIT_CODES

ROOT = Path(__file__).resolve().parents[2]
FIG10 = str(ROOT / "examples" / "fig10-bridge.yaml")


def run(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _bug(_args):
    return {}["a key that is not there"]


def test_a_bug_is_one_line_and_exit_70(capsys, monkeypatch):
    monkeypatch.delenv("VNET_DEBUG", raising=False)
    monkeypatch.setattr(reading, "cmd_schema", _bug)
    rc, out, err = run(capsys, "schema")
    assert rc == 70 == max(c for c in EXIT_CODES if c < 100)
    assert err.splitlines() == ["vnet schema: internal error: KeyError: 'a key that is not there' "
                                "(set VNET_DEBUG=1 for the traceback)"]
    assert "Traceback" not in out + err


def test_vnet_debug_shows_the_traceback_of_a_bug(capsys, monkeypatch):
    monkeypatch.setenv("VNET_DEBUG", "1")
    monkeypatch.setattr(reading, "cmd_schema", _bug)
    rc, _out, err = run(capsys, "schema")
    assert rc == 70
    assert err.startswith("Traceback (most recent call last):") and "in _bug" in err
    assert err.rstrip().splitlines()[-1].startswith("vnet schema: internal error: KeyError")


def test_a_long_bug_message_stays_one_short_line(capsys, monkeypatch):
    def bug(_args):
        raise RuntimeError("x\n" * 100000)
    monkeypatch.delenv("VNET_DEBUG", raising=False)
    monkeypatch.setattr(reading, "cmd_schema", bug)
    rc, _out, err = run(capsys, "schema")
    assert rc == 70 and len(err.splitlines()) == 1 and len(err) < 500


@pytest.mark.parametrize("argv", [[], ["bogus"], ["plan"], ["apply", "--lock-timeout", "x", FIG10],
                                  ["tunnel", "--dev", "t0"], ["show", "a", "b"], ["--bogus"]])
def test_usage_errors_exit_1(capsys, argv):
    rc, _out, err = run(capsys, *argv)
    assert rc == 1 and "usage:" in err and "error:" in err


def test_help_exits_0(capsys):
    rc, out, _err = run(capsys, "--help")
    assert rc == 0 and "exit codes:" in out


def test_readme_exit_codes_are_the_codes():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    codes = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert codes == set(EXIT_CODES)


@pytest.mark.parametrize("out", ["/nonexistent/x.svg", "/nonexistent/x.dot", "/nonexistent/x.md"])
def test_diagram_to_an_unwritable_place_is_one_line(capsys, out):
    rc, _out, err = run(capsys, "diagram", FIG10, "-o", out)
    assert rc == 1
    assert err.splitlines() == [f"vnet diagram: cannot write {out}: No such file or directory"]


def test_diagram_to_a_directory_is_one_line(capsys, tmp_path):
    (tmp_path / "d.dot").mkdir()
    rc, _out, err = run(capsys, "diagram", FIG10, "-o", str(tmp_path / "d.dot"))
    assert rc == 1 and err.splitlines() == [f"vnet diagram: cannot write {tmp_path / 'd.dot'}: Is a directory"]


def test_not_permitted_says_root_once(capsys, monkeypatch):
    def refused(_args):
        raise PermissionError(errno.EPERM, "setns: Operation not permitted")
    monkeypatch.setattr(reading, "cmd_schema", refused)
    monkeypatch.setattr(report, "privileged", lambda: False)
    rc, _out, err = run(capsys, "schema")
    assert rc == 3
    assert err.splitlines() == ["vnet schema: setns: Operation not permitted: vnet needs root "
                                "(CAP_NET_ADMIN and CAP_SYS_ADMIN) for this"]


@pytest.mark.parametrize("cmd", ["apply", "check"])
def test_apply_and_check_refuse_up_front_without_privilege(capsys, monkeypatch, cmd):
    monkeypatch.setattr(report, "privileged", lambda: False)
    rc, _out, err = run(capsys, cmd, FIG10)
    assert rc == 3 and err.splitlines() == ["vnet " + cmd + ": Operation not permitted: vnet needs root "
                                            "(CAP_NET_ADMIN and CAP_SYS_ADMIN) for this"]


def test_a_bad_file_is_said_before_the_privilege(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(report, "privileged", lambda: False)
    rc, _out, _err = run(capsys, "apply", str(tmp_path))
    assert rc == 2


def test_a_full_stdout_is_one_line():
    r = subprocess.run([sys.executable, "-m", "vnet", "script", FIG10], stdout=open("/dev/full", "w"),
                       stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["vnet script: cannot write the output: No space left on device"]


def test_import_vnet_cli_is_light():
    code = ("import sys, time; t = time.perf_counter(); import vnet.cli; "
            "print(time.perf_counter() - t); print(' '.join(sorted(sys.modules)))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    seconds, modules = r.stdout.splitlines()
    heavy = {"yaml", "pydantic", "graphviz", "cryptography", "ctypes", "vnet.topology", "vnet.topofile", "vnet.kernel"}
    assert not heavy & set(modules.split())
    assert float(seconds) < 1.0   # about 0.04 s; generous for a loaded machine


@pytest.mark.parametrize("argv, said", [
    (["apply", "--lock-timeout", "nan", FIG10], "--lock-timeout: 'nan': give a number of seconds, 0 or more"),
    (["destroy", "--lock-timeout", "-1", "x"], "--lock-timeout: '-1': give a number of seconds, 0 or more"),
    (["tunnel", "--dev", "t", "--listen", "1.2.3.4:1", "--peer", "1.2.3.4:2", "--underlay-mtu", "0"],
     "--underlay-mtu: '0': an MTU is 68..65535"),
    (["tunnel", "--dev", "t", "--listen", "1.2.3.4:1", "--peer", "1.2.3.4:2", "--nice", "x"],
     "--nice: 'x': a nice value is -20..19"),
    (["export", "--name", "Not A Name"], "--name: 'Not A Name': a topology name is 1-32 of a-z, 0-9, '-'"),
])
def test_option_values_are_checked_as_usage(capsys, argv, said):
    rc, _out, err = run(capsys, *argv)
    assert rc == 1 and err.rstrip().endswith(said)


@pytest.mark.parametrize("argv, said", [
    (["tunnel", "--dev", "", "--listen", "1.2.3.4:1", "--peer", "1.2.3.4:2"], "argument --dev: '': an interface name"),
    (["tunnel", "--dev", "tun-with-a-long-name", "--listen", "1.2.3.4:1", "--peer", "1.2.3.4:2"],
     "argument --dev: 'tun-with-a-long-name': an interface name is 1-15 bytes"),
    (["tunnel", "--dev", "\u00e9" * 8, "--listen", "1.2.3.4:1", "--peer", "1.2.3.4:2"], "1-15 bytes"),
    (["tunnel", "--dev", "t0", "--netns", "a/b", "--listen", "1.2.3.4:1", "--peer", "1.2.3.4:2"],
     "argument --netns: 'a/b': not a namespace name"),
    (["exec", "..", "--", "true"], "argument NS: '..': not a namespace name"),
    (["exec", "", "true"], "argument NS: '': not a namespace name"),
])
def test_device_and_namespace_names_are_checked_as_usage(capsys, argv, said):
    rc, _out, err = run(capsys, *argv)
    assert rc == 1 and said in err, err


@pytest.mark.parametrize("argv", [["exec", "n1"], ["exec", "n1", "--"], ["exec", "n1", ""], ["exec", "n1", "--", ""]])
def test_exec_without_a_command(capsys, argv):
    rc, _out, err = run(capsys, *argv)
    assert rc == 1 and err.splitlines() == ["vnet exec: exec: no command given (vnet exec NS -- CMD ...)"]
