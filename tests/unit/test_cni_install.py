"""`vnet cni install`: the executable names this Python and this vnet, or
with --python and --package-dir the paths another system (a node's host,
written from an installer's container) sees; it runs as the plugin."""
import json
import os
import subprocess
import sys
from pathlib import Path

from vnet import cli
from vnet.cni import install

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_the_default_names_this_python_and_this_vnet(tmp_path):
    path = install.install(str(tmp_path / "bin"))
    text = Path(path).read_text()
    assert text.startswith(f"#!{os.path.abspath(sys.executable)} -IS\n")
    assert f"sys.path[:0] = [{SRC!r}]" in text
    assert os.stat(path).st_mode & 0o777 == 0o755


def test_python_and_package_dir_are_written_as_given(tmp_path, capsys):
    rc = cli.main(["cni", "install", "--dir", str(tmp_path), "--python", "/opt/vnet/v1/bin/python3.11",
                   "--package-dir", "/opt/vnet/v1/lib/python3.11/site-packages"])
    assert rc == 0 and "installed the CNI plugin 'vnet' as" in capsys.readouterr().out
    text = (tmp_path / "vnet").read_text()
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
