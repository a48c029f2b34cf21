# needs: vxlan veth
# VXLAN forwarding entries as `bridge fdb` makes them with a VNI and a UDP
# port of their own (`... dst 192.0.2.12 vni 501 port 5555`), one sent by
# a device of its own (`... via u1`), an all-zero
# one on another port (head-end replication to a VTEP that listens there),
# and one with the device's own VNI and port given, which the kernel keeps
# as the device's.
ip netns add a
ip -n a link add u0 type veth peer name u1
ip -n a link set u0 up
ip -n a link set u1 up
ip -n a addr add 192.0.2.1/24 dev u0
ip -n a link add vx5 type vxlan id 500 dev u0 dstport 4789 nolearning
ip -n a link set vx5 up
bridge -n a fdb add 02:00:00:00:00:05 dev vx5 dst 192.0.2.12 vni 501 port 5555
bridge -n a fdb add 02:00:00:00:00:07 dev vx5 dst 192.0.2.15 vni 500 port 4789
bridge -n a fdb add 02:00:00:00:00:06 dev vx5 dst 192.0.2.13 via u1
bridge -n a fdb append 00:00:00:00:00:00 dev vx5 dst 192.0.2.14 port 4790
bridge -n a fdb append 00:00:00:00:00:00 dev vx5 dst 192.0.2.16
