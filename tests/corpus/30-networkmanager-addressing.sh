# needs: veth
# Addresses as NetworkManager gives them: noprefixroute, then the subnet
# route added by itself with protocol kernel and the connection's metric
# (as the kernel would make it, but not the kernel's), and a DHCP default
# route; IPv4 and IPv6. Beside them an address whose prefix route is the
# kernel's own with a metric of its own (`ip address add ... metric 50`).
ip netns add nm
ip -n nm link set lo up
ip -n nm link add eth0 type veth peer name peer0
ip -n nm link set eth0 up
ip -n nm link set peer0 up
ip -n nm addr add 10.0.0.5/24 dev eth0 noprefixroute
ip -n nm route add 10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5 metric 100
ip -n nm route add default via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.5 metric 100
ip -n nm addr add fd00:5::5/64 dev eth0 noprefixroute nodad
ip -n nm -6 route add fd00:5::/64 dev eth0 proto kernel metric 100
ip -n nm -6 route add default via fd00:5::1 dev eth0 proto dhcp metric 100
ip -n nm addr add 10.1.0.1/24 dev peer0 metric 50
ip -n nm addr add fd00:6::1/64 dev peer0 metric 50 nodad
