# needs: bridge_vlan_filtering veth
# A VLAN-aware bridge: an access port untagged in VLAN 10, a trunk carrying
# 10 and 20 tagged, the bridge itself in VLAN 20.
ip link add vbr type bridge vlan_filtering 1
ip link add acc type veth peer name accp
ip link add trk type veth peer name trkp
ip link set acc master vbr
ip link set trk master vbr
bridge vlan del dev acc vid 1
bridge vlan add dev acc vid 10 pvid untagged
bridge vlan add dev trk vid 10
bridge vlan add dev trk vid 20
bridge vlan add dev vbr vid 20 pvid untagged self
bridge vlan del dev vbr vid 1 self
ip link set vbr up
ip link set acc up
ip link set trk up
