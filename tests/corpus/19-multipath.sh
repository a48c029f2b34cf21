# needs: veth
# Equal- and weighted-cost multipath (ECMP) routes, as a router with two
# uplinks has them: IPv4 through two gateways with weights, IPv6 default
# through two gateways, and one through two devices in another table.
ip netns add mp
ip -n mp link add e0 type veth peer name e1
ip -n mp link set e0 up
ip -n mp link set e1 up
ip -n mp addr add 10.60.0.1/24 dev e0
ip -n mp addr add 10.61.0.1/24 dev e1
ip -n mp addr add fd00:60::1/64 dev e0 nodad
ip -n mp addr add fd00:61::1/64 dev e1 nodad
ip -n mp route add 10.73.0.0/16 nexthop via 10.60.0.2 weight 1 nexthop via 10.61.0.2 weight 3
ip -n mp route add 10.74.0.0/16 table 100 nexthop dev e0 nexthop dev e1
ip -n mp -6 route add default nexthop via fd00:60::2 nexthop via fd00:61::2
