# needs: veth
# Addresses as `ip address add` gives them beyond address/prefix: a
# point-to-point peer on a TUN device (IPv4 and IPv6: the route goes to the
# peer), an address without its prefix route, one whose prefix route has a
# metric (IPv4 and IPv6), addresses with a scope.
ip netns add af
ip -n af link add e0 type veth peer name e1
ip -n af link set e0 up
ip -n af link set e1 up
ip -n af tuntap add dev tun0 mode tun
ip -n af link set tun0 up
ip -n af addr add 10.50.0.1 peer 10.50.0.2/32 dev tun0
ip -n af addr add fd00:53::1 peer fd00:53::2/128 dev tun0 nodad
ip -n af addr add 10.51.0.1/24 dev e0 noprefixroute
ip -n af addr add 10.51.1.1/24 dev e0
ip -n af addr add 10.52.0.1/24 dev e1 metric 77
ip -n af addr add fd00:52::1/64 dev e1 noprefixroute nodad
ip -n af addr add fd00:54::1/64 dev e1 metric 300 nodad
# an address's scope where it is not the one `ip address add` gives (link,
# host, a number)
ip -n af addr add 169.254.7.1/16 dev e0 scope link
ip -n af addr add 10.57.0.1/24 dev e1 scope host
ip -n af addr add 10.58.0.1/24 dev e1 scope 7
# broadcast addresses (none, as `ip address add` alone gives; the subnet's,
# as `brd +`; its lowest; another) and labels (an alias of the old style)
ip -n af addr add 10.59.0.1/24 dev e0 brd +
ip -n af addr add 10.59.1.1/24 dev e0 brd -
ip -n af addr add 10.59.2.1/24 dev e0 brd 10.59.2.127
ip -n af addr add 10.59.3.1/24 dev e0 label e0:1
ip -n af addr add 10.59.3.2/24 dev e0 label e0:two brd +
ip -n af addr add 10.59.4.1/30 dev e1 label e1:x
# a label with a space (quoted in the file, as a shell quotes it)
ip -n af addr add 10.59.5.1/24 dev e0 label "e0:a b"
# IPv6 addresses' flags: a mobile node's home address, one the kernel makes
# temporary addresses from (use_tempaddr permitting)
ip -n af addr add fd00:55::1/64 dev e1 home nodad
ip -n af addr add fd00:56::1/64 dev e1 mngtmpaddr nodad
