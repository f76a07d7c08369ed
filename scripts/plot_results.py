#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plots of a `flowteam experiment` results directory.

usage: plot_results.py DIR

Reads DIR/experiment.json (the scenario's [plot:NAME] sections) and
DIR/results.jsonl (one record per run) and writes DIR/plots/NAME.png.

Plot keys (all values are strings, as written in the scenario):
  x, y        record fields (swept or derived parameters, run options, metrics)
  lines       comma list of fields: one line per distinct value tuple
  panels      one field: one subplot per value
  where       conditions `field OP value` joined by ' and ' (OP: = != < <= > >=)
  xcat        true: the x values are categories, equally spaced (inf last, shown ∞)
  hlines      comma list of line labels (values of `lines`) drawn as horizontal
              references: their records have no x (e.g. hash on a δ/skew axis)
  kind        line (default) or bar: grouped bars, one group per x value, one bar per line
  ypct        true: y × 100 (percent)
  yscale      linear | log | symlog
  xlabel, ylabel, title
Each point is the mean over the runs that share (panel, line, x) — the seeds —
with a bar from the minimum to the maximum.

Exit status 3 (after one line on stderr) when matplotlib is missing.
"""
import json
import math
import os
import re
import sys

_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def import_matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        # A non-system python3 first in PATH (pyenv, venv) may lack the Debian
        # python3-matplotlib package that the system interpreter has.
        system = "/usr/bin/python3"
        if os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system) \
                and not os.environ.get("FLOWTEAM_PLOT_REEXEC"):
            os.environ["FLOWTEAM_PLOT_REEXEC"] = "1"
            os.execv(system, [system] + sys.argv)
        print("plot_results: matplotlib is not installed (apt-get install python3-matplotlib); plots skipped",
              file=sys.stderr)
        sys.exit(3)


def num(v):
    """A field as a number: plain, inf, or with a unit (ns us ms s → ns; K M G T)."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    t = str(v).strip().lower()
    if t in ("inf", "+inf", "infinite"):
        return math.inf
    m = re.fullmatch(r"([-+]?[0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*([a-z]*)", t)
    if not m:
        return None
    unit = m.group(2)
    if unit.endswith("bps"):
        unit = unit[:-3]
    elif len(unit) > 1 and unit.endswith("b"):
        unit = unit[:-1]
    if unit == "":
        return float(m.group(1))
    if unit in _UNITS:
        return float(m.group(1)) * _UNITS[unit]
    return None


def text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else ("%g" % v)
    if isinstance(v, list):
        return ";".join(text(x) for x in v)
    return str(v)


def field(rec, name):
    if name in ("id", "status"):
        return rec.get(name)
    m = rec.get("metrics") or {}
    if name in m:
        return m[name]
    return (rec.get("params") or {}).get(name)


def parse_conds(s):
    out = []
    s = (s or "").strip()
    if not s:
        return out
    for part in s.split(" and "):
        m = re.fullmatch(r"\s*([^<>=!\s]+)\s*(<=|>=|!=|=|<|>)\s*(\S.*?)\s*", part)
        if not m:
            raise SystemExit("plot_results: bad condition '%s'" % part)
        out.append(m.groups())
    return out


def holds(rec, conds):
    for f, op, val in conds:
        have = text(field(rec, f))
        if have == "":
            if op != "!=":
                return False
            continue
        a, b = num(have), num(val)
        if a is not None and b is not None:
            ok = {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        elif op in ("=", "!="):
            ok = (have == val) == (op == "=")
        else:
            ok = False
        if not ok:
            return False
    return True


def order_key(values):
    """Sort key: numeric when every value is a number (inf last), else first appearance."""
    vals = list(dict.fromkeys(values))
    if all(v == "" or num(v) is not None for v in vals):
        return lambda v: (v == "", num(v) if v != "" else 0.0)
    pos = {v: i for i, v in enumerate(vals)}
    return lambda v: (v == "", pos.get(v, 0))


def label_of(tup):
    parts = [p for p in tup if p != ""]
    return " · ".join(parts) if parts else "—"


def truthy(s):
    return str(s).strip().lower() in ("1", "true", "yes", "on")


def plot_one(plt, spec, recs, outdir):
    name = spec["name"]
    x, y = spec["x"], spec["y"]
    lines = [f.strip() for f in spec.get("lines", "").split(",") if f.strip()]
    panel_f = spec.get("panels", "").strip()
    conds = parse_conds(spec.get("where", ""))
    bar = spec.get("kind", "line").strip() == "bar"
    xcat = truthy(spec.get("xcat", "false")) or bar
    ypct = truthy(spec.get("ypct", "false"))
    hl = [h.strip() for h in spec.get("hlines", "").split(",") if h.strip()]
    scale = 100.0 if ypct else 1.0

    sel = [r for r in recs if r.get("status") == "ok" and holds(r, conds) and num(field(r, y)) is not None]
    if not sel:
        print("plot_results: %s: no runs match; skipped" % name, file=sys.stderr)
        return False
    panels = [""]
    if panel_f:
        vals = [text(field(r, panel_f)) for r in sel]
        panels = sorted(set(vals), key=order_key(vals))

    xs_all = [text(field(r, x)) for r in sel if text(field(r, x)) != ""]
    xkey = order_key(xs_all)
    xcats = sorted(set(xs_all), key=xkey)

    def xpos(v):
        if xcat:
            return float(xcats.index(v))
        n = num(v)
        return n

    fig, axes = plt.subplots(1, len(panels), figsize=(max(6.0, 4.8 * len(panels)), 4.2), squeeze=False, sharey=True)
    line_vals = [tuple(text(field(r, f)) for f in lines) for r in sel]
    comp_keys = [order_key([t[i] for t in line_vals]) for i in range(len(lines))]
    line_tuples = sorted(set(line_vals), key=lambda t: tuple(k(v) for k, v in zip(comp_keys, t)))
    cmap = plt.get_cmap("tab10")
    colors = {t: cmap(i % 10) for i, t in enumerate(line_tuples)}
    for pi, pv in enumerate(panels):
        ax = axes[0][pi]
        prs = [r for r in sel if not panel_f or text(field(r, panel_f)) == pv]
        for lt in line_tuples:
            lrs = [r for r in prs if tuple(text(field(r, f)) for f in lines) == lt]
            if not lrs:
                continue
            lab = label_of(lt) if lines else y
            with_x = [r for r in lrs if text(field(r, x)) != ""]
            if bar:
                li = line_tuples.index(lt)
                width = 0.8 / max(1, len(line_tuples))
                bx, by, lo, hi = [], [], [], []
                for xv in xcats:
                    ys = [num(field(r, y)) * scale for r in with_x if text(field(r, x)) == xv]
                    if not ys:
                        continue
                    m = sum(ys) / len(ys)
                    bx.append(xcats.index(xv) - 0.4 + width * (li + 0.5))
                    by.append(m)
                    lo.append(m - min(ys))
                    hi.append(max(ys) - m)
                if bx:
                    ax.bar(bx, by, width=width * 0.95, color=colors[lt], label=lab, yerr=[lo, hi], capsize=2,
                           error_kw={"elinewidth": 0.8})
                continue
            if label_of(lt) in hl or not with_x:
                if label_of(lt) in hl or (hl == [] and not with_x):
                    ys = [num(field(r, y)) * scale for r in lrs]
                    m = sum(ys) / len(ys)
                    ax.axhline(m, color=colors[lt], linestyle="--", linewidth=1.5, label="%s (mean %.3g)" % (lab, m))
                continue
            groups = {}
            for r in with_x:
                groups.setdefault(text(field(r, x)), []).append(num(field(r, y)) * scale)
            pts = sorted(groups.items(), key=lambda kv: xkey(kv[0]))
            px, py, lo, hi = [], [], [], []
            for xv, ys in pts:
                p = xpos(xv)
                if p is None or (not xcat and math.isinf(p)):
                    continue
                px.append(p)
                m = sum(ys) / len(ys)
                py.append(m)
                lo.append(m - min(ys))
                hi.append(max(ys) - m)
            if not px:
                continue
            ax.errorbar(px, py, yerr=[lo, hi], marker="o", markersize=4, capsize=3, color=colors[lt], label=lab)
        if xcat:
            ax.set_xticks(range(len(xcats)))
            ax.set_xticklabels(["∞" if num(c) is not None and math.isinf(num(c)) else c for c in xcats])
        ax.set_xlabel(spec.get("xlabel", x))
        if pi == 0:
            ax.set_ylabel(spec.get("ylabel", y + (" (%)" if ypct else "")))
        ys = spec.get("yscale", "linear")
        if ys == "symlog":
            ax.set_yscale("symlog", linthresh=spec.get("linthresh") and float(spec["linthresh"]) or 0.01)
        elif ys in ("log", "linear"):
            ax.set_yscale(ys)
        if panel_f:
            ax.set_title("%s = %s" % (panel_f, pv if pv != "" else "—"), fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, title=", ".join(lines) if lines else None, title_fontsize=8)
    fig.suptitle(spec.get("title", name), fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.join(outdir, "plots"), exist_ok=True)
    path = os.path.join(outdir, "plots", name + ".png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main():
    if len(sys.argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    with open(os.path.join(outdir, "experiment.json")) as f:
        spec = json.load(f)
    if not spec.get("plots"):
        return 0
    plt = import_matplotlib()
    recs = []
    with open(os.path.join(outdir, "results.jsonl")) as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    n = 0
    for p in spec["plots"]:
        n += plot_one(plt, p, recs, outdir)
    print("plot_results: %d plot(s) in %s" % (n, os.path.join(outdir, "plots")), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
