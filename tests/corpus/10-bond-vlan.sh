# needs: bond vlan veth
# An active-backup bond of two veths with link monitoring (Figure 2), a VLAN
# on the bond, the other ends in a namespace.
ip netns add peer
ip link add b0p0 type veth peer name x0 netns peer
ip link add b0p1 type veth peer name x1 netns peer
ip link add bond0 type bond mode active-backup miimon 100 updelay 200 downdelay 200
ip link set b0p0 master bond0
ip link set b0p1 master bond0
ip link set bond0 type bond primary b0p0
ip link set bond0 up
ip link add link bond0 name bond0.10 type vlan id 10
ip link set bond0.10 up
ip addr add 10.50.0.1/24 dev bond0.10
ip -n peer link set x0 up
ip -n peer link set x1 up
