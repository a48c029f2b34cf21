"""MACsec's generic netlink family ("macsec"): secure associations and
receive channels, which the link attributes do not carry. Keys go in,
never come out: a dump gives each SA's AN, key id, next PN and state."""
import struct

from . import netlink as nl

FAMILY = "macsec"
(GET_TXSC, ADD_RXSC, DEL_RXSC, UPD_RXSC, ADD_TXSA, DEL_TXSA, UPD_TXSA,
 ADD_RXSA, DEL_RXSA, UPD_RXSA) = range(10)
ATTR_IFINDEX, ATTR_RXSC_CONFIG, ATTR_SA_CONFIG, ATTR_SECY, ATTR_TXSA_LIST, ATTR_RXSC_LIST = range(1, 7)
RXSC_SCI, RXSC_ACTIVE, RXSC_SA_LIST = 1, 2, 3
SA_AN, SA_ACTIVE, SA_PN, SA_KEY, SA_KEYID, SA_STATS, SA_PAD, SA_SSCI, SA_SALT = range(1, 10)
SECY_SCI, SECY_ENCODING_SA = 1, 2
KEYID_LEN = 16


def sci(mac, port):
    """The 64-bit SCI as the kernel holds it (network order): MAC, then port."""
    return bytes.fromhex(mac.replace(":", "")) + struct.pack(">H", port)


def sci_hex(raw):
    return bytes(raw).hex()


def _sa(an, *, pn=None, key=None, key_id=None, active=True, xpn=False, ssci=None, salt=None):
    parts = [nl.u8(SA_AN, an), nl.u8(SA_ACTIVE, 1 if active else 0)]
    if pn is not None:
        parts.append(nl.u64(SA_PN, pn) if xpn else nl.u32(SA_PN, pn))
    if key is not None:
        parts.append(nl.attr(SA_KEY, key))
    if key_id is not None:
        parts.append(nl.attr(SA_KEYID, key_id))
    if ssci is not None:
        parts.append(nl.u32(SA_SSCI, ssci))
    if salt is not None:
        parts.append(nl.attr(SA_SALT, salt))
    return nl.nest(ATTR_SA_CONFIG, *parts)


def add_txsa(g, ifindex, an, **sa):
    g.request(ADD_TXSA, nl.u32(ATTR_IFINDEX, ifindex), _sa(an, **sa))


def del_txsa(g, ifindex, an):
    """Deactivate, then delete (the kernel refuses to delete an active SA: EBUSY)."""
    g.request(UPD_TXSA, nl.u32(ATTR_IFINDEX, ifindex), nl.nest(ATTR_SA_CONFIG, nl.u8(SA_AN, an), nl.u8(SA_ACTIVE, 0)))
    g.request(DEL_TXSA, nl.u32(ATTR_IFINDEX, ifindex), nl.nest(ATTR_SA_CONFIG, nl.u8(SA_AN, an)))


def _rxsc(sci_raw, active=None):
    parts = [nl.attr(RXSC_SCI, sci_raw)]
    if active is not None:
        parts.append(nl.u8(RXSC_ACTIVE, 1 if active else 0))
    return nl.nest(ATTR_RXSC_CONFIG, *parts)


def add_rxsc(g, ifindex, sci_raw):
    g.request(ADD_RXSC, nl.u32(ATTR_IFINDEX, ifindex), _rxsc(sci_raw, True))


def del_rxsc(g, ifindex, sci_raw):
    g.request(DEL_RXSC, nl.u32(ATTR_IFINDEX, ifindex), _rxsc(sci_raw))


def add_rxsa(g, ifindex, sci_raw, an, **sa):
    g.request(ADD_RXSA, nl.u32(ATTR_IFINDEX, ifindex), _rxsc(sci_raw), _sa(an, **sa))


def del_rxsa(g, ifindex, sci_raw, an):
    g.request(UPD_RXSA, nl.u32(ATTR_IFINDEX, ifindex), _rxsc(sci_raw),
              nl.nest(ATTR_SA_CONFIG, nl.u8(SA_AN, an), nl.u8(SA_ACTIVE, 0)))
    g.request(DEL_RXSA, nl.u32(ATTR_IFINDEX, ifindex), _rxsc(sci_raw),
              nl.nest(ATTR_SA_CONFIG, nl.u8(SA_AN, an)))


def _sa_list(raw):
    out = []
    for _i, item in nl.parse_list(raw):
        a = nl.parse(item)
        pn = a.get(SA_PN)
        out.append({"an": a[SA_AN][0],
                    "key_id": bytes(a[SA_KEYID]).hex() if SA_KEYID in a else None,
                    "pn": (nl.get_u64(pn) if len(pn) == 8 else nl.get_u32(pn)) if pn is not None else None,
                    "active": bool(a[SA_ACTIVE][0]) if SA_ACTIVE in a else True})
    return sorted(out, key=lambda s: s["an"])


def dump(g):
    """{ifindex: {"sci", "encoding_sa", "tx": [SA], "rx": [{"sci", "active", "sas": [SA]}]}}
    for every MACsec device of the namespace."""
    out = {}
    for body in g.dump(GET_TXSC):
        a = nl.parse(body)
        secy = nl.parse(a[ATTR_SECY]) if ATTR_SECY in a else {}
        rx = []
        for _i, item in nl.parse_list(a.get(ATTR_RXSC_LIST, b"")):
            r = nl.parse(item)
            rx.append({"sci": sci_hex(r[RXSC_SCI]), "active": bool(r[RXSC_ACTIVE][0]) if RXSC_ACTIVE in r else True,
                       "sas": _sa_list(r.get(RXSC_SA_LIST, b""))})
        out[nl.get_u32(a[ATTR_IFINDEX])] = {
            "sci": sci_hex(secy[SECY_SCI]) if SECY_SCI in secy else None,
            "encoding_sa": secy[SECY_ENCODING_SA][0] if SECY_ENCODING_SA in secy else None,
            "tx": _sa_list(a.get(ATTR_TXSA_LIST, b"")),
            "rx": sorted(rx, key=lambda r: r["sci"])}
    return out
