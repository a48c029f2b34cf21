# needs: veth
# Routes in several tables: the main table, a table of its own, a route with
# a source address, a link-scope route, an on-link gateway, metrics, IPv6.
ip netns add r
ip -n r link add e0 type veth peer name e1
ip -n r link set e0 up
ip -n r link set e1 up
ip -n r addr add 10.30.0.1/24 dev e0
ip -n r addr add 10.31.0.1/24 dev e1
ip -n r addr add fd00:30::1/64 dev e0 nodad
ip -n r route add 10.40.0.0/16 via 10.30.0.254 metric 50
ip -n r route add 10.41.0.0/16 via 10.30.0.253 table 100
ip -n r route add default via 10.31.0.254 table 100
ip -n r route add 10.42.0.0/16 dev e1 scope link src 10.31.0.1
ip -n r route add 10.43.0.0/16 via 192.0.2.1 dev e0 onlink
ip -n r -6 route add fd00:40::/64 via fd00:30::fe metric 10
ip -n r -6 route add fd00:41::/64 via fd00:30::fd table 200
