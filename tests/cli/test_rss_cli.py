#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`flowteam rss` end to end: published Microsoft RSS verification values,
RETA slot/queue, JSON shape, and one-line errors with exit code 2."""
import json
import subprocess
import sys
import unittest

FLOWTEAM = sys.argv.pop(1) if len(sys.argv) > 1 else "build/apps/flowteam"


def run(*args):
    return subprocess.run([FLOWTEAM, "rss", *args], capture_output=True, text=True, timeout=30)


def rss_json(*args):
    p = run(*args, "--json")
    if p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)


class PublishedVectors(unittest.TestCase):
    # Microsoft, "Verifying the RSS Hash Calculation": (src, dst, IPv4/IPv6 only, with TCP).
    V4 = [
        ("66.9.149.187:2794", "161.142.100.80:1766", "0x323e8fc2", "0x51ccc178"),
        ("199.92.111.2:14230", "65.69.140.83:4739", "0xd718262a", "0xc626b0ea"),
        ("24.19.198.95:12898", "12.22.207.184:38024", "0xd2d0a5de", "0x5c2b394a"),
        ("38.27.205.30:48228", "209.142.163.6:2217", "0x82989176", "0xafc7327f"),
        ("153.39.163.191:44251", "202.188.127.2:1303", "0x5d1809c5", "0x10e828a2"),
    ]
    V6 = [
        ("[3ffe:2501:200:1fff::7]:2794", "[3ffe:2501:200:3::1]:1766", "0x2cc18cd5", "0x40207d3d"),
        ("[3ffe:501:8::260:97ff:fe40:efab]:14230", "[ff02::1]:4739", "0x0f0c461c", "0xdde51bbf"),
        ("[3ffe:1900:4545:3:200:f8ff:fe21:67cf]:44251", "[fe80::200:f8ff:fe21:67cf]:38024", "0x4b61e985", "0x02d1feef"),
    ]

    def test_ipv4(self):
        for src, dst, l3, l4 in self.V4:
            j = rss_json("--src", src, "--dst", dst)
            self.assertEqual(j["hash_l3"], l3, src)
            self.assertEqual(j["hash_l4"], l4, src)

    def test_ipv6(self):
        for src, dst, l3, l4 in self.V6:
            j = rss_json("--src", src, "--dst", dst)
            self.assertEqual(j["hash_l3"], l3, src)
            self.assertEqual(j["hash_l4"], l4, src)

    def test_explicit_key_equals_default(self):
        key = "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa"
        j = rss_json("--key", key, "--src", self.V4[0][0], "--dst", self.V4[0][1])
        self.assertEqual(j["hash_l4"], self.V4[0][3])

    def test_reta(self):
        # hash_l4 0x51ccc178: low 7 bits = 0x78 = 120 -> slot 120 of 128; queues 0-3 round robin -> 0.
        j = rss_json("--src", self.V4[0][0], "--dst", self.V4[0][1], "--reta-size", "128", "--queues", "0-3")
        self.assertEqual(j["reta_index"], 0x51ccc178 % 128)
        self.assertIn(j["queue"], [0, 1, 2, 3])
        # one queue: every slot maps to it
        j = rss_json("--src", self.V4[0][0], "--dst", self.V4[0][1], "--reta-size", "64", "--queues", "5")
        self.assertEqual(j["queue"], 5)

    def test_symmetric(self):
        a = rss_json("--key", "symmetric", "--src", "198.18.0.1:1000", "--dst", "198.19.0.2:2000")
        b = rss_json("--key", "symmetric", "--src", "198.19.0.2:2000", "--dst", "198.18.0.1:1000")
        self.assertEqual(a["hash_l4"], b["hash_l4"])
        self.assertEqual(a["hash_l3"], b["hash_l3"])

    def test_no_ports(self):
        j = rss_json("--src", "66.9.149.187", "--dst", "161.142.100.80")
        self.assertEqual(j["hash_l3"], "0x323e8fc2")
        self.assertIsNone(j["hash_l4"])


class BadInput(unittest.TestCase):
    CASES = [
        (["--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--key", "zz"], "--key"),
        (["--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--key", "6d5a56"], "--key"),
        (["--src", "1.2.3.999:1", "--dst", "1.2.3.5:2"], "--src"),
        (["--src", "1.2.3.4:99999", "--dst", "1.2.3.5:2"], "--src"),
        (["--src", "1.2.3.4:1", "--dst", "::1"], "--src/--dst"),
        (["--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--proto", "icmp"], "--proto"),
        (["--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--reta-size", "100", "--queues", "0-3"], "--reta-size"),
        (["--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--reta-size", "128"], "--reta-size"),
        (["--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--reta-size", "128", "--queues", "3-1"], "--queues"),
        # IPv6 4-tuple needs a 40-byte key: 16 bytes is too short
        (["--src", "[::1]:1", "--dst", "[::2]:2", "--key", "6d5a56da255b0ec24167253d43a38fb0"], "--key"),
        (["--dst", "1.2.3.5:2"], "src"),
        (["--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--bogus"], "bogus"),
    ]

    def test_errors(self):
        for args, needle in self.CASES:
            p = run(*args)
            self.assertEqual(p.returncode, 2, f"{args}: exit {p.returncode} stderr={p.stderr!r}")
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, f"{args}: {p.stderr!r}")
            self.assertIn(needle, lines[0], args)
            self.assertEqual(p.stdout, "", args)

    def test_help(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("--reta-size", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
