# needs: veth
# A router as FRR and modern iproute2 set one up: nexthop objects (a
# gateway on each uplink, a weighted group of both, an IPv6 gateway, a
# blackhole) with routes through them, and routes carrying metrics (a
# locked path MTU, a larger initial window, an IPv6 hop limit).
ip netns add rt
ip -n rt link set lo up
ip -n rt link add up0 type veth peer name up1
ip -n rt link set up0 up
ip -n rt link set up1 up
ip -n rt addr add 10.80.0.1/24 dev up0
ip -n rt addr add 10.81.0.1/24 dev up1
ip -n rt addr add fd00:80::1/64 dev up0 nodad
ip -n rt nexthop add id 1 via 10.80.0.254 dev up0
ip -n rt nexthop add id 2 via 10.81.0.254 dev up1
ip -n rt nexthop add id 3 group 1/2,3
ip -n rt nexthop add id 4 via fd00:80::254 dev up0
ip -n rt -6 nexthop add id 5 blackhole
ip -n rt route add default nhid 3
ip -n rt route add 10.90.0.0/16 nhid 1 metric 10
ip -n rt -6 route add default nhid 4
ip -n rt -6 route add fd00:99::/48 nhid 5
ip -n rt route add 10.91.0.0/16 via 10.80.0.254 mtu lock 1400 initcwnd 10 advmss 1360
ip -n rt -6 route add fd00:91::/64 via fd00:80::254 hoplimit 32 mtu 1400
