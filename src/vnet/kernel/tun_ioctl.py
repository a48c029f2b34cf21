"""Persistent TUN/TAP devices through /dev/net/tun, as `ip tuntap add` makes
them (the kernel offers no rtnetlink creation for tun)."""
import fcntl
import os
import struct

TUNSETIFF, TUNSETPERSIST, TUNSETOWNER, TUNSETGROUP = 0x400454CA, 0x400454CB, 0x400454CC, 0x400454CE
IFF_TUN, IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE = 0x1, 0x2, 0x1000, 0x4000, 0x0100


def open_dev():
    """A new file on /dev/net/tun. A system without the node (a minimal
    guest's devtmpfs before the tun module loads) gets it made: opening it
    loads the module."""
    try:
        return os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        import stat
        os.makedirs("/dev/net", exist_ok=True)
        try:
            os.mknod("/dev/net/tun", stat.S_IFCHR | 0o666, os.makedev(10, 200))
        except FileExistsError:
            pass
        return os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)


def create(name, tap, owner=None, group=None, multi_queue=False, vnet_hdr=False, link_group=None):
    """Create a persistent device in the calling thread's namespace; with
    ``link_group``, tagged with that link group before it is made persistent:
    until then it lives only as long as this process holds it, so a process
    killed in between leaves no device, and never an untagged one (which
    would pass for someone else's)."""
    flags = (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI
    if multi_queue:
        flags |= IFF_MULTI_QUEUE
    if vnet_hdr:
        flags |= IFF_VNET_HDR
    fd = open_dev()
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
        if owner is not None:
            fcntl.ioctl(fd, TUNSETOWNER, owner)
        if group is not None:
            fcntl.ioctl(fd, TUNSETGROUP, group)
        if link_group is not None:
            from . import netlink, rtnl
            s = netlink.Socket()
            try:
                rtnl.set_link_by_name(s, name, attrs=rtnl.link_attrs(group=link_group))
            finally:
                s.close()
        fcntl.ioctl(fd, TUNSETPERSIST, 1)
    finally:
        os.close(fd)
