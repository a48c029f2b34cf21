# needs: veth
# Routes that drop what they match, as a router announcing aggregates or
# fencing off a range has them: blackhole, unreachable and prohibit, IPv4
# and IPv6, in the main table and another, with a metric; beside a unicast
# route through a gateway.
ip netns add rt
ip -n rt link add e0 type veth peer name e1
ip -n rt link set e0 up
ip -n rt link set e1 up
ip -n rt addr add 10.60.0.1/24 dev e0
ip -n rt addr add fd00:60::1/64 dev e0 nodad
ip -n rt route add blackhole 10.70.0.0/16
ip -n rt route add unreachable 10.71.0.0/16 metric 5
ip -n rt route add prohibit 10.72.0.0/16 table 100
ip -n rt route add 10.74.0.0/16 via 10.60.0.2
ip -n rt -6 route add blackhole fd00:70::/48
ip -n rt -6 route add unreachable fd00:71::/48 metric 7
ip -n rt -6 route add prohibit fd00:72::/48 table 200
