# needs: bridge veth
# A bridge with STP and its timers set, multicast snooping off, and ports
# with their own cost, priority, hairpin, learning and flooding.
ip link add br1 type bridge stp_state 1 forward_delay 400 hello_time 100 max_age 1200 priority 4096 ageing_time 6000 mcast_snooping 0 group_fwd_mask 0x4000
ip link add p1 type veth peer name p1b
ip link add p2 type veth peer name p2b
ip link set p1 master br1
ip link set p2 master br1
ip link set dev p1 type bridge_slave cost 10 priority 5 hairpin on
ip link set dev p2 type bridge_slave learning off flood off isolated on
ip link set br1 up
ip link set p1 up
ip link set p2 up
ip link set p1b up
