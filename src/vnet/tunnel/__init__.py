"""The reference's TUN application (Figure 1b): packets read from a TUN (or
TAP) device travel to a peer inside UDP datagrams, and the peer writes them
to its own device.

The device runs in offload mode: the kernel hands over TCP super-packets of
up to 64 KiB with a virtio_net_hdr in front (one read instead of dozens) and
takes them back the same way on the other side, where it segments them
itself. A message (virtio_net_hdr + packet) is sealed once, cut into chunks
that fit the underlay's MTU, and the chunks leave in one send (UDP GSO,
UDP_SEGMENT); the receiver takes bursts of them in one read (UDP GRO) and
writes each reassembled message to its device. Small messages (TCP's ACKs)
read in one wakeup leave together in one GSO send too.

The parts, each importing only parts above it (those named in brackets):

    options      `vnet tunnel`'s options, spelled once (the CLI's parser, the
                 TUN/TAP kind's fields and whatever builds a tunnel's command
                 line read them); it imports nothing
    endpoints    the addresses, roles and key the options give (the CLI and
                 the kind's validation); the standard library only
    wire         the wire format and sealing: the datagram header, sizes,
                 and ``Sealing``, the sending side's framing
    reassembly   reassembly and replay: ``Reassembly``, the receiving side
                 (wire)
    batched      batched I/O with the GSO fallback: ``BatchedIO``, the
                 device's and the socket's calls (wire)
    loop         the loop, signals and counters: ``Tunnel``, one end, made of
                 the three sides above (batched, reassembly, wire)
    startup      start-up: device, socket, MTU, priority, then ``Tunnel.run``
                 (loop, batched, endpoints, options, wire; and
                 vnet.tun, vnet.kernel, vnet.errors)

Only startup reaches outside the package (and wire, batched and
reassembly to ``vnet.kernel.msgio`` for their buffers); nothing in the
package imports the kinds, the CLI or the daemon. Callers import from the
part that owns a name; this module holds nothing else, so importing
``vnet.tunnel.options`` loads no more."""
