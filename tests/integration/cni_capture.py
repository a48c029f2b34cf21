"""What a runtime sends a CNI plugin, recorded: a directory of wrapper
plugins, one per real plugin, each logging its environment, standard input,
output and exit code, then running the real plugin in its place."""
import json
import os
from pathlib import Path

WRAPPER = """\
#!/bin/sh
# logs one CNI call to {log}, then runs the real plugin
log="{log}/$(date +%s%N)-$$-${{0##*/}}"
env -0 > "$log.env"
cat > "$log.stdin"
"{real}/${{0##*/}}" < "$log.stdin" > "$log.stdout"
rc=$?
echo "$rc" > "$log.rc-" && mv "$log.rc-" "$log.rc"   # .rc last: the call has ended
cat "$log.stdout"
exit "$rc"
"""


def logging_plugins(where, real_dir, log_dir):
    """A plugin directory ``where`` whose every plugin is a wrapper of the
    one of that name in ``real_dir``, logging to ``log_dir``."""
    where, log_dir = Path(where), Path(log_dir)
    where.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    for name in sorted(os.listdir(real_dir)):
        w = where / name
        w.write_text(WRAPPER.format(log=log_dir, real=real_dir))
        w.chmod(0o755)
    return where


def calls(log_dir):
    """Every call logged that has ended, oldest first: {plugin, env, stdin,
    stdout, rc}."""
    log_dir = Path(log_dir)
    ended = {p.name[:-3] for p in log_dir.glob("*.rc")}
    return [_call(log_dir / s) for s in sorted(ended, key=lambda s: int(s.split("-")[0]))]


def _call(stem):
    def part(ext):
        p = stem.with_name(f"{stem.name}.{ext}")
        return p.read_text() if p.exists() else None
    env = dict(kv.split("=", 1) for kv in part("env").split("\0") if "=" in kv)
    return {"plugin": stem.name.split("-", 2)[2], "env": env, "stdin": part("stdin"),
            "stdout": part("stdout"), "rc": int(part("rc"))}


def normalized(call, tmp):
    """A call as the corpus keeps it: only the CNI_ variables (the rest is
    the runtime's own environment), JSON parsed, and the test's tmp
    directory, the container's id and its namespace's path as {tmp}, {id},
    {id12} and {netns}."""
    env = call["env"]
    text = json.dumps({"plugin": call["plugin"], "env": {k: v for k, v in env.items() if k.startswith("CNI_")},
                       "stdin": _json(call["stdin"]), "stdout": _json(call["stdout"]), "rc": call["rc"]})
    for value, name in _placeholders(env, tmp):
        text = text.replace(value, name)
    return json.loads(text)


def _placeholders(env, tmp):
    cid, netns = env.get("CNI_CONTAINERID", ""), env.get("CNI_NETNS", "")
    out = [(str(tmp), "{tmp}")]
    if len(cid) == 64:
        out += [(cid, "{id}"), (cid[:12], "{id12}")]
    if netns.startswith("/run/netns/"):
        out.append((netns, "{netns}"))
    return out


def _json(text):
    return json.loads(text) if text and text.strip() else None


def stable(call):
    """What must not change from one capture to the next: all but the
    addresses and names a plugin draws at random (a result's MACs and veth
    names), whose shape alone is kept."""
    stdin = dict(call["stdin"])
    if "prevResult" in stdin:
        stdin["prevResult"] = shape(stdin["prevResult"])
    return {**call, "stdin": stdin, "stdout": shape(call["stdout"])}


def shape(value):
    """The keys and types of a JSON value, without its scalars."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__
