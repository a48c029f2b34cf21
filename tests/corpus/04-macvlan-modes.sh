# needs: macvlan veth
# MACVLANs of every mode on a veth in a namespace (Figures 11-15).
ip netns add m
ip -n m link add up0 type veth peer name up0p
ip -n m link add up1 type veth peer name up1p
ip -n m link set up0 up
ip -n m link set up1 up
ip -n m link add mvb link up0 type macvlan mode bridge
ip -n m link add mvp link up0 type macvlan mode private
ip -n m link add mvv link up0 type macvlan mode vepa
ip -n m link add mvs link up0 type macvlan mode source
ip -n m link set mvs type macvlan macaddr add 02:00:00:00:00:aa
ip -n m link add mvt link up1 type macvlan mode passthru
ip -n m addr add 10.20.0.2/24 dev mvb
ip -n m link set mvb up
ip -n m link set mvp mtu 1400
