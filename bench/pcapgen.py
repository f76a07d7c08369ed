#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""flowteam bench — write a pcap of N IPv4/UDP flows (one frame per flow, N <= 2^20).

Frames: Ethernet II / IPv4 (valid header checksum) / UDP (checksum 0),
source and destination addresses in 198.18.0.0/15 (RFC 2544 benchmarking
range), distinct 5-tuples. The frame length (without FCS) is --size bytes;
64 means a 64-byte wire frame with FCS, i.e. 60 bytes written.

Usage: pcapgen.py --flows 65536 --size 64 --out flows64.pcap
"""
import argparse
import struct
import sys

MAX_FLOWS = 1 << 20   # 2^17 source addresses x 8 destination-port groups
PCAP_GLOBAL = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET


def ip_checksum(hdr: bytes) -> int:
    s = 0
    for i in range(0, len(hdr), 2):
        s += (hdr[i] << 8) | hdr[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(flow: int, size: int) -> bytes:
    # Wire size includes the 4-byte FCS, which the pcap does not hold.
    flen = max(60, size - 4)
    dst_mac = bytes([0x02, 0x66, 0x74, 0xFF, 0x00, 0x01])
    src_mac = bytes([0x02, 0x66, 0x74, 0x00, (flow >> 8) & 0xFF, flow & 0xFF])
    eth = dst_mac + src_mac + b"\x08\x00"
    # 198.18.0.0/15: 131072 addresses. Source varies with the flow, destination
    # with flow / 256; ports vary too, so l3 and l34 hashes both see N flows.
    src_ip = (198 << 24) | (18 << 16) | (flow & 0x1FFFF)
    dst_ip = (198 << 24) | (19 << 16) | ((flow * 2654435761) & 0xFFFF)
    sport = 1024 + (flow % 60000)
    # Beyond 2^17 flows the source address repeats: flow >> 17 goes into the
    # destination port, so (source address, destination port) stays unique.
    dport = 5001 + (flow % 7) + 7 * (flow >> 17)
    ip_len = flen - 14
    udp_len = ip_len - 20
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, ip_len, flow & 0xFFFF, 0x4000, 64, 17, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0)
    payload = struct.pack("!I", flow) + bytes(udp_len - 8 - 4)
    out = eth + ip + udp + payload
    assert len(out) == flen, (len(out), flen)
    return out


def write_pcap(path: str, flows: int, size: int) -> None:
    if not 1 <= flows <= MAX_FLOWS:
        raise ValueError("flows: 1..%d" % MAX_FLOWS)
    with open(path, "wb") as f:
        f.write(PCAP_GLOBAL)
        for i in range(flows):
            fr = frame(i, size)
            f.write(struct.pack("<IIII", i // 1_000_000, i % 1_000_000, len(fr), len(fr)))
            f.write(fr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, default=65536, help="flows (= frames in the file), default 65536")
    ap.add_argument("--size", type=int, default=64, help="wire frame size with FCS: 64..1518, default 64")
    ap.add_argument("--out", required=True, help="pcap file to write")
    a = ap.parse_args(argv)
    if not 1 <= a.flows <= MAX_FLOWS:
        ap.error("--flows: 1..%d" % MAX_FLOWS)
    if not 64 <= a.size <= 1518:
        ap.error("--size: 64..1518")
    write_pcap(a.out, a.flows, a.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
