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


def unknown(key, device=None):
    """None if this kernel has sysctl ``key`` (of any device when the key
    names ``device``: its ``default`` twin), else a close key to suggest
    ('' for none). Read in vnet's own namespace: every namespace has the same."""
    import difflib
    import os
    parts = key.split(".")
    if device is not None:
        parts[3] = "default"
    try:
        path = _path(".".join(parts))
    except ValueError:
        return ""
    if os.path.isfile(path):
        return None
    # the deepest directory that exists, and its closest entry to what was asked
    for depth in range(len(parts) - 1, 1, -1):
        d = "/proc/sys/" + "/".join(parts[:depth])
        if os.path.isdir(d):
            near = difflib.get_close_matches(parts[depth], os.listdir(d), n=1)
            if not near:
                return ""
            guess = parts[:depth] + near + parts[depth + 1:]
            if device is not None:
                guess[3] = device
            return ".".join(guess)
    return ""
