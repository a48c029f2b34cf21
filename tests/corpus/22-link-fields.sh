# needs: veth bridge macvlan
# Link fields `ip link set` changes on any device: the transmit queue's
# length (a bridge's, a veth end's, a TUN's, a macvlan's), an alias (a
# description `ip link` shows, as on a switch port), and the arp,
# multicast and allmulticast flags (a TUN's are not an Ethernet device's).
ip netns add lf
ip -n lf link add br0 type bridge
ip -n lf link set br0 txqueuelen 2000 up
ip -n lf link add e0 type veth peer name e1
ip -n lf link set e0 master br0 alias "uplink to the core" txqueuelen 100 up
ip -n lf link set e1 alias port-7 up
ip -n lf tuntap add dev tun0 mode tun
ip -n lf link set tun0 txqueuelen 64
ip -n lf link add m0 link e1 type macvlan mode bridge
ip -n lf link set m0 txqueuelen 0 alias "tenant a" up
ip -n lf link set e1 arp off multicast off
ip -n lf link set m0 allmulticast on
ip -n lf link set tun0 multicast off
