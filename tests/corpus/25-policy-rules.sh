# needs: veth
# Policy routing as `ip rule` builds it: source and destination rules into
# tables of their own, a rule that drops, one by firewall mark under a mask,
# inverted, by incoming and outgoing device, by TOS, a lookup whose default
# route is suppressed; IPv4 and IPv6; some given a priority, the others
# taking the kernel's; one in the namespace the lab runs in.
ip netns add p
ip -n p link add e0 type veth peer name e1
ip -n p link set e0 up
ip -n p link set e1 up
ip -n p addr add 10.50.0.1/24 dev e0
ip -n p addr add fd00:50::1/64 dev e0 nodad
ip -n p route add default via 10.50.0.254 table 100
ip -n p -6 route add default via fd00:50::fe table 100
ip -n p rule add from 10.50.0.0/24 lookup 100 pref 100
ip -n p rule add to 192.0.2.0/24 lookup 100
ip -n p rule add to 198.51.100.0/24 prohibit pref 110
ip -n p rule add to 203.0.113.0/24 blackhole
ip -n p rule add to 203.0.114.0/24 unreachable
ip -n p rule add not fwmark 0x10/0xff iif e0 lookup 200 pref 120
ip -n p rule add fwmark 7 lookup 201
ip -n p rule add oif e1 tos 0x10 lookup 202
ip -n p rule add lookup main suppress_prefixlength 0 pref 90
ip -n p -6 rule add from fd00:50::/64 lookup 100 pref 100
ip -n p -6 rule add to fd00:99::1 lookup 300
ip -n p -6 rule add iif lo lookup 301
ip rule add from 10.51.0.0/16 lookup 51 pref 5100
