# needs: team veth
# A team run by teamd in active-backup (Figure 3), two veth ports.
ip link add tp0 type veth peer name tq0
ip link add tp1 type veth peer name tq1
teamd -d -t team0 -c '{"runner": {"name": "activebackup"}, "link_watch": {"name": "ethtool"}}' >/dev/null 2>&1
ip link set tp0 down
ip link set tp1 down
ip link set tp0 master team0
ip link set tp1 master team0
ip link set team0 up
ip link set tq0 up
ip link set tq1 up
ip addr add 10.51.0.1/24 dev team0
