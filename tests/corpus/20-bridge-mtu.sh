# needs: bridge veth
# A bridge whose MTU someone set below its ports' (a jumbo-frame veth and a
# plain one): the kernel keeps an MTU set by `ip link set`, where it would
# otherwise follow the smallest port's as ports join.
ip netns add bm
ip -n bm link add br1 type bridge
ip -n bm link set br1 mtu 1400 up
ip -n bm link add v0 type veth peer name v1
ip -n bm link set v0 mtu 9000 up
ip -n bm link set v1 mtu 9000 master br1 up
ip -n bm link add w0 type veth peer name w1
ip -n bm link set w1 master br1 up
ip -n bm link set w0 up
