# needs: veth bridge macvlan
# What random labs built by hand (tests/integration/test_corpus_random.py)
# found: a bridge without ports keeps its carrier (vnet neither sets the
# MAC the kernel chose for it nor its default priority, each of which
# takes it), so routes through it are not `linkdown`; a bridge that
# forgets learned MACs at once (ageing_time 0); a MACVLAN set to 1500 on
# a jumbo-frame link (a new one would take 9000); a multipath route whose
# next hops are not in sorted order (the kernel shares flows out by it).
ip netns add rf
ip -n rf link add br0 type bridge ageing_time 0
ip -n rf addr add 10.40.0.1/24 dev br0
ip -n rf link set br0 up
ip -n rf route add 172.20.0.0/24 dev br0
ip -n rf link add up0 type veth peer name up1
ip -n rf link set up0 mtu 9000 up
ip -n rf link set up1 mtu 9000 up
ip -n rf link add link up0 name mv0 type macvlan mode bridge
ip -n rf link set mv0 mtu 1500 up
ip -n rf addr add 10.41.0.1/24 dev mv0
ip -n rf addr add 10.41.0.2/24 dev up1
ip -n rf route add 172.21.0.0/24 nexthop via 10.41.0.9 dev mv0 nexthop via 10.41.0.3 dev up1
# a device whose name holds a dot (as a VLAN's eth0.10), with its own sysctl
ip -n rf link add up.2 type veth peer name up.3
ip -n rf link set up.2 up
ip -n rf link set up.3 up
ip netns exec rf sysctl -qw net/ipv4/conf/up.2/rp_filter=2
ip netns exec rf sysctl -qw net/ipv6/conf/up.3/accept_ra=0
