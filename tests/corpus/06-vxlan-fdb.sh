# needs: vxlan veth bridge
# Two VTEPs in two namespaces over a veth underlay (Figure 8), each VXLAN a
# port of a bridge, the remote VTEP written as FDB entries.
ip netns add vt1
ip netns add vt2
ip -n vt1 link add u type veth peer name u netns vt2
ip -n vt1 addr add 172.16.0.1/24 dev u
ip -n vt2 addr add 172.16.0.2/24 dev u
ip -n vt1 link set u up
ip -n vt2 link set u up
for n in 1 2; do
  o=$((3 - n))
  ip -n vt$n link add vx42 type vxlan id 42 local 172.16.0.$n dstport 4789 dev u learning
  ip -n vt$n link add br42 type bridge
  ip -n vt$n link set vx42 master br42 up
  ip -n vt$n link set br42 up
  ip netns exec vt$n bridge fdb append 00:00:00:00:00:00 dev vx42 dst 172.16.0.$o
  ip -n vt$n addr add 10.42.0.$n/24 dev br42
done
ip netns exec vt1 bridge fdb add 02:42:00:00:00:02 dev vx42 dst 172.16.0.2 self permanent
