"""MACsec (IEEE 802.1AE): an encrypted, authenticated Ethernet device on a
lower device (Figures 20-21). The link carries the SecY settings; the
secure associations (SAs) and receive channels go through the kernel's
`macsec` generic netlink family. Keys are taken from the file, a key file or
an environment variable and never shown: the kernel never gives them back,
and vnet prints them as `***` next to their key id."""
import os
import struct

from ..kernel import macsec as genl
from ..kernel import netlink as nl
from ..topology.fields import Bool, Enum, Int, ListOf, MAC, Obj, RefField, Str
from .base import Kind, ipcmd
from .macsec_sa import _SA, MASKED, SA, Secret, _kid, _sa_args, _sa_words, check_sa  # noqa: F401 (Secret, MASKED: users import them from here)

A = dict(SCI=1, PORT=2, ICV_LEN=3, CIPHER_SUITE=4, WINDOW=5, ENCODING_SA=6, ENCRYPT=7, PROTECT=8,
         INC_SCI=9, ES=10, SCB=11, REPLAY_PROTECT=12, VALIDATION=13)
CIPHERS = {"gcm-aes-128": 0x0080C20001000001, "gcm-aes-256": 0x0080C20001000002,
           "gcm-aes-xpn-128": 0x0080C20001000003, "gcm-aes-xpn-256": 0x0080C20001000004}
VALIDATE = {"disabled": 0, "check": 1, "strict": 2}
def _as_filed(sa):
    return {k: v for k, v in sa.items() if not (k == "active" and v)}


class Macsec(Kind):
    name = kernel_kind = "macsec"
    announced = False         # observation reads its secure channels and keys (genl)
    doc = "a MACsec device on `link`: Ethernet frames encrypted and authenticated (802.1AE)"
    options_doc = (   # README.md's kinds table
        '`link` (required), `port` or `sci`, `cipher` (`gcm-aes-128` default, `gcm-aes-256`, '
        '`gcm-aes-xpn-128`, `gcm-aes-xpn-256`), `icv_len`, `encrypt`, `protect`, `validate` (`strict`, '
        '`check`, `disabled`), `replay_protect` + `window`, `send_sci`, `end_station`, `scb`; `tx`: one '
        'SA `{an, pn, key_id, key \\| key_file \\| key_env}` (XPN ciphers add `ssci`, `salt`); `rx`: '
        'receive channels `{sci \\| mac + port, sas: [SA...]}`. Keys are hex in quotes; `key_file` is '
        'relative to the topology file (a CNI configuration may also name a key the container runtime '
        'passes: `key_runtime`, docs/cni.md). Keys never appear in `show`, `export`, `plan` or `script` (shown '
        'as `***` beside the key id; the kernel never gives them back, so an export says `key: "***"` and'
        ' must be given keys before it is applied). A new key is a new SA with a new `an`: re-apply adds '
        'the new receive SAs first, then switches transmission, then drops the old SAs, so traffic keeps '
        'flowing.')
    example = "fig20-macsec.yaml"
    sample = """\
    - name: macsec0
      kind: macsec
      link: eth2
      port: 1
      encrypt: true
      validate: strict
      replay_protect: true
      window: 32
      tx: {an: 0, key_id: "01", key: 000102030405060708090a0b0c0d0e0f}
      rx:
        - mac: "52:54:00:00:00:02"
          sas: [{an: 0, key_id: "02", key: 0f0e0d0c0b0a09080706050403020100}]
"""   # tests/golden/script/all-kinds.yaml
    shape, colour = "octagon", "#b4a7d6"
    options = {
        "link": RefField("the lower device", required=True),
        "port": Int("port number of the secure channel identifier (with the device's MAC)", lo=1, hi=65535),
        "sci": Str("secure channel identifier, 16 hex digits (instead of port)", pattern=r"[0-9a-fA-F]{16}",
                   explain="16 hex digits"),
        "cipher": Enum("cipher suite", CIPHERS, default="gcm-aes-128"),
        "icv_len": Int("integrity check value length in bytes", lo=8, hi=16),
        "encrypt": Bool("encrypt the payload (off: authenticate only)"),
        "protect": Bool("protect frames (off: send them as they are)"),
        "validate": Enum("what to do with received frames that fail validation", VALIDATE),
        "replay_protect": Bool("drop frames whose packet number falls behind `window`"),
        "window": Int("replay window, in packets", lo=0, hi=2**32 - 1),
        "send_sci": Bool("always include the SCI in the SecTAG"),
        "end_station": Bool("ES bit: the SCI is the MAC with port 1"),
        "scb": Bool("single copy broadcast"),
        "tx": Obj(_SA, "the transmit secure association"),
        "rx": ListOf(Obj({"sci": Str("the sender's SCI, 16 hex digits", pattern=r"[0-9a-fA-F]{16}",
                                     explain="16 hex digits"),
                          "mac": MAC("the sender's MAC (with port, instead of sci)"),
                          "port": Int("the sender's port", lo=1, hi=65535),
                          "sas": ListOf(SA, "its secure associations")}),
                     "receive channels: one per sender"),
    }
    netlink = {"icv_len": (A["ICV_LEN"], "u8"), "cipher": (A["CIPHER_SUITE"], "u64"),
               "window": (A["WINDOW"], "u32"), "encrypt": (A["ENCRYPT"], "bool8"),
               "protect": (A["PROTECT"], "bool8"), "send_sci": (A["INC_SCI"], "bool8"),
               "end_station": (A["ES"], "bool8"), "scb": (A["SCB"], "bool8"),
               "replay_protect": (A["REPLAY_PROTECT"], "bool8"), "validate": (A["VALIDATION"], "u8")}
    link_option = "link"
    link_attr = True
    rx_handler = "macsec"
    lower_layers = frozenset({"ether"})   # macsec_newlink: EINVAL for a non-Ethernet lower device (since 5.7)
    # the kernel refuses to change the SCI, cipher or ICV length of a SecY
    state_attrs = frozenset({A["SCI"]})   # from its MAC, unless given (an option then)
    inplace = frozenset({"window", "encrypt", "protect", "send_sci", "end_station", "scb",
                         "replay_protect", "validate", "tx", "rx"})

    # `ip -d link show`'s words and order; the port is within the sci
    show_words = {"link": ("link", "value"), "sci": ("sci", "value"), "port": ("", "skip"),
                  "protect": ("protect", "value"), "cipher": ("cipher", lambda w, v: f"{w} {v.upper()}"),
                  "icv_len": ("icvlen", "value"), "encrypt": ("encrypt", "value"), "send_sci": ("send_sci", "value"),
                  "end_station": ("end_station", "value"), "scb": ("scb", "value"),
                  "replay_protect": ("replay", "value"), "window": ("window", "value"),
                  "validate": ("validate", "value"), "tx": ("encodingsa", lambda w, v: f"{w} {v['an']}"),
                  "rx": ("", "skip")}

    def show_extra(self, extra, ref):
        return []   # the SAs: lines of their own, from the options

    def show_nested(self, dev, ref):
        """The SAs as `ip macsec add` spells them, the key masked."""
        def sa(s):
            return (f"sa {s['an']} pn {s.get('pn')} {'on' if s.get('active', True) else 'off'} "
                    f"key {s.get('key_id')} {MASKED}")
        tx = dev.options.get("tx")
        out = [f"tx {sa(tx)}"] + [f"tx {o}" for o in tx.get("others") or []] if tx else []
        for ch in dev.options.get("rx") or []:
            out += [f"rx sci {ch['sci']} {sa(s)}" for s in ch.get("sas") or []] or [f"rx sci {ch['sci']}"]
        return out

    # ---- spec ----------------------------------------------------------------
    def validate(self, iface, problems, path):
        o = iface.options
        if o.get("sci") and o.get("port"):
            problems.add(f"{path}.sci", "give either sci or port, not both")
        if o.get("window") and not o.get("replay_protect"):
            problems.add(f"{path}.window", "needs replay_protect: true")
        base = os.path.dirname(problems.prefix) if os.path.exists(problems.prefix) else "."
        xpn = "xpn" in o.get("cipher", "")
        if o.get("tx"):
            check_sa(o["tx"], f"{path}.tx", o["cipher"], xpn, base, problems)
        seen = set()
        for i, ch in enumerate(o.get("rx") or []):
            p = f"{path}.rx[{i}]"
            if bool(ch.get("sci")) == bool(ch.get("mac")):
                problems.add(p, "give the sender as sci, or as mac (and port)")
            elif ch.get("sci") and ch.get("port"):
                problems.add(f"{p}.port", "the port is part of sci: give one or the other")
            s = self.rx_sci(ch)
            if s in seen:
                problems.add(p, f"a second receive channel for SCI {s}")
            seen.add(s)
            ans = [sa["an"] for sa in ch.get("sas") or []]
            if len(ans) != len(set(ans)):
                problems.add(f"{p}.sas", "each AN may be used once per channel")
            for j, sa in enumerate(ch.get("sas") or []):
                check_sa(sa, f"{p}.sas[{j}]", o["cipher"], xpn, base, problems)

    @staticmethod
    def rx_sci(ch):
        if ch.get("sci"):
            return ch["sci"].lower()
        return genl.sci(ch["mac"], ch.get("port") or 1).hex() if ch.get("mac") else None

    def normalize(self, opt, value):
        if value is None:
            return None
        if opt == "tx":
            extra = value.get("others") or []
            return (value["an"], _kid(value["key_id"])) + tuple(extra)
        if opt == "rx":
            return sorted((self.rx_sci(ch), tuple(sorted((sa["an"], _kid(sa["key_id"])) for sa in ch.get("sas") or [])))
                          for ch in value)
        if opt == "sci":
            return value.lower()
        return value

    def describe(self, opt, value):
        sa = lambda x: f"SA {x['an']} key {x['key_id']} ***"  # noqa: E731
        if opt == "tx" and value:
            return sa(value) + "".join(f", {o}" for o in value.get("others") or [])
        if opt == "rx" and value is not None:
            return "[" + "; ".join(f"sci {self.rx_sci(ch)}: " + ", ".join(sa(x) for x in ch.get("sas") or [])
                                   for ch in value) + "]"
        return None

    # ---- kernel ----------------------------------------------------------------
    def encode_value(self, opt, value, ctx, iface):
        if opt == "cipher":
            return CIPHERS[value]
        if opt == "validate":
            return VALIDATE[value]
        return super().encode_value(opt, value, ctx, iface)

    def info_data(self, iface, ctx, only=None):
        o = iface.options
        parts = [super().info_data(iface, ctx, only=None if only is None else set(only) & set(self.netlink))]
        if only is None:
            if o.get("sci"):
                parts.append(nl.attr(A["SCI"], bytes.fromhex(o["sci"])))
            elif o.get("port"):
                parts.append(nl.be16(A["PORT"], o["port"]))
        if o.get("tx") and (only is None or "tx" in only):
            parts.append(nl.u8(A["ENCODING_SA"], o["tx"]["an"]))
        return b"".join(parts)

    def decode(self, link, resolve):
        out = super().decode(link, resolve)
        a = nl.parse(link.data) if link.data is not None else {}
        # GCM-AES-128 comes back as MACSEC_DEFAULT_CIPHER_ID, an older id of it
        names = {v: k for k, v in CIPHERS.items()} | {0x0080020001000001: "gcm-aes-128"}
        out["cipher"] = names.get(out.get("cipher"), out.get("cipher"))
        out["validate"] = {v: k for k, v in VALIDATE.items()}.get(out.get("validate"))
        if A["SCI"] in a:
            raw = bytes(a[A["SCI"]])
            out["sci"] = raw.hex()
            out["port"] = struct.unpack(">H", raw[6:8])[0]
        out["encoding_sa"] = a[A["ENCODING_SA"]][0] if A["ENCODING_SA"] in a else None
        return out

    def unmasked(self, item):
        """Each masked key (an export's `***`) as a key of zeros of its cipher's length."""
        from .macsec_sa import KEY_LEN
        zero = "00" * KEY_LEN[item.get("cipher") or "gcm-aes-128"]

        def sa(x):
            return {**x, "key": zero} if x.get("key") == "***" else x
        tx = item.get("tx")
        return {**item, **({"tx": sa(tx) if isinstance(tx, dict) else [sa(x) for x in tx]} if tx else {}),
                **({"rx": [{**ch, "sas": [sa(x) for x in ch.get("sas") or []]} for ch in item["rx"]]}
                   if item.get("rx") else {})}

    def exported_options(self, options, mac):
        """The kernel reports both sci and port: a file gives one, the port
        when the sci is the device's MAC and it (so a template without MACs
        still works)."""
        sci, port = options.get("sci"), options.get("port")
        if sci and mac and port and genl.sci(mac, port).hex() == sci.lower():
            return {k: v for k, v in options.items() if k != "sci"}
        return {k: v for k, v in options.items() if k != "port"}

    def observe_more(self, link, opts, dumps):
        """The SAs and receive channels, from one genl dump per namespace."""
        secys = dumps.cached("macsec", lambda k, ns: genl.dump(k.genl(ns, genl.FAMILY)))
        s = secys.get(link.ifindex)
        enc = opts.pop("encoding_sa", None)
        if s is None:
            return
        # an SA is active as the file makes it: only an inactive one says so
        s = {"tx": [_as_filed(sa) for sa in s["tx"]],
             "rx": [{**ch, "sas": [_as_filed(sa) for sa in ch["sas"]]} for ch in s["rx"]]}
        tx = [sa for sa in s["tx"] if sa["an"] == enc]
        opts["tx"] = ({**tx[0], "key": MASKED, "others": [f"stale SA {sa['an']}" for sa in s["tx"] if sa["an"] != enc]}
                      if tx else None)
        opts["rx"] = [{"sci": ch["sci"], "sas": [{**sa, "key": MASKED} for sa in ch["sas"]]} for ch in s["rx"]]

    def create(self, ctx, iface):
        super().create(ctx, iface)
        g, idx = ctx.genl(iface.netns, genl.FAMILY), ctx.ifindex(*iface.key)
        o = iface.options
        xpn = "xpn" in o["cipher"]
        for ch in o.get("rx") or []:
            sci = bytes.fromhex(self.rx_sci(ch))
            genl.add_rxsc(g, idx, sci)
            for sa in ch.get("sas") or []:
                genl.add_rxsa(g, idx, sci, sa["an"], **_sa_args(sa, xpn))
        if o.get("tx"):
            genl.add_txsa(g, idx, o["tx"]["an"], **_sa_args(o["tx"], xpn))

    def modify(self, ctx, iface, changed):
        """Re-keying without a gap: new receive SAs first, then the new
        transmit SA and the switch to it, then the old SAs go."""
        o = iface.options
        g, idx = ctx.genl(iface.netns, genl.FAMILY), ctx.ifindex(*iface.key)
        xpn = "xpn" in o["cipher"]
        old_rx = {ch["sci"]: {sa["an"]: _kid(sa["key_id"]) for sa in ch.get("sas") or []}
                  for ch in (changed.get("rx") or [])} if "rx" in changed else None
        want_rx = {self.rx_sci(ch): ch for ch in o.get("rx") or []}
        if old_rx is not None:
            for sci, ch in want_rx.items():
                raw = bytes.fromhex(sci)
                have = old_rx.get(sci)
                if have is None:
                    genl.add_rxsc(g, idx, raw)
                    have = {}
                for sa in ch.get("sas") or []:
                    if have.get(sa["an"]) == _kid(sa["key_id"]):
                        continue
                    if sa["an"] in have:
                        genl.del_rxsa(g, idx, raw, sa["an"])
                    genl.add_rxsa(g, idx, raw, sa["an"], **_sa_args(sa, xpn))
        if "tx" in changed:
            old, new = changed["tx"] or {}, o["tx"]
            if (old.get("an"), _kid(old.get("key_id") or "")) != (new["an"], _kid(new["key_id"])):
                if old.get("an") == new["an"]:
                    genl.del_txsa(g, idx, new["an"])
                genl.add_txsa(g, idx, new["an"], **_sa_args(new, xpn))
            rest = {k: v for k, v in changed.items() if k in self.netlink} | {"tx": None}
            super().modify(ctx, iface, rest)   # the encoding SA, and other link options
            for stale in [old.get("an")] + [int(s.split()[-1]) for s in old.get("others") or []]:
                if stale is not None and stale != new["an"]:
                    genl.del_txsa(g, idx, stale)
        elif set(changed) & set(self.netlink):
            super().modify(ctx, iface, {k: v for k, v in changed.items() if k in self.netlink})
        if old_rx is not None:
            for sci, have in old_rx.items():
                raw = bytes.fromhex(sci)
                if sci not in want_rx:
                    genl.del_rxsc(g, idx, raw)
                    continue
                want = {sa["an"] for sa in want_rx[sci].get("sas") or []}
                for an in have:
                    if an not in want:
                        genl.del_rxsa(g, idx, raw, an)

    def link_label(self, options):
        return f"MACsec {options.get('cipher') or ''}".strip()

    def observed_extra(self, link, resolve, dumps):
        secys = dumps.cached("macsec", lambda k, ns: genl.dump(k.genl(ns, genl.FAMILY)))
        s = secys.get(link.ifindex)
        if not s:
            return {}
        return {"sci": s["sci"], "tx_sas": [f"{sa['an']} key {sa['key_id']} *** pn {sa['pn']}" for sa in s["tx"]],
                "rx_channels": {ch["sci"]: [f"{sa['an']} key {sa['key_id']} *** pn {sa['pn']}" for sa in ch["sas"]]
                                for ch in s["rx"]}}

    # ---- the reference's notation -------------------------------------------
    def iproute2(self, iface):
        o = iface.options
        out = []
        if o.get("sci"):
            out += ["sci", o["sci"]]
        elif o.get("port"):
            out += ["port", o["port"]]
        out += ["cipher", o["cipher"]]
        if o.get("icv_len"):
            out += ["icvlen", o["icv_len"]]
        for k, word in (("encrypt", "encrypt"), ("protect", "protect"), ("send_sci", "send_sci"),
                        ("end_station", "end_station"), ("scb", "scb"), ("replay_protect", "replay")):
            if o.get(k) is not None:
                out += [word, "on" if o[k] else "off"]
        if o.get("window") is not None:
            out += ["window", o["window"]]
        if o.get("validate"):
            out += ["validate", o["validate"]]
        if o.get("tx"):
            out += ["encodingsa", o["tx"]["an"]]
        return out

    def iproute2_extra(self, iface):
        o = iface.options
        out = []
        if o.get("tx"):
            out.append(ipcmd(iface.netns, "macsec", "add", iface.name, "tx", "sa", *_sa_words(o["tx"])))
        for ch in o.get("rx") or []:
            who = ["sci", ch["sci"]] if ch.get("sci") else ["port", ch.get("port") or 1, "address", ch["mac"]]
            out.append(ipcmd(iface.netns, "macsec", "add", iface.name, "rx", *who))
            for sa in ch.get("sas") or []:
                out.append(ipcmd(iface.netns, "macsec", "add", iface.name, "rx", *who, "sa", *_sa_words(sa)))
        return out


KIND = Macsec()
