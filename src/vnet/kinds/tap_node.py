"""The /dev/tapN node of a macvtap or an ipvtap: observed and shown by the
kind that has one (a mixin before the kind's own class)."""
import os


class TapNode:
    txqueuelen = 500   # as tun.c's (macvtap, ipvtap)

    def observed_extra(self, link, resolve, dumps):
        return tap_device(link, dumps)

    def show_extra(self, extra, ref):
        return tap_words(extra)


def tap_words(extra):
    """`vnet show`'s words for a /dev node (from ``tap_device``)."""
    if "tap_devnum" not in extra:
        return []
    return [extra.get("tap_device") or extra.get("tap_hint") or ""]


def tap_device(link, dumps):
    """The /dev node of a macvtap or ipvtap. The kernel names it tap<ifindex>,
    but ifindexes are per namespace and /dev is not: the node is this
    device's only if its device number matches the one sysfs gives."""
    node = f"/dev/tap{link.ifindex}"
    devnum = dumps.sysfs(f"class/net/{link.name}/tap{link.ifindex}/dev")
    try:
        st = os.stat(node)
        have = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    except OSError:
        have = None
    if devnum is None or have == devnum:
        return {"tap_device": node, "tap_devnum": devnum}
    return {"tap_device": None, "tap_devnum": devnum,
            "tap_hint": f"{node} belongs to another namespace's device: mknod /dev/tap-{link.name} c "
                        f"{devnum.replace(':', ' ')}"}
