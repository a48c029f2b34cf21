# needs: vxlan veth
# A routed underlay the way a routing lab builds it: each namespace's own
# address on lo (one for IPv4, one for IPv6), reached over a veth by a /32
# route, and a VXLAN whose local endpoint is that lo address.
ip netns add lb1
ip netns add lb2
ip -n lb1 link add u type veth peer name u netns lb2
for n in 1 2; do
  o=$((3 - n))
  ip -n lb$n link set lo up
  ip -n lb$n link set u up
  ip -n lb$n addr add 192.0.2.$n/32 dev lo
  ip -n lb$n addr add 2001:db8:ff::$n/128 dev lo nodad
  ip -n lb$n addr add 172.17.0.$n/30 dev u
  ip -n lb$n route add 192.0.2.$o/32 via 172.17.0.$o
  ip -n lb$n link add vx9 type vxlan id 9 local 192.0.2.$n remote 192.0.2.$o dstport 4789
  ip -n lb$n link set vx9 up
  ip -n lb$n addr add 10.99.0.$n/24 dev vx9
done
