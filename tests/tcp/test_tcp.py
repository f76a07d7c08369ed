#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tests/tcp: scripts/tcp_experiment.py on scenarios/tcp-short.ini, qualitative checks.

argv: FLOWTEAM_BINARY SOURCE_ROOT OUT_DIR. Exit 0 pass, 1 fail, 77 skip (with the reason).

Checks (measured by Linux in the client namespace, and by the bridge):
  * roundrobin (per-packet spraying over members whose delays differ by 300 us) makes Linux see
    reordering (tcpi_reord_seen) and spurious retransmissions (DSACKs: tcpi_dsack_dups) far above
    dynamic with a flowlet gap larger than the skew;
  * flowteam's own IP-ID measurement agrees: roundrobin reorders a large fraction, hash none;
  * hash puts the single bulk flow on one member (the other stays idle), dynamic spreads the
    iperf3 streams over both members.
"""
import json
import os
import shutil
import subprocess
import sys


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def main():
    flowteam, root, out = sys.argv[1], sys.argv[2], sys.argv[3]
    if os.geteuid() != 0:
        skip("needs root (network namespaces, tap interfaces)")
    if not os.path.exists("/dev/net/tun"):
        skip("no /dev/net/tun")
    for tool in ("ip", "iperf3", "ss", "nstat", "tc"):
        if shutil.which(tool) is None:
            skip(f"'{tool}' not installed (scripts/setup.sh installs iproute2 and iperf3)")
    probe = f"fttprobe{os.getpid()}"
    p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        skip(f"cannot create a network namespace: {p.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)

    script = os.path.join(root, "scripts", "tcp_experiment.py")
    scenario = os.path.join(root, "scenarios", "tcp-short.ini")
    if os.path.isdir(out):
        shutil.rmtree(out)
    cmd = [sys.executable, script, scenario, "--out", out, "--flowteam", flowteam]
    print("$", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, timeout=220)
    if p.returncode != 0:
        print(f"FAIL: tcp_experiment.py exited {p.returncode}")
        return 1
    res = {r["mode"]: r for r in json.load(open(os.path.join(out, "results.json")))["results"]}

    failures = []
    checks = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        checks.append(what)
        if not ok:
            failures.append(what)

    for m in ("hash", "dynamic", "roundrobin"):
        check(m in res and "iperf" in res[m] and "bulk" in res[m] and "bridge" in res[m], f"{m}: both phases ran")
    if failures:
        return 1

    def linux(m, key):
        return res[m]["iperf"][key] + res[m]["bulk"][key]

    rr_seen, dyn_seen = linux("roundrobin", "reord_seen"), linux("dynamic", "reord_seen")
    rr_dsack, dyn_dsack = linux("roundrobin", "dsack_dups"), linux("dynamic", "dsack_dups")
    check(rr_seen >= 100 and rr_seen >= 4 * dyn_seen + 50,
          f"Linux reord_seen: roundrobin {rr_seen} >> dynamic {dyn_seen} (>= 4x + 50)")
    check(rr_dsack >= 20 and rr_dsack >= 4 * dyn_dsack + 10,
          f"Linux dsack_dups (spurious retransmits): roundrobin {rr_dsack} >> dynamic {dyn_dsack} (>= 4x + 10)")
    rr_ft = res["roundrobin"]["bridge"]["reordered_ratio"]
    dyn_ft = res["dynamic"]["bridge"]["reordered_ratio"]
    hash_ft = res["hash"]["bridge"]["reordered"]
    check(rr_ft >= 0.10 and rr_ft >= 4 * dyn_ft,
          f"flowteam reordered ratio: roundrobin {rr_ft:.3f} >= 0.10 and >= 4 x dynamic {dyn_ft:.4f}")
    check(hash_ft == 0, f"flowteam: hash reorders nothing ({hash_ft} packets)")
    hb = res["hash"]["bridge"]["phases"]["bulk"]["tx_shares"]
    check(hb is not None and max(hb) >= 0.95, f"hash: the single bulk flow stays on one member (shares {hb})")
    di = res["dynamic"]["bridge"]["phases"]["iperf"]["tx_shares"]
    check(di is not None and min(di) >= 0.2, f"dynamic: iperf3 streams spread over both members (shares {di})")
    print(f"tcp-short: {len(checks) - len(failures)} checks passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
