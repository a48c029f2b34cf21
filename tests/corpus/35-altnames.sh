# needs: veth bridge
# Alternative names (`ip link property add ... altname`): one on a veth end,
# two on a bridge, one on the other end in another namespace.
ip netns add a
ip netns add b
ip -n a link add br0 type bridge
ip -n a link add v0 type veth peer name v1 netns b
ip -n a link set v0 master br0
ip -n a link property add dev v0 altname uplink-core
ip -n a link property add dev br0 altname switch altname a-rather-long-alternative-name-for-the-bridge
ip -n b link property add dev v1 altname to-switch
ip -n a link set br0 up
ip -n a link set v0 up
ip -n b link set v1 up
