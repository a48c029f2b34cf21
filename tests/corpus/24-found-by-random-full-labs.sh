# needs: veth dummy bond vlan ipvlan ipvtap vcan vxcan
# What random labs of every kind built by hand found (in the guest): a
# bond's port with its own MTU (the bond gives a joining port the bond's);
# a VLAN made on a dummy (no ARP, no multicast: the VLAN takes both) with
# multicast turned on, and one whose dummy got ARP after it was made (IPv6
# started the VLAN without duplicate address detection); an IPVTAP in l3s
# mode kept down with ARP on; CAN devices with CAN XL MTUs (IPv6 starts on
# them, routes and all), one the peer of a vxcan pair.
ip netns add rg
ip -n rg link add bo0 type bond mode active-backup miimon 100
ip -n rg link add dp0 type dummy
ip -n rg link set dp0 master bo0
ip -n rg link set dp0 mtu 1280
ip -n rg link set bo0 up
ip -n rg link add dv0 type dummy
ip -n rg link add link dv0 name dv0.7 type vlan id 7
ip -n rg link add link dv0 name dv0.8 type vlan proto 802.1ad id 8
ip -n rg link set dv0 arp on up
ip -n rg link set dv0.7 multicast on up
ip -n rg link set dv0.8 up
ip -n rg addr add 10.42.0.1/24 dev dv0.8
ip -n rg link add it0 link dv0 type ipvtap mode l3s
ip -n rg link set it0 arp on
ip -n rg link add vcx0 type vcan
ip -n rg link set vcx0 mtu 1400 up
ip -n rg link add xc0 type vxcan peer name xc1
ip -n rg link set xc1 mtu 2060 up
ip -n rg link set xc0 up
ip -n rg -6 route add fd99:42::/64 dev xc1
