# needs: bridge veth
# A switch namespace holds the bridge; each host's veth has its peer as a
# port of that bridge (the peer lives in the switch's namespace).
ip netns add sw
ip netns add a
ip netns add b
ip -n sw link add br0 type bridge
ip -n sw link set br0 up
for h in a b; do
  ip -n $h link add eth0 type veth peer name p-$h netns sw
  ip -n sw link set p-$h master br0 up
  ip -n $h link set eth0 up
done
ip -n a addr add 192.168.5.1/24 dev eth0
ip -n b addr add 192.168.5.2/24 dev eth0
ip netns exec a sysctl -qw net.ipv4.conf.eth0.proxy_arp=1
ip netns exec b sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
ip netns exec sw sysctl -qw net.ipv4.conf.all.rp_filter=2
ip netns exec a sysctl -qw net.ipv4.conf.eth0.arp_filter=1
