# needs: bridge
# Persistent TUN and TAP devices with no process behind them, a TAP in a
# bridge (a VM's port before the VM starts), one multi-queue.
ip tuntap add dev tun0 mode tun
ip tuntap add dev tap0 mode tap
ip tuntap add dev tapmq mode tap multi_queue
ip link add brvm type bridge
ip link set tap0 master brvm
ip link set brvm up
ip link set tap0 up
ip addr add 10.99.0.1/30 dev tun0
ip link set tun0 up
