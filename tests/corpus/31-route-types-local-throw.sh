# needs: veth
# Routes of the types a file declares beside unicast and those that drop:
# local (any-IP: every address of a prefix is the host's own, in the local
# table, through lo and through another device; IPv4 and IPv6) and throw
# (policy routing: the lookup in that table ends, the next rule goes on),
# someone's, never the kernel's own entries of the local table.
ip netns add lt
ip -n lt link set lo up
ip -n lt route add local 10.52.0.0/24 dev lo table local
ip -n lt link add e0 type veth peer name e1
ip -n lt addr add 10.61.0.1/24 dev e0
ip -n lt link set e0 up
ip -n lt -6 route add local fd00:52::/64 dev lo table local
ip -n lt route add local 10.53.0.0/24 dev e0
ip -n lt route add throw 10.54.0.0/16 table 100
ip -n lt route add throw 10.55.0.0/16 metric 5
ip -n lt -6 route add throw fd00:54::/48 table 100
ip -n lt route add 10.56.0.0/16 via 10.61.0.254 table 100
