# needs: vlan veth
# 802.1Q VLANs on a veth, and QinQ: an 802.1ad service VLAN with 802.1Q
# customer VLANs inside it (Figure 6), one with its own priority mapping.
ip netns add q
ip -n q link add trunk type veth peer name trunkp
ip -n q link set trunk up
ip -n q link add link trunk name trunk.100 type vlan id 100
ip -n q link add link trunk name trunk.200 type vlan id 200 reorder_hdr off
ip -n q link add link trunk name svlan type vlan proto 802.1ad id 300
ip -n q link add link svlan name cvlan type vlan proto 802.1Q id 30
ip -n q link set trunk.100 up
ip -n q link set svlan up
ip -n q link set cvlan up
ip -n q addr add 10.52.0.1/24 dev cvlan
