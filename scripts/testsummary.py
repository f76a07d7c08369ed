#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Summarise meson's testlog.json files: GoogleTest cases per suite and the
closing line 'N passed, N failed'. Exit 1 when anything failed or nothing ran."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
    except OSError as e:
        print(f"testsummary: {path}: {e.strerror}", file=sys.stderr)
        failed += 1
        continue
    for t in lines:
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"FAILED: {t.get('name')} ({path})")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
