#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end, starting EAL in each child (suite dpdk, serial):
  - `flowteam experiment scenarios/seeds-single-short.ini`: a `command =
    migrate` scenario; the seeds' claim "a single migration sticks to one team
    member" under hash, asserted from the measured metrics;
  - `flowteam run` FCT: sized flows complete and are bucketed by size;
  - `flowteam run --no-measure`: per-member counts only.
No timing assertions."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

FLOWTEAM = sys.argv.pop(1) if len(sys.argv) > 1 else "build/apps/flowteam"
SCENARIOS = sys.argv.pop(1) if len(sys.argv) > 1 else "scenarios"


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class SeedSingleMigration(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="flowteam-seeds-")
        cls.out = os.path.join(cls.tmp, "seeds")
        cls.p = subprocess.run([FLOWTEAM, "experiment", os.path.join(SCENARIOS, "seeds-single-short.ini"),
                                "--out", cls.out, "--no-plots"], capture_output=True, text=True, timeout=240)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_single_migration_under_hash_uses_one_member(self):
        self.assertEqual(self.p.returncode, 0, self.p.stderr)
        recs = load_jsonl(os.path.join(self.out, "results.jsonl"))
        self.assertEqual(len(recs), 1)
        r = recs[0]
        self.assertEqual(r["status"], "ok", r.get("error"))
        self.assertTrue(r["command"].startswith("flowteam migrate "), r["command"])
        m = r["metrics"]
        self.assertEqual(m["verified"], 1)
        self.assertGreater(m["pages_verified"], 0)
        self.assertEqual(m["pages_verified"], m["pages"])
        self.assertGreater(m["total_time_ms"], 0)
        # the claim: one member carries the whole migration, the other none, no reordering
        self.assertEqual(m["idle_members"], 1)
        self.assertIn(m["share_0"], (0, 1, 0.0, 1.0))
        self.assertEqual(m["channels_total"], 1)
        self.assertEqual(m["channels_split"], 0)
        self.assertEqual(m["reordered"], 0)
        with open(os.path.join(self.out, "experiment.json")) as f:
            checks = json.load(f)["checks"]
        self.assertEqual({c["name"]: c["verdict"] for c in checks},
                         {"hash-one-member": "reproduced", "no-reordering": "reproduced", "verified": "reproduced"})
        with open(os.path.join(self.out, "summary.md")) as f:
            self.assertIn("flowteam migrate", f.read())


def run_json(*args):
    tmp = tempfile.mkdtemp(prefix="flowteam-run-")
    try:
        path = os.path.join(tmp, "run.json")
        p = subprocess.run([FLOWTEAM, "run", "--quiet", "--json", path, *args], capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            raise AssertionError("exit %d: %s" % (p.returncode, p.stderr))
        with open(path) as f:
            return json.load(f), p.stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class RunFct(unittest.TestCase):
    def test_sized_flows_complete_and_are_bucketed(self):
        # 6 flows of 150 KB: all complete well within 400 ms at 2 x 1 Gb/s.
        j, out = run_json("--rates", "1G,1G", "--flows", "6", "--flow-bytes", "150K", "--duration", "400ms")
        rep = j["report"]
        fct = rep["rx"]["fct"]
        gen = rep["tx"]["traffic"]
        self.assertEqual(gen["flows_completed"], 6)
        self.assertEqual(fct["completed"], 6)           # every flow the generator finished arrived whole
        self.assertEqual(fct["incomplete"], 0)
        self.assertEqual(fct["unbounded"], 0)
        med = fct["buckets"]["medium"]                  # 150 KB: 100 KB - 10 MB
        self.assertEqual(med["completed"], 6)
        self.assertEqual(fct["buckets"]["small"]["completed"], 0)
        self.assertEqual(fct["buckets"]["large"]["completed"], 0)
        # at least the serialisation of 150 KB at 1 Gb/s, ordered statistics
        self.assertGreater(med["mean_us"], 150e3 * 8 / 1e9 * 1e6 * 0.9)
        self.assertLessEqual(med["p50_us"], med["p99_us"])
        self.assertLessEqual(med["p99_us"], med["max_us"] + 1e-6)
        self.assertIn("FCT", out)
        self.assertIn("100KB-10MB", out)

    def test_unbounded_flows_have_no_fct(self):
        j, _ = run_json("--rates", "1G,1G", "--flows", "2", "--duration", "200ms")
        fct = j["report"]["rx"]["fct"]
        self.assertEqual(fct["completed"], 0)
        self.assertEqual(fct["unbounded"], 2)

    def test_no_measure(self):
        j, out = run_json("--rates", "1G,1G", "--flows", "4", "--duration", "200ms", "--no-measure")
        self.assertIs(j["parameters"]["measure_reorder"], False)
        rx = j["report"]["rx"]
        self.assertGreater(rx["packets"], 1000)
        self.assertEqual(sum(m["rx_packets"] for m in j["report"]["members"]), rx["packets"])
        self.assertEqual(rx["reorder"]["received"], 0)   # no per-flow measurement
        self.assertEqual(rx["flows_seen"], 0)
        self.assertEqual(rx["fct"]["completed"] + rx["fct"]["unbounded"], 0)
        self.assertIn("per-flow measurement off", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
