# needs: ipvlan veth
# IPVLANs in L2 and L3 mode (Figures 16 and 18), each in a namespace of its own.
ip netns add i1
ip netns add i2
ip link add parent type veth peer name parentp
ip link set parent up
ip link add ipv1 link parent type ipvlan mode l2
ip link add ipv2 link parent type ipvlan mode l3
ip link set ipv1 netns i1
ip link set ipv2 netns i2
ip -n i1 link set ipv1 up
ip -n i2 link set ipv2 up
ip -n i1 addr add 10.53.0.1/24 dev ipv1
ip -n i2 addr add 10.53.1.1/24 dev ipv2
ip -n i2 route add default dev ipv2
