# needs: veth bridge
# Static neighbours as `ip neigh` makes them: permanent IPv4 and IPv6
# entries (`ip neigh add` is permanent by default), one replaced, proxy
# entries of both families, on a veth, on a bridge, and in the namespace
# the lab runs in.
ip netns add s
ip -n s link add e0 type veth peer name e1
ip -n s link add br0 type bridge
ip -n s link set e1 master br0
ip -n s link set e0 up
ip -n s link set e1 up
ip -n s link set br0 up
ip -n s addr add 10.70.0.1/24 dev e0
ip -n s addr add 10.71.0.1/24 dev br0
ip -n s neigh add 10.70.0.2 lladdr 02:00:00:00:70:02 dev e0
ip -n s neigh add 10.70.0.3 lladdr 02:00:00:00:70:03 dev e0 nud permanent
ip -n s neigh replace 10.70.0.3 lladdr 02:00:00:00:70:33 dev e0 nud permanent
ip -n s -6 neigh add fd00:70::2 lladdr 02:00:00:00:70:12 dev e0 nud permanent
ip -n s neigh add 10.71.0.9 lladdr 02:00:00:00:71:09 dev br0
ip -n s neigh add proxy 10.70.0.50 dev e0
ip -n s -6 neigh add proxy fd00:70::50 dev br0
ip link add h0 type veth peer name h1
ip link set h0 up
ip neigh add 192.0.2.9 lladdr 02:00:00:00:02:09 dev h0
