# needs: veth
# The sysctls a lab changes, as `sysctl -w` leaves them: a router
# (ip_forward, IPv6 forwarding) with one device that does not forward
# (which writing ip_forward would undo), settings of `all` (arp_ignore,
# send_redirects, accept_ra, route_localnet), of `default` (rp_filter,
# which IPv4 copies to the devices that exist, arp_announce, which a
# device made later starts with) and of one device (promote_secondaries,
# arp_notify, keep_addr_on_down).
ip netns add r
ip -n r link add v0 type veth peer name v1
ip -n r link set v0 up
ip -n r link set v1 up
for kv in net.ipv4.ip_forward=1 \
    net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.v1.forwarding=0 \
    net.ipv6.conf.v1.forwarding=0 \
    net.ipv4.conf.all.arp_ignore=1 \
    net.ipv4.conf.all.send_redirects=0 \
    net.ipv6.conf.all.accept_ra=0 \
    net.ipv4.conf.all.route_localnet=1 \
    net.ipv4.conf.default.rp_filter=1 \
    net.ipv4.conf.v0.promote_secondaries=1 \
    net.ipv4.conf.v0.arp_notify=1 \
    net.ipv6.conf.v0.keep_addr_on_down=1 \
    net.ipv4.conf.default.arp_announce=2; do
  ip netns exec r sysctl -qw $kv
done
ip -n r link add w0 type veth peer name w1
ip -n r link set w0 up
