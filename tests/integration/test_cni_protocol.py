"""The CNI runtime (cniruntime) does what the spec 1.1.0 says a runtime
does, seen from a plugin's side: a recording plugin writes down the
environment and stdin of each exec and answers as a plugin would, so the
order of the execs, the request configurations (name, cniVersion,
runtimeConfig, prevResult; no capabilities) and the result cache can be
checked exactly. The reference plugins' side is test_cni_runtime.py."""
import json
import os
import sys

import pytest

from cniruntime import PluginError, PluginNotFound, Runtime, run_plugin, select_version

RECORDER = """#!{python}
import json, os, sys
conf = json.load(sys.stdin)
env = {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}
cmd = env["CNI_COMMAND"]
with open(conf.get("log") or os.environ["RECORDER_LOG"], "a") as f:
    f.write(json.dumps({{"env": env, "conf": conf}}) + "\\n")
if conf.get("failOn") == cmd:
    print("the plugin's own log line", file=sys.stderr)
    print(json.dumps({{"cniVersion": conf["cniVersion"], "code": 111, "msg": "asked to fail", "details": conf["tag"]}}))
    sys.exit(3)
if cmd == "ADD":
    res = conf.get("prevResult") or {{"cniVersion": conf["cniVersion"], "interfaces": [], "ips": []}}
    res["interfaces"].append({{"name": conf["tag"], "sandbox": env["CNI_NETNS"]}})
    print(json.dumps(res))
if cmd == "VERSION":
    print(json.dumps({{"cniVersion": conf["cniVersion"], "supportedVersions": ["1.0.0", "1.1.0"]}}))
"""


@pytest.fixture
def rec(tmp_path):
    """(cni_path, read_log): a recording plugin `recorder` in a CNI_PATH of
    its own, ahead of a directory that has no plugins."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "recorder").write_text(RECORDER.format(python=sys.executable))
    (bindir / "recorder").chmod(0o755)
    log = tmp_path / "log"

    def read():
        lines = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return [json.loads(ln) for ln in lines]
    return [str(tmp_path / "empty"), str(bindir)], read, str(log)


def conflist(log, version="1.1.0", **extra):
    return {"cniVersion": version, "name": "recnet", **extra, "plugins": [
        {"type": "recorder", "tag": "a", "log": log, "capabilities": {"mac": True}},
        {"type": "recorder", "tag": "b", "log": log, "capabilities": {"portMappings": False}}]}


def attach(rt, **kw):
    return rt.add("ctr-1", "/run/netns/ctr-1", "eth0", **kw)


def test_add_runs_each_plugin_in_order_with_the_previous_result(rec, tmp_path):
    path, read, log = rec
    rt = Runtime(conflist(log), path, tmp_path / "cache")
    result = attach(rt, capability_args={"mac": "02:00:00:00:00:01", "portMappings": [1]},
                    cni_args={"K8S_POD_NAME": "p", "IgnoreUnknown": "true"})
    a, b = read()
    assert [a["conf"]["tag"], b["conf"]["tag"]] == ["a", "b"]
    assert a["env"] == {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "ctr-1", "CNI_NETNS": "/run/netns/ctr-1",
                        "CNI_IFNAME": "eth0", "CNI_ARGS": "K8S_POD_NAME=p;IgnoreUnknown=true",
                        "CNI_PATH": os.pathsep.join(path)}
    assert "prevResult" not in a["conf"] and "capabilities" not in a["conf"]
    assert a["conf"]["name"] == "recnet" and a["conf"]["cniVersion"] == "1.1.0"
    # only what the plugin declares (and declares true) reaches its runtimeConfig
    assert a["conf"]["runtimeConfig"] == {"mac": "02:00:00:00:00:01"} and b["conf"]["runtimeConfig"] == {}
    assert b["conf"]["prevResult"]["interfaces"] == [{"name": "a", "sandbox": "/run/netns/ctr-1"}]
    assert [i["name"] for i in result["interfaces"]] == ["a", "b"]


def test_add_caches_the_final_result_where_libcni_does(rec, tmp_path):
    path, read, log = rec
    rt = Runtime(conflist(log), path, tmp_path / "cache")
    result = attach(rt, cni_args="A=1")
    f = tmp_path / "cache" / "results" / "recnet-ctr-1-eth0"
    rec_ = json.loads(f.read_text())
    assert oct(f.stat().st_mode & 0o777) == "0o600"
    assert rec_["kind"] == "cniCacheV1" and rec_["result"] == result and rec_["cniArgs"] == [["A", "1"]]
    assert (rec_["containerId"], rec_["ifName"], rec_["networkName"], rec_["netns"]) == \
        ("ctr-1", "eth0", "recnet", "/run/netns/ctr-1")
    assert rt.attachments() == [("ctr-1", "eth0")]


def test_del_runs_in_reverse_with_the_cached_result_and_drops_it(rec, tmp_path):
    path, read, log = rec
    rt = Runtime(conflist(log), path, tmp_path / "cache")
    result = attach(rt, cni_args="A=1", capability_args={"mac": "02:00:00:00:00:01"})
    read()
    rt.delete("ctr-1", None, "eth0")
    b, a = read()
    assert [b["conf"]["tag"], a["conf"]["tag"]] == ["b", "a"]
    assert a["conf"]["prevResult"] == result and b["conf"]["prevResult"] == result
    # what DEL is not given is what the ADD had
    assert a["env"]["CNI_NETNS"] == "/run/netns/ctr-1" and a["env"]["CNI_ARGS"] == "A=1"
    assert a["conf"]["runtimeConfig"] == {"mac": "02:00:00:00:00:01"}
    assert rt.cached("ctr-1", "eth0") is None and rt.attachments() == []


def test_del_without_an_add_passes_no_prev_result_and_no_netns(rec, tmp_path):
    path, read, log = rec
    Runtime(conflist(log), path, tmp_path / "cache").delete("ctr-2", None, "eth0")
    for r in read():
        assert "prevResult" not in r["conf"] and "CNI_NETNS" not in r["env"]
        assert r["env"]["CNI_COMMAND"] == "DEL" and r["env"]["CNI_CONTAINERID"] == "ctr-2"


def test_del_before_0_4_0_passes_no_prev_result(rec, tmp_path):
    path, read, log = rec
    rt = Runtime(conflist(log, "0.3.1"), path, tmp_path / "cache")
    attach(rt)
    read()
    rt.delete("ctr-1", None, "eth0")
    assert [("prevResult" in r["conf"]) for r in read()] == [False, False]


def test_check_runs_in_order_with_the_cached_result(rec, tmp_path):
    path, read, log = rec
    rt = Runtime(conflist(log), path, tmp_path / "cache")
    result = attach(rt)
    read()
    rt.check("ctr-1", "/run/netns/ctr-1", "eth0")
    a, b = read()
    assert [a["conf"]["tag"], b["conf"]["tag"]] == ["a", "b"] and a["env"]["CNI_COMMAND"] == "CHECK"
    assert a["conf"]["prevResult"] == result and b["conf"]["prevResult"] == result


def test_check_is_refused_before_an_add_and_skipped_when_disabled(rec, tmp_path):
    path, read, log = rec
    with pytest.raises(LookupError):
        Runtime(conflist(log), path, tmp_path / "cache").check("ctr-1", "/run/netns/ctr-1", "eth0")
    rt = Runtime(conflist(log, disableCheck=True), path, tmp_path / "cache")
    attach(rt)
    read()
    rt.check("ctr-1", "/run/netns/ctr-1", "eth0")
    assert read() == []


def test_check_needs_0_4_0(rec, tmp_path):
    path, read, log = rec
    rt = Runtime(conflist(log, "0.3.1"), path, tmp_path / "cache")
    attach(rt)
    with pytest.raises(ValueError, match="0.4.0"):
        rt.check("ctr-1", "/run/netns/ctr-1", "eth0")


def test_gc_deletes_stale_attachments_then_sends_the_valid_ones(rec, tmp_path):
    path, read, log = rec
    rt = Runtime(conflist(log), path, tmp_path / "cache")
    attach(rt)
    rt.add("ctr-2", "/run/netns/ctr-2", "eth0")
    read()
    rt.gc([("ctr-1", "eth0")])
    calls = [(r["env"]["CNI_COMMAND"], r["conf"]["tag"]) for r in read()]
    assert calls == [("DEL", "b"), ("DEL", "a"), ("GC", "a"), ("GC", "b")]
    assert rt.attachments() == [("ctr-1", "eth0")]


def test_gc_request_is_the_plugin_conf_with_valid_attachments(rec, tmp_path):
    path, read, log = rec
    Runtime(conflist(log), path, tmp_path / "cache").gc([("ctr-1", "eth0")])
    a, _b = read()
    assert a["env"] == {"CNI_COMMAND": "GC", "CNI_PATH": os.pathsep.join(path)}
    assert a["conf"]["cni.dev/valid-attachments"] == [{"containerID": "ctr-1", "ifname": "eth0"}]
    assert "runtimeConfig" not in a["conf"] and "capabilities" not in a["conf"]


def test_gc_and_status_send_nothing_before_1_1_0(rec, tmp_path):
    path, read, log = rec
    rt = Runtime(conflist(log, "1.0.0"), path, tmp_path / "cache")
    rt.gc([])
    rt.status()
    assert read() == []


def test_gc_goes_on_past_errors_and_raises_them_together(rec, tmp_path):
    path, read, log = rec
    conf = conflist(log)
    for p in conf["plugins"]:
        p["failOn"] = "GC"
    with pytest.raises(ExceptionGroup) as e:
        Runtime(conf, path, tmp_path / "cache").gc([])
    assert [x.details for x in e.value.exceptions] == ["a", "b"]


def test_status_runs_every_plugin_at_1_1_0(rec, tmp_path):
    path, read, log = rec
    Runtime(conflist(log), path, tmp_path / "cache").status()
    assert [(r["env"], r["conf"]["tag"]) for r in read()] == \
        [({"CNI_COMMAND": "STATUS", "CNI_PATH": os.pathsep.join(path)}, t) for t in "ab"]


def test_a_failed_plugin_is_a_plugin_error_from_its_stdout(rec, tmp_path):
    path, read, log = rec
    conf = conflist(log)
    conf["plugins"][1]["failOn"] = "ADD"
    rt = Runtime(conf, path, tmp_path / "cache")
    with pytest.raises(PluginError) as e:
        attach(rt)
    err = e.value
    assert (err.code, err.msg, err.details, err.plugin, err.command, err.exit_status) == \
        (111, "asked to fail", "b", "recorder", "ADD", 3)
    assert err.stderr == "the plugin's own log line\n"
    assert rt.cached("ctr-1", "eth0") is None


def test_a_failure_without_an_error_object_keeps_what_it_printed(tmp_path):
    sh = tmp_path / "broken"
    sh.write_text("#!/bin/sh\necho 'not json'\necho oops >&2\nexit 2\n")
    sh.chmod(0o755)
    rt = Runtime({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "broken"}]}, [str(tmp_path)], tmp_path)
    with pytest.raises(PluginError) as e:
        rt.add("c", "/run/netns/c", "eth0")
    assert e.value.code is None and "not json" in e.value.msg
    assert (e.value.stderr, e.value.exit_status) == ("oops\n", 2)


def test_a_missing_plugin_is_an_error(rec, tmp_path):
    path, _read, _log = rec
    rt = Runtime({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "nosuch"}]}, path, tmp_path)
    with pytest.raises(PluginNotFound):
        rt.add("c", "/run/netns/c", "eth0")


def test_version_sends_only_the_command_and_a_cni_version(rec, tmp_path, monkeypatch):
    path, read, log = rec
    monkeypatch.setenv("RECORDER_LOG", log)   # the runtime passes its environment on, less any CNI_
    monkeypatch.setenv("CNI_NETNS", "/stray")
    v = Runtime(conflist(log), path, tmp_path).version("recorder")
    assert v == {"cniVersion": "1.1.0", "supportedVersions": ["1.0.0", "1.1.0"]}
    assert read() == [{"env": {"CNI_COMMAND": "VERSION"}, "conf": {"cniVersion": "1.1.0"}}]


def test_the_runtime_picks_the_highest_version_it_supports():
    assert select_version({"cniVersion": "0.4.0", "cniVersions": ["1.0.0", "9.0.0", "0.3.1"]}) == "1.0.0"
    assert select_version({"cniVersion": "1.1.0"}) == "1.1.0"
    with pytest.raises(ValueError):
        select_version({"cniVersion": "2.0.0"})


@pytest.mark.parametrize("cid, ifname", [("-bad", "eth0"), ("", "eth0"), ("c", ""), ("c", "a/b"),
                                         ("c", "x" * 16)])
def test_bad_attachment_parameters_are_refused_before_any_exec(rec, tmp_path, cid, ifname):
    path, read, log = rec
    with pytest.raises(ValueError):
        Runtime(conflist(log), path, tmp_path).add(cid, "/run/netns/c", ifname)
    assert read() == []


def test_run_plugin_passes_raw_stdin_and_only_the_env_given(rec):
    path, read, log = rec
    done = run_plugin(os.path.join(path[1], "recorder"), json.dumps({"log": log, "cniVersion": "1.0.0"}),
                      {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "x"})
    assert done.exit_status == 0 and done.stdout == ""
    assert read() == [{"env": {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "x"},
                       "conf": {"log": log, "cniVersion": "1.0.0"}}]
