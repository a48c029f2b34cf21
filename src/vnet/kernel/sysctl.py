"""Per-namespace sysctls: /proc/sys/net is the namespace of the opening thread."""


def _path(key):
    if not key.startswith("net.") or ".." in key or "/" in key:
        raise ValueError(f"{key!r} is not a network sysctl (net.*)")
    return "/proc/sys/" + key.replace(".", "/")


def read(key):
    with open(_path(key)) as f:
        return f.read().strip()


def write(key, value):
    with open(_path(key), "w") as f:
        f.write(str(value))
