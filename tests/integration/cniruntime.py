"""A small CNI runtime for tests, written to the CNI specification 1.1.0
(containernetworking/cni SPEC.md), not to any one plugin: it execs each
plugin of a network configuration list by its `type`, found in CNI_PATH,
with the protocol's environment and the request configuration on stdin
(section 3: name and cniVersion from the list, runtimeConfig from the
plugin's capabilities, prevResult), ADD in order, DEL in reverse, CHECK and
GC as the spec says, and keeps each attachment's result where libcni does
(CACHE/results/NETWORK-CONTAINERID-IFNAME, libcni's cniCacheV1 record).

A plugin's failure is a PluginError built from the error object it printed
on stdout, with its stderr kept for diagnosis. `run_plugin` execs one
plugin with a raw stdin and environment, for the tests of bad input."""
import base64
import json
import os
import re
import subprocess
from dataclasses import dataclass

SPEC_VERSION = "1.1.0"
CACHE_KIND = "cniCacheV1"
# spec section 2: a container ID; section 1: a network name
_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")


class PluginError(Exception):
    """A plugin exited non-zero (or printed what is not a result): the spec's
    error object (code, msg, details) from its stdout, and what else is known."""

    def __init__(self, code, msg, details, plugin, command, stderr, exit_status):
        self.code, self.msg, self.details = code, msg, details
        self.plugin, self.command, self.stderr, self.exit_status = plugin, command, stderr, exit_status
        super().__init__(f"{plugin} {command} failed (exit {exit_status}, code {code}): {msg}"
                         + (f": {details}" if details else "") + (f"\nstderr: {stderr}" if stderr else ""))


class PluginNotFound(LookupError):
    pass


@dataclass
class Completed:
    """What one exec of a plugin gave: its exit status and both streams."""
    exit_status: int
    stdout: str
    stderr: str


def find_plugin(plugin_type, cni_path):
    """The executable named `plugin_type` in the first directory of
    `cni_path` that has one (section 3, step 1: none is an error)."""
    if not plugin_type or "/" in plugin_type:
        raise PluginNotFound(f"not a plugin type: {plugin_type!r}")
    for d in cni_path:
        p = os.path.join(d, plugin_type)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise PluginNotFound(f"no plugin {plugin_type!r} in CNI_PATH {':'.join(cni_path)}")


def run_plugin(path, stdin, env, inherit=True, timeout=60):
    """Exec the plugin at `path` with `stdin` (str or bytes) and `env` (over
    this process's environment less its CNI_ variables, if `inherit`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")} if inherit else {}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    r = subprocess.run([path], input=data, env={**base, **env}, capture_output=True, timeout=timeout)
    return Completed(r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))


def error_of(done, plugin, command):
    """The PluginError for a failed exec: the error object from stdout
    (section 5), or, when there is none, a message saying so."""
    try:
        obj = json.loads(done.stdout)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        what = "no error object on stdout" if not done.stdout.strip() else f"stdout is not an error object: {done.stdout!r}"
        return PluginError(None, what, None, plugin, command, done.stderr, done.exit_status)
    return PluginError(obj.get("code"), obj.get("msg"), obj.get("details"), plugin, command, done.stderr,
                       done.exit_status)


def invoke(path, command, conf, env, want_result):
    """Exec one plugin for `command` with `conf` on stdin; its JSON result if
    `want_result` (ADD, VERSION), else None; PluginError on failure."""
    plugin = os.path.basename(path)
    done = run_plugin(path, json.dumps(conf), {"CNI_COMMAND": command, **env})
    if done.exit_status != 0:
        raise error_of(done, plugin, command)
    if not want_result:
        return None
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise PluginError(None, f"exited 0 but its stdout is not a JSON result: {done.stdout!r}", None,
                          plugin, command, done.stderr, 0) from None


def version_key(v):
    return tuple(int(x) for x in v.split("."))


def select_version(conflist):
    """Section 1: the highest of `cniVersion` and `cniVersions` that this
    runtime (spec 1.1.0) supports."""
    have = [v for v in [conflist.get("cniVersion"), *conflist.get("cniVersions", [])] if v]
    ok = [v for v in have if version_key(v) <= version_key(SPEC_VERSION)]
    if not ok:
        raise ValueError(f"no CNI version this runtime supports among {have}")
    return max(ok, key=version_key)


def cni_args_env(cni_args):
    """CNI_ARGS: 'K=V;K2=V2' from a dict or pairs (a str passes unchanged)."""
    if cni_args is None or isinstance(cni_args, str):
        return cni_args or ""
    pairs = cni_args.items() if isinstance(cni_args, dict) else cni_args
    return ";".join(f"{k}={v}" for k, v in pairs)


def check_attachment(container_id, ifname):
    """The attachment parameters the spec constrains, refused before any exec."""
    if not _ID.match(container_id or ""):
        raise ValueError(f"invalid container ID {container_id!r} (spec: alphanumeric first, then [a-zA-Z0-9_.-])")
    if not ifname or len(ifname) > 15 or ifname in (".", "..") or re.search(r"[/:\s]", ifname):
        raise ValueError(f"invalid interface name {ifname!r}")


def cni_args_pairs(cni_args):
    """CNI_ARGS as the [key, value] pairs libcni caches."""
    text = cni_args_env(cni_args)
    return [kv.split("=", 1) for kv in text.split(";") if kv]


def plugin_conf(plugin, name, cni_version):
    """Section 3: the plugin's object with name and cniVersion from the list;
    `capabilities` and `cni.dev/` keys are the runtime's, never passed."""
    conf = {k: v for k, v in plugin.items() if k != "capabilities" and not k.startswith("cni.dev/")}
    return {**conf, "cniVersion": cni_version, "name": name}


def runtime_config(plugin, capability_args):
    """Section 3, deriving runtimeConfig: the capability arguments the
    plugin's `capabilities` declare."""
    caps = plugin.get("capabilities") or {}
    return {k: v for k, v in (capability_args or {}).items() if caps.get(k)}


class Runtime:
    """Runs one network configuration list (a dict, as on disk) for attachments."""

    def __init__(self, conflist, cni_path, cache_dir):
        if not _ID.match(conflist.get("name") or ""):
            raise ValueError(f"invalid network name {conflist.get('name')!r}")
        if not conflist.get("plugins"):
            raise ValueError("a network configuration needs a `plugins` list (spec 1.0 removed single configs)")
        self.conflist, self.cni_path, self.cache_dir = conflist, list(cni_path), str(cache_dir)
        self.name, self.plugins = conflist["name"], conflist["plugins"]
        self.cni_version = select_version(conflist)

    def add(self, container_id, netns_path, ifname, capability_args=None, cni_args=None):
        """ADD through every plugin in order, each given the previous one's
        result; the last result, cached, is returned."""
        check_attachment(container_id, ifname)
        env = self._env(container_id, netns_path, ifname, cni_args)
        result = None
        for p in self.plugins:
            result = self._exec(p, "ADD", self._request(p, capability_args, result), env, want_result=True)
        self._cache_put(container_id, netns_path, ifname, capability_args, cni_args, result)
        return result

    def check(self, container_id, netns_path, ifname, capability_args=None, cni_args=None):
        """CHECK through every plugin in order with the cached ADD result;
        arguments not given are the ADD's (the spec wants them the same)."""
        if version_key(self.cni_version) < (0, 4, 0):
            raise ValueError(f"CHECK needs cniVersion 0.4.0 or later, this network is {self.cni_version}")
        if self.conflist.get("disableCheck"):
            return
        rec = self.cached(container_id, ifname)
        if rec is None:
            raise LookupError(f"no ADD of {container_id}/{ifname} to {self.name} to CHECK")
        env, caps = self._env_again(rec, netns_path, cni_args, capability_args)
        for p in self.plugins:
            self._exec(p, "CHECK", self._request(p, caps, rec["result"]), env)

    def delete(self, container_id, netns_path, ifname, capability_args=None, cni_args=None):
        """DEL through the plugins in reverse, each given the cached ADD result
        (from 0.4.0; none if there is none); the cache entry goes after."""
        rec = self.cached(container_id, ifname) or {"containerId": container_id, "ifName": ifname}
        prev = rec.get("result") if version_key(self.cni_version) >= (0, 4, 0) else None
        env, caps = self._env_again(rec, netns_path, cni_args, capability_args)
        for p in reversed(self.plugins):
            self._exec(p, "DEL", self._request(p, caps, prev), env)
        self._cache_drop(container_id, ifname)

    def gc(self, valid_attachments):
        """As libcni: DEL every cached attachment of this network not among
        `valid_attachments` ((container_id, ifname) pairs), then, from
        1.1.0, GC to every plugin with `cni.dev/valid-attachments`. Errors
        do not stop it; they are raised together at the end."""
        if self.conflist.get("disableGC"):
            return
        valid = [tuple(a) for a in valid_attachments]
        errors = self._delete_stale(set(valid))
        if version_key(self.cni_version) >= (1, 1, 0):
            listed = [{"containerID": c, "ifname": i} for c, i in valid]
            errors += self._each_plugin("GC", {"cni.dev/valid-attachments": listed})
        if errors:
            raise ExceptionGroup(f"GC of network {self.name}", errors)

    def status(self):
        """STATUS to every plugin (from 1.1.0, as libcni; before, nothing):
        the first PluginError is raised."""
        if version_key(self.cni_version) >= (1, 1, 0):
            for p in self.plugins:
                self._exec(p, "STATUS", plugin_conf(p, self.name, self.cni_version), self._path_env())

    def version(self, plugin_type):
        """The plugin's VERSION answer (cniVersion, supportedVersions)."""
        path = find_plugin(plugin_type, self.cni_path)
        return invoke(path, "VERSION", {"cniVersion": SPEC_VERSION}, {}, want_result=True)

    def cached(self, container_id, ifname):
        """The cache record of an attachment (libcni's cniCacheV1), or None."""
        try:
            with open(self.cache_path(container_id, ifname)) as f:
                rec = json.load(f)
        except FileNotFoundError:
            return None
        return rec if rec.get("kind") == CACHE_KIND else None

    def cache_path(self, container_id, ifname):
        return os.path.join(self.cache_dir, "results", f"{self.name}-{container_id}-{ifname}")

    def attachments(self):
        """Every cached attachment of this network, as (container_id, ifname)."""
        d = os.path.join(self.cache_dir, "results")
        recs = [self._load(os.path.join(d, f)) for f in sorted(os.listdir(d))] if os.path.isdir(d) else []
        return [(r["containerId"], r["ifName"]) for r in recs
                if r.get("kind") == CACHE_KIND and r.get("networkName") == self.name]

    @staticmethod
    def _load(path):
        with open(path) as f:
            return json.load(f)

    def _delete_stale(self, valid):
        errors = []
        for cid, ifname in self.attachments():
            if (cid, ifname) not in valid:
                try:
                    self.delete(cid, None, ifname)
                except (PluginError, PluginNotFound, OSError) as e:
                    errors.append(e)
        return errors

    def _each_plugin(self, command, extra):
        errors = []
        for p in self.plugins:
            try:
                self._exec(p, command, {**plugin_conf(p, self.name, self.cni_version), **extra}, self._path_env())
            except (PluginError, PluginNotFound, OSError) as e:
                errors.append(e)
        return errors

    def _request(self, plugin, capability_args, prev_result):
        conf = plugin_conf(plugin, self.name, self.cni_version)
        conf["runtimeConfig"] = runtime_config(plugin, capability_args)
        if prev_result is not None:
            conf["prevResult"] = prev_result
        return conf

    def _exec(self, plugin, command, conf, env, want_result=False):
        return invoke(find_plugin(plugin.get("type"), self.cni_path), command, conf, env, want_result)

    def _path_env(self):
        return {"CNI_PATH": os.pathsep.join(self.cni_path)}

    def _env(self, container_id, netns_path, ifname, cni_args):
        env = {"CNI_CONTAINERID": container_id, "CNI_IFNAME": ifname, "CNI_ARGS": cni_args_env(cni_args),
               **self._path_env()}
        if netns_path:
            env["CNI_NETNS"] = str(netns_path)
        return env

    def _env_again(self, rec, netns_path, cni_args, capability_args):
        """The environment and capability arguments of a later CHECK or DEL:
        what is not given is what the ADD had (from its cache record)."""
        netns = netns_path if netns_path is not None else rec.get("netns")
        args = cni_args if cni_args is not None else rec.get("cniArgs")
        caps = capability_args if capability_args is not None else rec.get("capabilityArgs")
        return self._env(rec["containerId"], netns, rec["ifName"], args), caps

    def _cache_put(self, container_id, netns_path, ifname, capability_args, cni_args, result):
        rec = {"kind": CACHE_KIND, "containerId": container_id,
               "config": base64.b64encode(json.dumps(self.conflist).encode()).decode(),
               "ifName": ifname, "networkName": self.name, "netns": str(netns_path or ""),
               "cniArgs": cni_args_pairs(cni_args), "capabilityArgs": capability_args or {}, "result": result}
        path = self.cache_path(container_id, ifname)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(rec, f)

    def _cache_drop(self, container_id, ifname):
        try:
            os.remove(self.cache_path(container_id, ifname))
        except FileNotFoundError:
            pass
