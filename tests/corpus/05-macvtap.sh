# needs: macvtap veth
# A MACVTAP for a VM on a veth (Figure 19), in bridge mode, and a second in vepa.
ip link add low type veth peer name lowp
ip link set low up
ip link add mvtap0 link low type macvtap mode bridge
ip link add mvtap1 link low type macvtap mode vepa
ip link set mvtap0 address 52:54:00:12:34:56 up
