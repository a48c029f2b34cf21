# needs: veth bridge
# Devices with MACs and MTUs of their own, one left down, a jumbo bridge.
ip link add jb type bridge
ip link set jb mtu 9000 address 02:aa:bb:cc:dd:01 up
ip link add j1 mtu 9000 address 02:aa:bb:cc:dd:02 type veth peer name j1p mtu 9000 address 02:aa:bb:cc:dd:03
ip link set j1 master jb up
ip link add idle type veth peer name idlep
ip link set idle mtu 1280
