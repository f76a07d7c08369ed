#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run `bench/run --smoke --out TMP` and validate bench.json's shape.

Usage: test_bench_smoke.py BENCH_RUN FLOWTEAM_BIN
Exit 77 (meson: skipped) when dpdk-testpmd is not installed.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    bench, ft = sys.argv[1], sys.argv[2]
    if shutil.which("dpdk-testpmd") is None:
        print("dpdk-testpmd not installed: skipped")
        return 77
    out = tempfile.mkdtemp(prefix="bench-smoke-")
    try:
        p = subprocess.run([sys.executable, bench, "--smoke", "--out", out, "--flowteam", ft],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240)
        print(p.stdout)
        check(p.returncode == 0, "bench/run --smoke exited %d" % p.returncode)
        path = os.path.join(out, "bench.json")
        check(os.path.isfile(path), "no bench.json written")
        with open(path) as f:
            j = json.load(f)
        for k in ("schema", "created", "host", "config", "cases", "runs", "summary", "targets"):
            check(k in j, "missing top-level key '%s'" % k)
        check(j["schema"] == "flowteam-bench/1", "schema: %r" % j["schema"])
        c = j["config"]
        for k in ("repeat", "duration_s", "sizes", "members", "modes", "flows", "smoke", "counted"):
            check(k in c, "config: missing '%s'" % k)
        check(c["smoke"] is True and c["repeat"] == 1, "config: smoke/repeat")
        ids = {x["id"] for x in j["cases"]}
        check(ids == {"flowteam-hash-2", "netbond-l34-2", "ceiling-null-1"}, "cases: %s" % sorted(ids))
        # One run per case and size, each with the counters it was computed from.
        check(len(j["runs"]) == len(ids) * len(c["sizes"]), "runs: %d" % len(j["runs"]))
        for r in j["runs"]:
            for k in ("case", "tool", "members", "size", "repetition", "ok", "packets", "seconds", "mpps"):
                check(k in r, "run %s: missing '%s'" % (r.get("case"), k))
            check(r["ok"] is True, "run %s failed: %s" % (r["case"], r.get("error")))
            check(r["tool"] in ("flowteam", "testpmd"), "run tool %r" % r["tool"])
            check(isinstance(r["packets"], int) and r["packets"] > 0, "run %s: no packets" % r["case"])
            check(r["seconds"] > 0 and math.isfinite(r["mpps"]) and r["mpps"] > 0, "run %s: mpps" % r["case"])
            # Mpps is what the counters say, not a separate figure.
            if r["tool"] == "flowteam":
                check(abs(r["mpps"] - r["packets"] / r["seconds"] / 1e6) < 1e-6, "flowteam mpps != packets/seconds")
                check(sum(r["member_packets"]) == r["packets"], "member packets do not add up")
                check(len(r["member_packets"]) == r["members"], "one counter per member")
        rows = {(x["case"], x["size"]): x for x in j["summary"]}
        check(len(rows) == len(ids) * len(c["sizes"]), "summary rows")
        for (case, size), x in rows.items():
            check(x["median_mpps"] is not None and x["median_mpps"] > 0, "summary %s: median" % case)
        ft_row = rows[("flowteam-hash-2", c["sizes"][0])]
        want = ft_row["median_mpps"] / rows[("netbond-l34-2", c["sizes"][0])]["median_mpps"]
        check(abs(ft_row["vs_netbond_l34"] - want) < 1e-3, "ratio to net_bond l34")
        check(any(t["target"].startswith("hash") for t in j["targets"]), "targets: hash vs net_bond missing")
        for t in j["targets"]:
            check(isinstance(t["met"], bool) and t["ratio"] > 0, "target entry %r" % t)
        for t in j["targets"]:
            check(t.get("basis") in ("wall", "cpu"), "target basis %r" % t.get("basis"))
        check(isinstance(j.get("load_average"), list) and len(j["load_average"]) == 3, "load_average")
        for r in j["runs"]:
            # CPU time of the forwarding thread: present and consistent when measured.
            check("mpps_cpu" in r and "cpu_s" in r, "run %s: cpu fields" % r["case"])
            if r["mpps_cpu"] is not None:
                check(r["cpu_s"] > 0 and abs(r["mpps_cpu"] - r["packets"] / r["cpu_s"] / 1e6) < 1e-6,
                      "run %s: mpps_cpu != packets/cpu_s" % r["case"])
        # Sections (--smoke runs each in a tiny form).
        sc = j.get("scaling")
        check(isinstance(sc, dict) and sc["curve"], "scaling: missing curve")
        for c in sc["curve"]:
            for k in ("flows", "members", "ok", "mpps", "mpps_cpu", "flowlet_table_bytes", "flowlet_bytes_per_flow"):
                check(k in c, "scaling point: missing '%s'" % k)
            check(c["ok"] is True and c["mpps"] > 0, "scaling point %r failed" % c)
            check(abs(c["flowlet_bytes_per_flow"] * c["flows"] - c["flowlet_table_bytes"]) < 1e-6,
                  "scaling: bytes per flow")
        rx = j.get("rx_measure")
        check(isinstance(rx, dict) and rx.get("runs"), "rx_measure: missing")
        check(all(r.get("ok") for r in rx["runs"]), "rx_measure run failed: %r" % rx["runs"])
        check({r["measure"] for r in rx["runs"]} == {True, False}, "rx_measure: on and off")
        w = rx.get("wall")
        check(isinstance(w, dict) and w["mpps_measure"] > 0 and w["mpps_no_measure"] > 0, "rx_measure: wall")
        check(abs(w["measurement_share"] - (1 - w["mpps_measure"] / w["mpps_no_measure"])) < 1e-9,
              "rx_measure: share")
        mg = j.get("migration")
        check(isinstance(mg, dict) and mg.get("runs"), "migration: missing")
        check(all(r.get("ok") for r in mg["runs"]), "migration run failed: %r" % mg["runs"])
        check({r["mtu"] for r in mg["summary"]} == {1500, 9000}, "migration: both MTUs")
        for r in mg["summary"]:
            check(0 < r["share"] and abs(r["share"] - r["goodput_gbps"] / r["line_rate_gbps"]) < 1e-9,
                  "migration: share")
            check(isinstance(r["met"], bool), "migration: met")
        print("bench.json OK: %d runs" % len(j["runs"]))
        return 0
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
