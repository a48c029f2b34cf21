# needs: vxlan veth
# Flow-based VXLAN devices (`external`: eBPF or Open vSwitch give each
# packet its VNI and destination, as Cilium's and OVS's are) beside a
# classic one, on their own UDP ports, in a namespace and in the lab's own.
ip netns add fb
ip -n fb link add vxfb type vxlan external dstport 8472
ip -n fb link add vx9 type vxlan id 9 dstport 4789 nolearning
ip -n fb link set vxfb up
ip link add vxext type vxlan external dstport 6081 nolearning
