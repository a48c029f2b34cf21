# needs: macsec veth
# keys: 01=81818181818181818181818181818181 02=82828282828282828282828282828282
# MACsec on a veth (Figure 20): a transmit SA and a receive channel with its
# SA, keyed on the other end's MAC.
ip link add ms0 type veth peer name ms0p
ip link set ms0 address 02:00:00:00:01:01
ip link set ms0p address 02:00:00:00:01:02
ip link set ms0 up
ip link set ms0p up
ip link add link ms0 macsec0 type macsec port 1 encrypt on
ip macsec add macsec0 tx sa 0 pn 1 on key 01 81818181818181818181818181818181
ip macsec add macsec0 rx port 1 address 02:00:00:00:01:02
ip macsec add macsec0 rx port 1 address 02:00:00:00:01:02 sa 0 pn 1 on key 02 82828282828282828282828282828282
ip link set macsec0 up
ip addr add 10.54.0.1/24 dev macsec0
