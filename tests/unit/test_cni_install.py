"""`vnet cni install`: the executable names this Python and this vnet, or
with --python and --package-dir the paths another system (a node's host,
written from an installer's container) sees; it runs as the plugin. With
a C compiler (scripts/setup.sh installs gcc) the executable is the fast
path compiled and the script is beside it; --no-compile: the script alone."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vnet import cli
from vnet.cni import install

SRC = str(Path(__file__).resolve().parents[2] / "src")


def script_of(directory):
    """The Python plugin an install wrote into ``directory``: the executable
    itself, or the script beside the compiled one."""
    exe = Path(directory) / "vnet"
    return exe if exe.read_bytes()[:2] == b"#!" else Path(directory) / install.FALLBACK


def test_the_default_names_this_python_and_this_vnet(tmp_path):
    path = install.install(str(tmp_path / "bin"))
    text = script_of(tmp_path / "bin").read_text()
    assert text.startswith(f"#!{os.path.abspath(sys.executable)} -IS\n")
    assert f"sys.path[:0] = [{SRC!r}]" in text
    assert os.stat(path).st_mode & 0o777 == 0o755


def test_python_and_package_dir_are_written_as_given(tmp_path, capsys):
    rc = cli.main(["cni", "install", "--dir", str(tmp_path), "--python", "/opt/vnet/v1/bin/python3.11",
                   "--package-dir", "/opt/vnet/v1/lib/python3.11/site-packages"])
    assert rc == 0 and "installed the CNI plugin 'vnet' as" in capsys.readouterr().out
    text = script_of(tmp_path).read_text()
    assert text.splitlines()[0] == "#!/opt/vnet/v1/bin/python3.11 -IS"
    assert "sys.path[:0] = ['/opt/vnet/v1/lib/python3.11/site-packages']" in text
    # another interpreter's site directories are not this one's
    assert "sys.path[1:1] = []" in text and SRC not in text


def test_relative_paths_are_refused_and_nothing_is_written(tmp_path, capsys):
    for opt in ("--python", "--package-dir"):
        rc = cli.main(["cni", "install", "--dir", str(tmp_path / "bin"), opt, "bin/python3"])
        assert rc != 0
        assert "'bin/python3': expected an absolute path" in capsys.readouterr().err
    assert not (tmp_path / "bin").exists()


def test_the_written_executable_answers_version(tmp_path):
    path = install.install(str(tmp_path), python=os.path.abspath(sys.executable), package_dir=SRC)
    out = subprocess.run([path], input="{}", capture_output=True, text=True, env={"CNI_COMMAND": "VERSION", "VNET_CNI_SERVER": "0"},
                         check=True).stdout
    assert "1.1.0" in json.loads(out)["supportedVersions"]


def test_with_a_compiler_the_executable_is_compiled_and_hands_over_or_runs_the_script(tmp_path, capsys):
    """The compiled executable: without CNI_COMMAND it is the `vnet` command,
    with VNET_CNI_SERVER=0 or no server to talk to it runs the script
    beside it (which answers); the same build id names the server in both."""
    assert shutil.which("cc"), "no C compiler (scripts/setup.sh installs gcc)"
    assert cli.main(["cni", "install", "--dir", str(tmp_path)]) == 0
    assert "compiled, the Python plugin beside it" in capsys.readouterr().out
    exe = tmp_path / "vnet"
    assert exe.read_bytes()[:4] == b"\x7fELF" and os.stat(exe).st_mode & 0o777 == 0o755
    build = script_of(tmp_path).read_text().split("run(")[1].split(")")[0].strip("'")
    assert build.encode() in exe.read_bytes()
    env = {"VNET_STATE_DIR": str(tmp_path / "state")}
    assert subprocess.run([exe, "--version"], capture_output=True, text=True, env=env, check=True).stdout.strip()
    for extra in ({"VNET_CNI_SERVER": "0"}, {"VNET_CNI_SERVER": "0", "VNET_STATE_DIR": "/nonexistent"}):
        out = subprocess.run([exe], input="{}", capture_output=True, text=True, check=True,
                             env={**env, "CNI_COMMAND": "VERSION", **extra}).stdout
        assert "1.1.0" in json.loads(out)["supportedVersions"]


def test_no_compile_writes_the_script_alone(tmp_path, capsys):
    assert cli.main(["cni", "install", "--dir", str(tmp_path), "--no-compile"]) == 0
    assert "a Python script" in capsys.readouterr().out
    assert (tmp_path / "vnet").read_text().startswith("#!") and not (tmp_path / install.FALLBACK).exists()


def test_without_the_script_beside_it_the_compiled_executable_says_so_as_an_error_object(tmp_path):
    if install.install(str(tmp_path)) and (tmp_path / "vnet").read_bytes()[:2] == b"#!":
        pytest.fail("no C compiler (scripts/setup.sh installs gcc)")
    os.unlink(tmp_path / install.FALLBACK)
    r = subprocess.run([tmp_path / "vnet"], input="{}", capture_output=True, text=True,
                       env={"CNI_COMMAND": "VERSION", "VNET_CNI_SERVER": "0"})
    assert r.returncode == 1
    err = json.loads(r.stdout)
    assert err["code"] == 999 and ".vnet-python" in err["msg"] and "No such file" in err["msg"]


def test_the_compiled_executable_hands_over_its_environment_and_fds_as_the_server_reads_them(tmp_path):
    """Against a stand-in for the warm vnet on the socket the executable
    names: the request parsed by the server's own reader (every variable
    intact, one ending in a newline too; stdin, stdout and stderr passed),
    and the status answered is the executable's exit status."""
    import socket
    import threading
    from vnet.cni import server
    install.install(str(tmp_path / "bin"))
    assert (tmp_path / "bin/vnet").read_bytes()[:4] == b"\x7fELF", "no C compiler (scripts/setup.sh installs gcc)"
    build = script_of(tmp_path / "bin").read_text().split("run(")[1].split(")")[0].strip("'")
    state = tmp_path / "state"
    state.mkdir()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(state / f"cni-{build}.sock"))
    listener.listen(1)
    got = {}

    def serve():
        conn, _ = listener.accept()
        env, fds = server._read_request(conn, socket)
        got["env"] = env
        got["stdin"] = os.read(fds[0], 100)
        os.write(fds[1], b"from the server\n")
        for fd in fds:
            os.close(fd)
        conn.sendall((7).to_bytes(4, "little", signed=True))
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    env = {"CNI_COMMAND": "DEL", "VNET_STATE_DIR": str(state), "ENDS_IN_A_NEWLINE": "a\n", "NEXT": "b=c", "EMPTY": ""}
    r = subprocess.run([tmp_path / "bin/vnet"], input=b"the config", capture_output=True, env=env, timeout=10)
    t.join(10)
    listener.close()
    assert r.returncode == 7 and r.stdout == b"from the server\n"
    ident = got["env"].pop("\0ident")
    assert ident == "%d:%d" % (os.stat("/proc/self/ns/net").st_ino, os.stat("/proc/self/ns/mnt").st_ino)
    assert got["env"] == env and got["stdin"] == b"the config"
