"""A tunnel's two ends and its key, as its options give them: addresses
parsed, the two ends' roles, the key read. The TUN/TAP kind validates a
topology's `tunnel:` with these, `vnet tunnel` its arguments."""
import ipaddress
import os
import socket


def parse_addr(text):
    """ADDR:PORT or [V6ADDR]:PORT -> (family, (addr, port)); ValueError saying what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not ADDR:PORT with a port from 1 to 65535")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if "%" in host:
        raise ValueError(f"{text!r}: a scoped address (%zone) cannot be a tunnel's end; give a global one")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: {host!r} is not an IP address (ADDR:PORT, or [V6ADDR]:PORT)") from None
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), (str(ip), int(port))


def endpoints(listen, peer):
    """(family, local address, peer address) of a tunnel; ValueError if they
    cannot be the two ends of one."""
    fam, laddr = parse_addr(listen)
    pfam, paddr = parse_addr(peer)
    if fam != pfam:
        raise ValueError(f"listen {listen} and peer {peer}: one is IPv4, the other IPv6")
    if laddr == paddr:
        raise ValueError(f"listen and peer are the same address, {listen}")
    return fam, laddr, paddr


def role(fam, laddr, paddr, route=None):
    """This end's role, 0 or 1: 0 for the end whose (port, address) is the
    lower, as both ends see them. A wildcard listen address with the peer's
    port needs the address it sends from: ``route()`` (the kernel's choice
    toward the peer), ValueError if there is none."""
    def key(a):
        return a[1], socket.inet_pton(fam, a[0])
    if laddr[1] == paddr[1] and ipaddress.ip_address(laddr[0]).is_unspecified:
        src = route() if route else None
        if src is None:
            raise ValueError(f"listen {laddr[0]} (any address) on the peer's port {paddr[1]}: the two ends tell "
                             "their roles apart by (port, address); give the address, or another port")
        laddr = (src, laddr[1])
    return 0 if key(laddr) < key(paddr) else 1


def read_key(key_file=None, key_env=None):
    """A 32-byte key from a file or variable holding 64 hex digits."""
    if key_file is None and key_env is None:
        return None
    text = open(key_file).read() if key_file else os.environ[key_env]
    key = bytes.fromhex(text.strip())
    if len(key) != 32:
        raise ValueError(f"a tunnel key is 32 bytes (64 hex digits), this one has {len(key)}")
    return key
