# needs: bridge veth
# Three namespaces, each with a veth into one bridge on the machine's side;
# the bridge holds the gateway address, IPv4 and IPv6, forwarding on.
ip link add br0 type bridge
ip link set br0 up
ip addr add 10.10.0.1/24 dev br0
ip addr add fd00:10::1/64 dev br0 nodad
for i in 1 2 3; do
  ip netns add h$i
  ip link add veth$i type veth peer name eth0 netns h$i
  ip link set veth$i master br0 up
  ip -n h$i link set eth0 up
  ip -n h$i addr add 10.10.0.1$i/24 dev eth0
  ip -n h$i addr add fd00:10::1$i/64 dev eth0 nodad
  ip -n h$i route add default via 10.10.0.1
  ip -n h$i -6 route add default via fd00:10::1
done
sysctl -qw net.ipv4.ip_forward=1
