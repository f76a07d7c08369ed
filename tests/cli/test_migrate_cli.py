#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`flowteam migrate` outcome and exit status (issue #15 finding 3): a
migration that did not complete by --timeout exits 1 and says so in one
line; 90 % forward loss converges (fragments of re-sent copies combine)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

FLOWTEAM = sys.argv.pop(1) if len(sys.argv) > 1 else "build/apps/flowteam"


def migrate(*args, timeout=120):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.json")
        p = subprocess.run([FLOWTEAM, "migrate", "--mode", "hash", "--json", path, *args],
                           capture_output=True, text=True, timeout=timeout)
        j = json.load(open(path)) if os.path.exists(path) else None
    return p, j


class Outcome(unittest.TestCase):
    def test_not_completed_is_a_failure_in_one_line(self):
        # 99 % loss for 2 s: no VM can complete
        p, j = migrate("--vms", "2", "--vm-mem", "32MiB", "--loss", "99", "--timeout", "2s")
        self.assertEqual(p.returncode, 1, p.stderr[-2000:])
        self.assertIsNotNone(j)
        self.assertFalse(j["total"]["all_completed"])
        lines = [l for l in p.stderr.splitlines() if l.startswith("migrate: ")]
        self.assertEqual(len(lines), 1, p.stderr[-2000:])
        self.assertIn("2 of 2 VMs did not complete within --timeout 2s", lines[0])
        self.assertIn("NOT COMPLETED", p.stdout)

    def test_ninety_percent_loss_converges(self):
        # before: both VMs still in stop_copy at the 30 s timeout, exit 0, "verified"
        p, j = migrate("--vms", "2", "--vm-mem", "32MiB", "--loss", "90", "--timeout", "30s")
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual([v["status"] for v in j["vms"]], ["completed", "completed"])
        self.assertTrue(j["total"]["all_completed"])
        self.assertTrue(j["total"]["verified"])
        self.assertLess(j["total"]["total-time_ms"], 20000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
