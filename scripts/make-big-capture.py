#!/usr/bin/env python3
"""Builds a large pcap for the issue-4 benchmark by repeating Ethernet/IPv4 corpus traces.

Each repetition shifts the timestamps by 1000 s and rewrites the IPv4 addresses (third octet =
repetition number modulo 256, second octet = repetition / 256) so flows stay distinct. IP checksums
are not fixed (captriage and tcpdump -r do not verify them).

usage: make-big-capture.py OUT.pcap SIZE_MB TRACE.pcap...
"""
import struct
import sys


def frames(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic != 0xA1B2C3D4 or struct.unpack("<I", data[20:24])[0] != 1:
        return []
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, caplen, origlen = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec, usec, origlen, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out


def main():
    out_path, size_mb, traces = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    packets = [f for t in traces for f in frames(t)]
    target = size_mb * 1024 * 1024
    written = 24
    with open(out_path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        rep = 0
        while written < target:
            for sec, usec, origlen, frame in packets:
                f = bytearray(frame)
                if len(f) >= 34 and f[12:14] == b"\x08\x00":
                    for base in (26, 30):
                        f[base + 1] = (rep >> 8) & 0xFF
                        f[base + 2] = rep & 0xFF
                out.write(struct.pack("<IIII", sec + rep * 1000, usec, len(f), origlen))
                out.write(f)
                written += 16 + len(f)
            rep += 1


if __name__ == "__main__":
    main()
