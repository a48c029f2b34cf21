# needs: vcan vxcan
# A virtual CAN bus, and a VXCAN pair into a namespace (the VCAN and VXCAN sections).
ip netns add ecu
ip link add vcan0 type vcan
ip link set vcan0 up
ip link add vxcan0 type vxcan peer name vxcan1 netns ecu
ip link set vxcan0 up
ip -n ecu link set vxcan1 up
ip link add vcanfd type vcan
ip link set vcanfd mtu 72
