# needs: veth bridge
# A switch whose ports forward only to MACs written into its forwarding
# database by hand: learning and unknown-unicast flooding off on the ports,
# static entries (`bridge fdb add ... master static`) for the hosts behind
# each, and a local (permanent) one for the bridge's own second MAC.
ip netns add sw
ip netns add ha
ip netns add hb
ip -n sw link add br0 type bridge
ip -n sw link set br0 up
for h in a b; do
  ip -n sw link add p$h type veth peer name eth0 netns h$h
  ip -n sw link set p$h master br0
  ip -n sw link set p$h type bridge_slave learning off flood off
  ip -n sw link set p$h up
  ip -n h$h link set eth0 up
done
ip -n ha link set eth0 address 02:00:00:00:0a:01
ip -n hb link set eth0 address 02:00:00:00:0b:01
ip -n ha addr add 10.27.0.1/24 dev eth0
ip -n hb addr add 10.27.0.2/24 dev eth0
bridge -n sw fdb add 02:00:00:00:0a:01 dev pa master static
bridge -n sw fdb add 02:00:00:00:0b:01 dev pb master static
bridge -n sw fdb add 02:00:00:00:0b:02 dev pb master static
bridge -n sw fdb add 02:00:00:00:0e:01 dev pa master
