#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Every bad input refused once, before any work (issue #15, findings 5-7).

A list of bad command lines covering every option of every command with at
least one bad value (sign, NaN, infinity, overflow, 32-bit truncation, range,
unit, files that cannot be read or written, unbounded work). Each must exit
with status 2 and print exactly one line on stderr that names the option,
print nothing on stdout, and fail before EAL starts (no "EAL:" output, no
run: well under a second each).
"""
import atexit
import concurrent.futures
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

FLOWTEAM = sys.argv.pop(1) if len(sys.argv) > 1 else "build/apps/flowteam"
TMP = tempfile.mkdtemp(prefix="flowteam-bad-input-")
atexit.register(shutil.rmtree, TMP, True)


def path(name):
    return os.path.join(TMP, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    return path(name)


def pcap_header(linktype=1):
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)


def pcap_record(caplen, body=None):
    return struct.pack("<IIII", 1, 0, caplen, caplen) + (b"\xab" * caplen if body is None else body)


EMPTY_PCAP = write("empty.pcap", b"")
NOPKT_PCAP = write("nopackets.pcap", pcap_header())
TRUNC_PCAP = write("truncated.pcap", pcap_header() + pcap_record(100, b"\xab" * 40))
GARBAGE_PCAP = write("garbage.pcap", bytes((i * 7 + 3) & 0xFF for i in range(4096)))
RAWIP_PCAP = write("rawip.pcap", pcap_header(101) + pcap_record(64))
HUGE_PCAP = write("hugecaplen.pcap", pcap_header() + pcap_record(0xFFFFFFF0, b"\xab" * 16))
GARBAGE_CONFIG = write("garbage.conf", b"".join(bytes([(i * 37) & 0xFF]) + (b"\n" if i % 5 == 0 else b"")
                                                for i in range(1, 200)))
BADVALUE_CONFIG = write("badvalue.conf", b"flows = -1\n")
UNKNOWN_CONFIG = write("unknown.conf", b"bogus-option = 1\n")
GARBAGE_INI = write("garbage.ini", b"[scenario]\nname = x\n\x01\x02\x03 garbage \xff\n")
HUGE_INI = write("huge.ini", ("[scenario]\nname = huge\n[sweep]\n" +
                              "".join(f"{k} = " + " ; ".join(str(v) for v in range(1, 1001)) + "\n"
                                      for k in ("flows", "max-flows", "vports"))).encode())
SEED_INI = write("seed.ini", b"[scenario]\nname = s\n[run]\nseed = 1e30\n")
SEED_REP_INI = write("seedrep.ini", b"[scenario]\nname = s\nrepetitions = 3\n[run]\nseed = 1e30\n")
LOSS_INI = write("loss.ini", b"[scenario]\nname = l\ncommand = migrate\n[run]\nloss = nan\n")
DIR = TMP
NOWHERE = "/nonexistent-flowteam-dir/out.json"
LONG_DIR = "/tmp/" + "d" * 200

# (command line, needle): the one stderr line must contain the needle (the option).
CASES = [
    # ---- run: team
    (["run", "--mode", "bogus"], "--mode"),
    (["run", "--teaming", "bogus"], "--teaming"),
    (["run", "--hash", "l5"], "--hash"),
    (["run", "--flowlet-gap", "-1ms"], "--flowlet-gap"),
    (["run", "--flowlet-gap", "nan"], "--flowlet-gap"),
    (["run", "--member-ping", "maybe"], "--member-ping"),
    (["run", "--flowlet-timing", "later"], "--flowlet-timing"),
    (["run", "--policy", "best"], "--policy"),
    (["run", "--flowlet-table", "8"], "--flowlet-table"),
    (["run", "--flowlet-table", "99999999999999999999999"], "--flowlet-table"),
    (["run", "--buckets", "100"], "--buckets"),
    (["run", "--buckets", "-1"], "--buckets"),
    (["run", "--buckets", "4294967296"], "--buckets"),
    (["run", "--flowcell-bytes", "5G"], "--flowcell-bytes"),
    (["run", "--flowcell-bytes", "0"], "--flowcell-bytes"),
    (["run", "--flowcell-bytes", "1.5"], "--flowcell-bytes"),
    (["run", "--primary", "16"], "--primary"),
    (["run", "--primary", "-1"], "--primary"),
    (["run", "--rss-key", "zz"], "--rss-key"),
    # ---- run: members
    (["run", "--rates", "10X"], "--rates"),
    (["run", "--rates", "nan"], "--rates"),
    (["run", "--rates", "-10G"], "--rates"),
    (["run", "--rates", ",".join(["10G"] * 17)], "--rates"),
    (["run", "--rx-queues", "0"], "--rx-queues"),
    (["run", "--rx-queues", "17"], "--rx-queues"),
    (["run", "--delays", "-1us"], "--delays"),
    (["run", "--delays", "11s"], "--delays"),
    (["run", "--delays", "inf"], "--delays"),
    (["run", "--delays", "0,1us,2us"], "--delays"),
    (["run", "--jitter", "nan"], "--jitter"),
    (["run", "--queue", "-1"], "--queue"),
    (["run", "--queue", "4294967296"], "--queue"),
    (["run", "--queue-bytes", "99999999999999999999999"], "--queue-bytes"),
    (["run", "--queue-bytes", "100"], "--queue-bytes"),
    (["run", "--queue", "0", "--queue-bytes", "0"], "--queue"),
    (["run", "--queue-mode", "drop"], "--queue-mode"),
    (["run", "--background", "0.96"], "--background"),
    (["run", "--background", "nan"], "--background"),
    (["run", "--overhead", "2000"], "--overhead"),
    (["run", "--overhead", "-1"], "--overhead"),
    (["run", "--tx-ring", "100"], "--tx-ring"),
    (["run", "--tx-ring", "65536"], "--tx-ring"),
    (["run", "--rx-ring", "0"], "--rx-ring"),
    (["run", "--rx-ring", "1000"], "--rx-ring"),
    (["run", "--fail", "99@1s"], "--fail"),
    (["run", "--fail", "1@-1s"], "--fail"),
    (["run", "--fail", "1@2s:1s"], "--fail"),
    (["run", "--fail", "5@1s"], "--fail"),
    (["run", "--fail", "garbage"], "--fail"),
    # ---- run: traffic
    (["run", "--flows", "-1"], "--flows"),
    (["run", "--flows", "0"], "--flows"),
    (["run", "--flows", "4294967296"], "--flows"),
    (["run", "--flows", "1e3"], "--flows"),
    (["run", "--flow-bytes", "-5"], "--flow-bytes"),
    (["run", "--flow-bytes", "1.5"], "--flow-bytes"),
    (["run", "--load", "nan"], "--load"),
    (["run", "--load", "inf"], "--load"),
    (["run", "--load", "0"], "--load"),
    (["run", "--load", "5"], "--load"),
    (["run", "--flow-sizes", "/nonexistent.cdf"], "--flow-sizes"),
    (["run", "--flow-sizes", DIR], "--flow-sizes"),
    (["run", "--flow-sizes", GARBAGE_PCAP], "--flow-sizes"),
    (["run", "--arrivals", "sometimes"], "--arrivals"),
    (["run", "--max-flows", "0"], "--max-flows"),
    (["run", "--max-flows", "2000000"], "--max-flows"),
    (["run", "--pace", "-1G"], "--pace"),
    (["run", "--pace", "10X"], "--pace"),
    (["run", "--gap-every", "1K"], "--gap-every"),
    (["run", "--gap-every", "-1"], "--gap-every"),
    (["run", "--gap-every", "1K", "--sender-gap", "20s"], "--sender-gap"),
    (["run", "--vports", "0"], "--vports"),
    (["run", "--vports", "65536"], "--vports"),
    (["run", "--pcap", "/nonexistent.pcap"], "--pcap"),
    (["run", "--pcap", EMPTY_PCAP], "--pcap"),
    (["run", "--pcap", NOPKT_PCAP], "--pcap"),
    (["run", "--pcap", TRUNC_PCAP], "--pcap"),
    (["run", "--pcap", GARBAGE_PCAP], "--pcap"),
    (["run", "--pcap", RAWIP_PCAP], "--pcap"),
    (["run", "--pcap", HUGE_PCAP], "--pcap"),
    (["run", "--pcap", DIR], "--pcap"),
    (["run", "--seed", "-1"], "--seed"),
    (["run", "--seed", "1e30"], "--seed"),
    (["run", "--seed", "18446744073709551616"], "--seed"),
    # ---- run: run
    (["run", "--mtu", "100"], "--mtu"),
    (["run", "--mtu", "9001"], "--mtu"),
    (["run", "--duration", "-1s"], "--duration"),
    (["run", "--duration", "5"], "--duration"),
    (["run", "--duration", "nan"], "--duration"),
    (["run", "--track-flows", "1000"], "--track-flows"),
    (["run", "--track-flows", "0"], "--track-flows"),
    (["run", "--mbufs", "-1"], "--mbufs"),
    (["run", "--mbufs", "4294967295"], "--mbufs"),
    (["run", "--drain-timeout", "inf"], "--drain-timeout"),
    (["run", "--restart-flows=yes"], "--restart-flows"),
    (["run", "--no-measure=1"], "--no-measure"),
    (["run", "--quiet=1"], "--quiet"),
    (["run", "--json", NOWHERE], "--json"),
    (["run", "--json", DIR], "--json"),
    (["run", "--json", os.fsencode(TMP) + b"/bad\xff.json"], "--json"),
    (["run", "--config", DIR], "--config"),
    (["run", "--config", "/nonexistent.conf"], "--config"),
    (["run", "--config", GARBAGE_CONFIG], "--config"),
    (["run", "--config", BADVALUE_CONFIG], "flows"),
    (["run", "--config", UNKNOWN_CONFIG], "bogus-option"),
    (["run", "--config", "/dev/zero"], "--config"),
    (["run", "--bogus-option"], "--bogus-option"),
    (["run", "--", "--bogus-eal-flag"], "--bogus-eal-flag"),
    (["run", "--", "-l"], "-l"),
    (["run", "--", "stray"], "stray"),
    # ---- rx / tx
    (["rx", "--idle-timeout", "-1s"], "--idle-timeout"),
    (["rx", "--ports", "1,x"], "--ports"),
    (["rx", "--ports", "4294967296"], "--ports"),
    (["rx", "--team", "a/b"], "--team"),
    (["rx", "--team", b"x\xff"], "--team"),
    (["rx", "--socket-dir", "/etc/passwd"], "--socket-dir"),
    (["rx", "--socket-dir", LONG_DIR], "--socket-dir"),
    (["rx", "--duration", "nan"], "--duration"),
    (["rx", "--flows", "5"], "--flows"),
    (["rx", "--rates", "0"], "--rates"),
    (["tx", "--linger", "-1ms"], "--linger"),
    (["tx", "--ports", "99999"], "--ports"),
    (["tx", "--mode", "dynamic", "--flowlet-gap", "auto", "--member-ping", "off"], "--flowlet-gap"),
    (["tx", "--team", ""], "--team"),
    (["tx", "--seed", "-1"], "--seed"),
    (["tx", "--", "--bogus-eal-flag"], "--bogus-eal-flag"),
    # ---- report
    (["report", "--packets", "9223372036854775808"], "--packets"),
    (["report", "--packets", "200000000", "--flows", "2"], "--packets"),
    (["report", "--packets", "0"], "--packets"),
    (["report", "--flows", "0"], "--flows"),
    (["report", "--flows", "-1"], "--flows"),
    (["report", "--vms", "0"], "--vms"),
    (["report", "--frame", "63"], "--frame"),
    (["report", "--gap", "-1us"], "--gap"),
    (["report", "--gap", "11s"], "--gap"),
    (["report", "--flowlet-gap", "nan"], "--flowlet-gap"),
    (["report", "--hash", "bogus"], "--hash"),
    (["report", "--queues", "513"], "--queues"),
    (["report", "--queues", "4294967296"], "--queues"),
    (["report", "--seed", "-1"], "--seed"),
    (["report", "--rates", "10G"], "--rates"),
    (["report", "--rates", "10G,nan"], "--rates"),
    (["report", "--json", NOWHERE], "--json"),
    (["report", "--config", DIR], "--config"),
    (["report", "--", "-l", "0"], "--"),
    # ---- rss
    (["rss", "--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--reta-size", "128", "--queues", "4294967296"], "--queues"),
    (["rss", "--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--reta-size", "4294967296", "--queues", "0"], "--reta-size"),
    (["rss", "--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--reta-size", "-1", "--queues", "0"], "--reta-size"),
    (["rss", "--src", "1.2.3.4:-1", "--dst", "1.2.3.5:2"], "--src"),
    (["rss", "--src", "1.2.3.4:1", "--dst", "1.2.3.5:65536"], "--dst"),
    (["rss", "--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--proto", "sctp"], "--proto"),
    (["rss", "--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--key", "6d5a"], "--key"),
    (["rss", "--src", "1.2.3.4:1", "--dst", "1.2.3.5:2", "--json=1"], "--json"),
    # ---- migrate
    (["migrate", "--mode", "hash", "--vms", "1024"], "--vms"),
    (["migrate", "--mode", "hash", "--vms", "1025"], "--vms"),
    (["migrate", "--mode", "hash", "--vms", "0"], "--vms"),
    (["migrate", "--mode", "hash", "--vm-mem", "3"], "--vm-mem"),
    (["migrate", "--mode", "hash", "--vm-mem", "1TiB"], "--vm-mem"),
    (["migrate", "--mode", "hash", "--vm-mem", "99999999999999999999999"], "--vm-mem"),
    (["migrate", "--mode", "hash", "--simultaneous", "0"], "--simultaneous"),
    (["migrate", "--mode", "hash", "--channels", "65"], "--channels"),
    (["migrate", "--mode", "hash", "--compress", "gzip"], "--compress"),
    (["migrate", "--mode", "hash", "--compress-huffman", "maybe"], "--compress-huffman"),
    (["migrate", "--mode", "hash", "--compress-level", "10"], "--compress-level"),
    (["migrate", "--mode", "hash", "--compress-sample", "maybe"], "--compress-sample"),
    (["migrate", "--mode", "hash", "--zero-copy", "maybe"], "--zero-copy"),
    (["migrate", "--mode", "hash", "--zero-pages", "1.5"], "--zero-pages"),
    (["migrate", "--mode", "hash", "--compressible", "nan"], "--compressible"),
    (["migrate", "--mode", "hash", "--zero-pages", "0.5", "--compressible", "0.6"], "--compressible"),
    (["migrate", "--mode", "hash", "--working-set", "1GiB"], "--working-set"),
    (["migrate", "--mode", "hash", "--dirty-rate", "-1"], "--dirty-rate"),
    (["migrate", "--mode", "hash", "--dirty-rate", "inf"], "--dirty-rate"),
    (["migrate", "--mode", "hash", "--downtime-limit", "-1ms"], "--downtime-limit"),
    (["migrate", "--mode", "hash", "--max-rounds", "-1"], "--max-rounds"),
    (["migrate", "--mode", "hash", "--loss", "nan"], "--loss"),
    (["migrate", "--mode", "hash", "--loss", "101"], "--loss"),
    (["migrate", "--mode", "hash", "--corrupt", "-1"], "--corrupt"),
    (["migrate", "--mode", "hash", "--truncate", "inf"], "--truncate"),
    (["migrate", "--mode", "hash", "--timeout", "inf"], "--timeout"),
    (["migrate", "--mode", "hash", "--timeout", "-1s"], "--timeout"),
    (["migrate", "--mode", "bogus"], "--mode"),
    (["migrate", "--vm-mem", "3"], "--vm-mem"),                 # the main job: refused once, by the parent
    (["migrate", "--seed", "-1"], "--seed"),
    (["migrate", "--compare-compression", "--loss", "nan"], "--loss"),
    (["migrate", "--mode", "hash", "--auto-converge=1"], "--auto-converge"),
    (["migrate", "--mode", "hash", "--split-lcores=1"], "--split-lcores"),
    (["migrate", "--mode", "hash", "--", "--bogus-eal-flag"], "--bogus-eal-flag"),
    (["migrate", "--json", NOWHERE], "--json"),
    # ---- bridge
    (["bridge", "--iface-a", "a b"], "--iface-a"),
    (["bridge", "--iface-a", "toolongname123456"], "--iface-a"),
    (["bridge", "--iface-b", "ftA"], "--iface-b"),
    (["bridge", "--bridge-flows", "100"], "--bridge-flows"),
    (["bridge", "--bridge-flows", "8192"], "--bridge-flows"),
    (["bridge", "--mtu", "9000"], "--mtu"),
    (["bridge", "--ready-file", NOWHERE], "--ready-file"),
    (["bridge", "--duration", "nan"], "--duration"),
    (["bridge", "--flows", "-1"], "--flows"),
    # ---- experiment
    (["experiment", "/nonexistent.ini", "--dry-run"], "scenario"),
    (["experiment", DIR, "--dry-run"], "scenario"),
    (["experiment", GARBAGE_INI, "--dry-run"], "garbage.ini"),
    (["experiment", HUGE_INI, "--dry-run"], "combinations"),
    (["experiment", SEED_INI, "--dry-run"], "seed"),
    (["experiment", SEED_REP_INI, "--dry-run"], "seed"),
    (["experiment", LOSS_INI, "--dry-run"], "--loss"),
    (["experiment", "--repetitions", "0", "--dry-run"], "--repetitions"),
    (["experiment", "--repetitions", "nan", "--dry-run"], "--repetitions"),
    (["experiment", "--seeds", "-1", "--dry-run"], "--seeds"),
    (["experiment", "--seeds", "1e30", "--dry-run"], "--seeds"),
    (["experiment", "--set", "seed=1e30", "--dry-run"], "seed"),
    (["experiment", "--set", "seed=18446744073709551615", "--repetitions", "2", "--dry-run"], "seed"),
    (["experiment", "--set", "flows=-1", "--dry-run"], "flows"),
    (["experiment", "--set", "bogus=1", "--dry-run"], "bogus"),
    (["experiment", "--set", "nokey", "--dry-run"], "--set"),
    (["experiment", "--sweep", "mode=hash;bogus", "--dry-run"], "mode"),
    (["experiment", "--sweep", "flows=1;-1", "--dry-run"], "flows"),
    (["experiment", "--duration", "-1s", "--dry-run"], "duration"),
    (["experiment", "--set", "command=migrate", "--set", "loss=nan", "--dry-run"], "--loss"),
    (["experiment", "--set", "command=migrate", "--set", "vms=1024", "--dry-run"], "--vms"),
    (["experiment", "--set", "command=migrate", "--sweep", "channels=2;65", "--dry-run"], "--channels"),
    (["experiment", "--out", "/proc/flowteam-cannot-create"], "--out"),
    (["experiment", "--out", GARBAGE_PCAP], "--out"),
    (["experiment", "--bogus"], "--bogus"),
]


def run(args):
    cmd = [os.fsencode(FLOWTEAM)] + [a if isinstance(a, bytes) else os.fsencode(a) for a in args]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, b"", b"(timed out after 20 s)", 20.0
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


class BadCommandLines(unittest.TestCase):
    def test_every_bad_line_refused_once(self):
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda c: run(c[0]), CASES))
        failures = []
        for (args, needle), (rc, out, err, secs) in zip(CASES, results):
            shown = " ".join(a.decode("utf-8", "backslashreplace") if isinstance(a, bytes) else a for a in args)
            text = err.decode("utf-8", "backslashreplace")
            lines = text.strip().splitlines()
            why = None
            if rc != 2:
                why = f"exit {rc}"
            elif len(lines) != 1:
                why = f"{len(lines)} stderr lines"
            elif needle not in lines[0]:
                why = f"line does not name {needle!r}"
            elif "EAL:" in text:
                why = "EAL started"
            elif out:
                why = "printed on stdout"
            if why:
                failures.append(f"flowteam {shown}: {why}: {text.strip()[:300]!r}")
        print(f"{len(CASES)} bad command lines, {len(CASES) - len(failures)} refused as they should be", file=sys.stderr)
        self.assertEqual(failures, [], "\n" + "\n".join(failures))

    def test_covers_every_command(self):
        commands = {c[0][0] for c in CASES}
        self.assertEqual(commands, {"run", "rx", "tx", "report", "rss", "migrate", "bridge", "experiment"})
        self.assertGreaterEqual(len(CASES), 125)


if __name__ == "__main__":
    unittest.main(verbosity=2)
