#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`flowteam experiment` without running anything (no EAL): scenario errors are
one line naming the file, line and what is allowed, with exit status 2; the
sweep expansion (cross product, seeds outermost, skew → delays, K*skew,
parameters a mode does not use, duplicates, skip rules) via --dry-run."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

FLOWTEAM = sys.argv.pop(1) if len(sys.argv) > 1 else "build/apps/flowteam"
SCENARIOS = sys.argv.pop(1) if len(sys.argv) > 1 else "scenarios"


def experiment(*args):
    return subprocess.run([FLOWTEAM, "experiment", *args], capture_output=True, text=True, timeout=60)


class Scenario:
    def __init__(self, text):
        fd, self.path = tempfile.mkstemp(suffix=".ini", prefix="flowteam-exp-")
        with os.fdopen(fd, "w") as f:
            f.write(text)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        os.remove(self.path)


def dry(path, *extra):
    p = experiment(path, "--dry-run", *extra)
    if p.returncode != 0:
        raise AssertionError("exit %d: %s" % (p.returncode, p.stderr))
    runs = []
    lines = p.stdout.splitlines()
    for i, line in enumerate(lines[1:]):
        if not line.startswith("\t"):
            num, rid, label = line.split("\t")
            runs.append({"id": rid, "label": label, "cmd": lines[i + 2].strip()})
    return lines[0], runs


class Errors(unittest.TestCase):
    def assertUsage(self, text, *needles, extra=()):
        with Scenario(text) as path:
            p = experiment(path, "--out", "/nonexistent/never-written", *extra)
            self.assertEqual(p.returncode, 2, p.stderr)
            err = p.stderr.strip()
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn(os.path.basename(path), err)
            for n in needles:
                self.assertIn(n, err)
            return err

    def test_unknown_swept_parameter(self):
        err = self.assertUsage("[sweep]\nmode = hash\nflowlet_gap = 0 ; 1ms\n", ":3:", "unknown parameter 'flowlet_gap'",
                               "did you mean 'flowlet-gap'", "members, skew")

    def test_bad_value_names_line_and_allowed(self):
        self.assertUsage("[run]\nrates = 10G\n[sweep]\nmode = hash ; spray\n", ":4:", "--mode", "spray",
                         "allowed: hash, vport, dynamic")

    def test_bad_base_value(self):
        self.assertUsage("[run]\nrates = 10G,fast\n", ":2:", "--rates", "fast")

    def test_unknown_run_option(self):
        self.assertUsage("[run]\nratez = 10G\n", ":2:", "unknown `flowteam run` option 'ratez'", "did you mean 'rates'")

    def test_reserved_option(self):
        self.assertUsage("[run]\njson = x.json\n", ":2:", "set by `flowteam experiment`")

    def test_unknown_section_and_scenario_key(self):
        self.assertUsage("[sweeep]\nmode = hash\n", ":2:", "unknown section [sweeep]")
        self.assertUsage("repetition = 3\n", ":1:", "unknown scenario key 'repetition'", "did you mean 'repetitions'")

    def test_syntax_error(self):
        self.assertUsage("[run]\nthis line has no equals sign\n", ":2:")

    def test_k_skew_needs_skew(self):
        self.assertUsage("[sweep]\nmode = dynamic\nflowlet-gap = 2*skew\n", ":3:", "needs 'skew'")

    def test_skew_and_delays_conflict(self):
        self.assertUsage("[run]\ndelays = 0,1ms\n[sweep]\nskew = 0 ; 1ms\n", ":2:", "'delays' cannot be set")

    def test_members_rates_mismatch(self):
        self.assertUsage("[run]\nrates = 10G,10G,1G\n[sweep]\nmembers = 2 ; 4\n", "members = 2 but rates lists 3")

    def test_profile_without_section(self):
        self.assertUsage("[sweep]\ngaps = none ; big\n[gaps=none]\ngap-every = 0\n", ":2:", "has no [gaps=big] section")

    def test_empty_list_item(self):
        self.assertUsage("[sweep]\nmode = hash ;; dynamic\n", ":2:", "empty value")

    def test_bad_check_table_plot(self):
        # checked before anything runs
        self.assertUsage("[check:x]\nclaim = c\nvalue = average reordered\nexpect = < 1\n", ":3:", "AGG")
        self.assertUsage("[check:x]\nclaim = c\nvalue = max reordered\nexpect = about 1\n", ":4:", "must start with")
        self.assertUsage("[table:t]\nrows = mode\nvalue = 3\n", ":3:", "AGG FIELD")
        self.assertUsage("[plot:p]\nx = mode\ny = share_error\nwhere = mode~hash\n", ":4:", "not a condition")
        self.assertUsage("[plot:p]\nx = mode\n", "needs 'y'")


class MigrateCommand(unittest.TestCase):
    """`[scenario] command = migrate`: runs are `flowteam migrate` children;
    keys are checked against migrate's options (read from its --help)."""

    def assertUsage(self, text, *needles, extra=()):
        return Errors.assertUsage(self, text, *needles, extra=extra)

    def test_expansion_and_switches(self):
        text = ("command = migrate\n[run]\nvms = 2\nvm-mem = 16MiB\nauto-converge = true\n"
                "[sweep]\ncompress = none ; isal\nchannels = 1 ; 4\n")
        with Scenario(text) as path:
            head, runs = dry(path)
        self.assertIn("4 runs (4 combinations", head)
        for r in runs:
            self.assertTrue(r["cmd"].startswith("flowteam migrate "), r["cmd"])
            self.assertIn("--mode hash", r["cmd"])          # always a single run, never the main job
            self.assertIn("--vms 2", r["cmd"])
            self.assertRegex(r["cmd"], r"--auto-converge( |$)")  # a switch: the bare flag
            self.assertNotIn("--auto-converge true", r["cmd"])
        self.assertEqual(sorted(r["label"] for r in runs),
                         sorted(["compress=none channels=1", "compress=none channels=4",
                                 "compress=isal channels=1", "compress=isal channels=4"]))
        # false leaves a switch out; the mode given is kept
        with Scenario("command = migrate\n[run]\nauto-converge = false\nmode = dynamic\n") as path:
            _, runs = dry(path)
        self.assertNotIn("--auto-converge", runs[0]["cmd"])
        self.assertIn("--mode dynamic", runs[0]["cmd"])

    def test_set_command_on_the_command_line(self):
        with Scenario("[sweep]\nmode = hash ; dynamic\n") as path:
            head, runs = dry(path, "--set", "vms=3", "--set", "command=migrate")
        self.assertIn("2 runs", head)
        self.assertTrue(all(r["cmd"].startswith("flowteam migrate") and "--vms 3" in r["cmd"] for r in runs))

    def test_migrate_options_rejected_for_run(self):
        self.assertUsage("[run]\nvms = 2\n", ":2:", "unknown `flowteam run` option 'vms'")

    def test_unknown_migrate_option(self):
        self.assertUsage("command = migrate\n[run]\nvmz = 2\n", ":3:", "unknown `flowteam migrate` option 'vmz'",
                         "did you mean 'vms'")
        self.assertUsage("command = migrate\n[sweep]\nchanels = 1 ; 2\n", ":3:", "unknown parameter 'chanels'",
                         "did you mean 'channels'")

    def test_bad_command_and_reserved(self):
        self.assertUsage("command = bridge\n", ":1:", "command 'bridge'", "allowed: run, migrate")
        self.assertUsage("command = migrate\n[run]\ncompare-compression = true\n", ":3:", "set by `flowteam experiment`")

    def test_values_checked_before_running(self):
        # engine options: exactly as migrate parses them; switches: true/false only
        self.assertUsage("command = migrate\n[run]\nrates = 10G,fast\n", ":3:", "--rates", "fast")
        self.assertUsage("command = migrate\n[run]\nauto-converge = maybe\n", ":3:", "allowed true or false")

    def test_no_measure_switch_for_run(self):
        with Scenario("[run]\nno-measure = true\n") as path:
            _, runs = dry(path)
        self.assertRegex(runs[0]["cmd"], r"--no-measure( |$)")


class Expansion(unittest.TestCase):
    def test_e1_short(self):
        head, runs = dry(os.path.join(SCENARIOS, "e1-short.ini"))
        # dynamic: 2 timings x 3 gaps, less sender+auto (skip rule); hash and roundrobin: one run each
        self.assertIn("7 runs (18 combinations, 1 skipped by rules, 10 collapsed)", head)
        cmds = {r["label"]: r["cmd"] for r in runs}
        dyn = cmds["members=2 skew=200us mode=dynamic flowlet-timing=queue flowlet-gap=400us"]  # 2*skew resolved
        self.assertIn("--flowlet-gap 400us", dyn)
        self.assertIn("--flowlet-timing queue", dyn)
        auto = cmds["members=2 skew=200us mode=dynamic flowlet-timing=queue flowlet-gap=auto"]
        self.assertIn("--flowlet-gap auto", auto)
        self.assertIn("--delays 0,200us", dyn)
        self.assertIn("--rates 10G,10G", dyn)
        hash_cmd = cmds["members=2 skew=200us mode=hash"]  # flowlet-gap not used by hash: one run
        self.assertNotIn("--flowlet-gap", hash_cmd)
        self.assertNotIn("--flowlet-timing", hash_cmd)
        self.assertEqual(len(set(r["id"] for r in runs)), 7)

    def test_order_seeds_outermost_and_skew_spread(self):
        with Scenario("repetitions = 2\n[run]\nrates = 1G\n[sweep]\nmembers = 4\nskew = 0 ; 300us\n") as path:
            head, runs = dry(path)
        self.assertEqual([r["label"] for r in runs], [
            "seed=1 members=4 skew=0", "seed=1 members=4 skew=300us",
            "seed=2 members=4 skew=0", "seed=2 members=4 skew=300us"])
        self.assertIn("--delays 0,100us,200us,300us", runs[1]["cmd"])
        self.assertIn("--rates 1G,1G,1G,1G", runs[1]["cmd"])
        self.assertIn("--seed 2", runs[3]["cmd"])

    def test_profiles_skip_and_overrides(self):
        text = ("[run]\nrates = 10G\n[sweep]\nmode = hash ; dynamic ; roundrobin\ngaps = none ; pauses\n"
                "[gaps=none]\ngap-every = 0\n[gaps=pauses]\ngap-every = 64K\nsender-gap = 1ms\n"
                "[scenario]\nskip = mode=roundrobin and gaps=pauses\n")
        with Scenario(text) as path:
            head, runs = dry(path)
            self.assertIn("5 runs (6 combinations, 1 skipped by rules, 0 collapsed)", head)
            pause = [r for r in runs if "gaps=pauses" in r["label"]]
            self.assertTrue(all("--sender-gap 1ms" in r["cmd"] and "--gap-every 64K" in r["cmd"] for r in pause))
            # command-line overrides: --set replaces a base option, --sweep replaces a list
            head, runs = dry(path, "--set", "rates=1G,1G", "--sweep", "mode=dynamic", "--duration", "200ms")
            self.assertIn("2 runs", head)
            self.assertTrue(all("--rates 1G,1G" in r["cmd"] and "--duration 200ms" in r["cmd"] for r in runs))

    def test_ids_are_stable(self):
        a = dry(os.path.join(SCENARIOS, "e1-short.ini"))[1]
        b = dry(os.path.join(SCENARIOS, "e1-short.ini"), "--set", "duration=500ms")[1]
        self.assertEqual([r["id"] for r in a], [r["id"] for r in b])  # same commands, same ids
        c = dry(os.path.join(SCENARIOS, "e1-short.ini"), "--set", "duration=400ms")[1]
        self.assertFalse(set(r["id"] for r in a) & set(r["id"] for r in c))

    def test_shipped_scenarios_expand(self):
        for name in sorted(os.listdir(SCENARIOS)):
            # tcp*.ini are scripts/tcp_experiment.py's (not `flowteam experiment` scenarios)
            if name.endswith(".ini") and not name.startswith("tcp"):
                head, runs = dry(os.path.join(SCENARIOS, name))
                self.assertRegex(head, r"^\S+: \d+ runs")
                self.assertGreater(len(runs), 0, name)


class Metrics(unittest.TestCase):
    """A report without a field the metrics need fails that run, naming the
    field (a renamed counter must not read as 0 and pass a check)."""

    def test_missing_report_field_fails_the_run(self):
        import json
        import shutil
        out = tempfile.mkdtemp(prefix="flowteam-exp-")
        try:
            with Scenario("[sweep]\nmode = hash\n") as path:
                _, runs = dry(path)
                os.makedirs(os.path.join(out, "runs"))
                report = {"traffic_s": 1.0, "tx": {"packets": 10, "bytes": 1000},
                          "rx": {"packets": 10, "bytes": 1000}}   # no rx.reorder
                with open(os.path.join(out, "runs", runs[0]["id"] + ".json"), "w") as f:
                    json.dump({"parameters": {}, "report": report}, f)
                p = experiment(path, "--out", out, "--report-only", "--no-plots")
            with open(os.path.join(out, "results.jsonl")) as f:
                recs = [json.loads(line) for line in f if line.strip()]
            self.assertEqual(len(recs), 1, p.stderr)
            self.assertEqual(recs[0]["status"], "failed")
            self.assertIn("metric field 'rx.reorder.unique' missing", recs[0]["error"])
        finally:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
