# needs: veth
# IPv6 multihoming as a site with two providers sets it up: a default route
# from each provider's prefix through that provider's router (source-
# specific routing, `from`), and a plain default beside them.
ip netns add mh
for up in 1 2; do
    ip -n mh link add isp$up type veth peer name peer$up
    ip -n mh link set isp$up up
    ip -n mh addr add fd0$up::1/64 dev isp$up nodad
done
ip -n mh -6 route add default from fd00:aaaa::/48 via fd01::2
ip -n mh -6 route add default from fd00:bbbb::/48 via fd02::2 metric 10
ip -n mh -6 route add default via fd01::2
ip -n mh -6 route add fd00:99::/64 from fd00:aaaa::/48 dev isp2
