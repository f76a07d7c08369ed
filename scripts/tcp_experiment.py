#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""flowteam `tcp` scenario: real kernel TCP across the team.

Per mode: three network namespaces (names carry this process's pid):
  <p>f  runs `flowteam bridge` (its two net_tap interfaces are created here),
  <p>a  client: tap A moved in, 198.18.0.1/24,
  <p>b  server: tap B moved in, 198.18.0.2/24,
with static neighbour entries (no ARP needed) and IPv6 off. Client -> server
data crosses the sending team, the emulated member links and the receiving
team; ACKs go from tap B straight back to tap A (see dataplane/bridge.h).

Traffic per mode, one phase after the other:
  iperf3  -P STREAMS for DURATION seconds (Debian's iperf3, JSON output);
          the kernel's view: `ss -tin` sampled every 0.5 s in the client
          namespace (last sample per connection) and nstat deltas;
  bulk    a socket-based bulk sender modelling a TCP/IP live migration:
          CHANNELS connections each sending BULK MiB, TCP_INFO read with
          getsockopt once the server has confirmed every byte.
Then the bridge's own --json report: member shares, drops by reason,
reordering by IP ID per flow.

Usage (as root):
  scripts/tcp_experiment.py [scenarios/tcp.ini] [--out DIR] [--modes hash,dynamic,roundrobin]
Output: a table on stdout; DIR/results.json, DIR/results.csv, DIR/summary.txt, and per mode the
bridge's JSON and log. Every namespace and process this script made is removed on every exit path
(normal end, exception, SIGINT, SIGTERM); every step has a timeout.
"""

import argparse
import csv
import json
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

PREFIX = "ftt"                       # namespace prefix: ftt<pid>{f,a,b}
ADDR_A, ADDR_B = "198.18.0.1", "198.18.0.2"
IPERF_PORT, BULK_PORT = 5201, 5301

# Mode name -> (--mode, --teaming), as in `flowteam migrate`.
MODES = {
    "hash": ("hash", "static"),
    "si-hash": ("hash", "switch-independent"),
    "vport": ("vport", "switch-independent"),
    "dynamic": ("dynamic", "switch-independent"),
    "roundrobin": ("roundrobin", "static"),
    "flowcell": ("flowcell", "static"),
}

DEFAULTS = {
    "modes": "hash,dynamic,roundrobin",
    "rates": "1G,1G",
    "delays": "0,300us",          # 300 us skew
    "flowlet-gap": "auto",        # dynamic: from the measured skew (queue timing accounts for the queueing)
    "flowlet-timing": "queue",    # dynamic: queue (never reorders) or sender (FLARE's classic idle-time rule)
    "queue": "512",
    "queue-mode": "backpressure",
    "duration": "8",              # iperf3 seconds
    "streams": "4",               # iperf3 -P
    "bulk-channels": "2",         # migration channels (0: no bulk phase)
    "bulk-mib": "64",             # per channel
    "shape": "0",                 # client-side tbf rate in front of the team (0: none), e.g. 1.6G
    "eal-lcores": "",             # passed as EAL -l when set (default: flowteam's testbed choice)
    "bridge-args": "",            # extra `flowteam bridge` options, space separated
}


def die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Fatal(Exception):
    pass


class Stop(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, timeout=15, check=True, capture=True):
    """Run a command with a timeout; one-line error on failure."""
    try:
        p = subprocess.run(cmd, timeout=timeout, check=False, text=True,
                           stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                           stderr=subprocess.PIPE if capture else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Fatal(f"timed out after {timeout}s: {' '.join(cmd)}")
    if check and p.returncode != 0:
        err = (p.stderr or "").strip().splitlines()
        raise Fatal(f"failed ({p.returncode}): {' '.join(cmd)}: {err[-1] if err else ''}")
    return p


def parse_ini(path):
    """key = value lines (Boost-INI-like), '#'/';' comments. Keys before any section or in [tcp] are
    ours; other sections (e.g. a [scenario] block for `flowteam experiment`) are left alone."""
    cfg, section = {}, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                continue
            if section not in (None, "tcp"):
                continue
            if "=" not in line:
                raise Fatal(f"{path}:{n}: expected key = value")
            k, v = line.split("=", 1)
            k = k.strip()
            if k not in DEFAULTS:
                raise Fatal(f"{path}:{n}: unknown key '{k}' (allowed: {', '.join(sorted(DEFAULTS))})")
            cfg[k] = v.split(" #")[0].strip()
    return cfg


# ------------------------------------------------------------------ tcp_info

# struct tcp_info (include/uapi/linux/tcp.h) offsets of the fields we read.
TCPI = {
    "snd_mss": (16, "I"), "unacked": (24, "I"), "lost": (32, "I"), "pmtu": (60, "I"), "rtt": (68, "I"),
    "snd_cwnd": (80, "I"), "reordering": (88, "I"), "total_retrans": (100, "I"), "bytes_acked": (120, "Q"),
    "segs_out": (136, "I"), "data_segs_out": (156, "I"), "delivery_rate": (160, "Q"),
    "bytes_sent": (200, "Q"), "bytes_retrans": (208, "Q"), "dsack_dups": (216, "I"), "reord_seen": (220, "I"),
}


def tcp_info(sock):
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    out = {}
    for k, (off, fmt) in TCPI.items():
        size = struct.calcsize(fmt)
        out[k] = struct.unpack_from(fmt, raw, off)[0] if len(raw) >= off + size else None
    return out


def bulk_server(port, channels, timeout):
    """Accept `channels` connections, read each to EOF, answer with the byte count."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(channels)
    ls.settimeout(timeout)
    print("listening", flush=True)
    deadline = time.monotonic() + timeout
    conns, counts = [], {}
    sel = selectors.DefaultSelector()
    for _ in range(channels):
        c, _ = ls.accept()
        c.setblocking(False)
        conns.append(c)
        counts[c] = 0
        sel.register(c, selectors.EVENT_READ)
    open_ = len(conns)
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            c = key.fileobj
            try:
                d = c.recv(1 << 20)
            except BlockingIOError:
                continue
            if d:
                counts[c] += len(d)
            else:
                sel.unregister(c)
                c.setblocking(True)
                c.sendall(struct.pack("!Q", counts[c]))
                c.close()
                open_ -= 1
    return 0 if open_ == 0 else 1


def bulk_client(addr, port, channels, mib, timeout):
    """`channels` connections in parallel, each sends mib MiB; TCP_INFO after the server confirmed."""
    total = mib << 20
    chunk = b"\x5a" * (1 << 20)
    results = [None] * channels
    t0 = time.monotonic()

    def one(i):
        s = socket.create_connection((addr, port), timeout=timeout)
        s.settimeout(timeout)
        sent = 0
        while sent < total:
            n = min(len(chunk), total - sent)
            s.sendall(chunk[:n])
            sent += n
        s.shutdown(socket.SHUT_WR)
        got = b""
        while len(got) < 8:
            d = s.recv(8 - len(got))
            if not d:
                break
            got += d
        t1 = time.monotonic()
        info = tcp_info(s)
        s.close()
        confirmed = struct.unpack("!Q", got)[0] if len(got) == 8 else -1
        results[i] = {"channel": i, "bytes": total, "confirmed": confirmed, "seconds": t1 - t0,
                      "gbps": total * 8 / (t1 - t0) / 1e9, "tcp_info": info}

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(channels)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    elapsed = time.monotonic() - t0
    ok = all(r is not None and r["confirmed"] == total for r in results)
    print(json.dumps({"ok": ok, "seconds": elapsed, "channels": [r for r in results if r is not None],
                      "gbps": channels * total * 8 / elapsed / 1e9 if ok else 0.0}), flush=True)
    return 0 if ok else 1


# ------------------------------------------------------------------ ss / nstat

SS_KEYS = ("reordering", "reord_seen", "dsack_dups")


def parse_ss(text):
    """`ss -tin` -> {(local, peer): {retrans_total, reordering, reord_seen, dsack_dups, bytes_retrans}}."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("ESTAB") or line.startswith("FIN") or line.startswith("CLOSE") or line.startswith("LAST"):
            f = line.split()
            cur = (f[3], f[4]) if len(f) >= 5 else None
            continue
        if cur is None:
            continue
        d = {}
        m = re.search(r"\bretrans:(\d+)/(\d+)", line)
        if m:
            d["retrans_total"] = int(m.group(2))
        for k in SS_KEYS + ("bytes_retrans",):
            m = re.search(r"\b" + k + r":(\d+)", line)
            if m:
                d[k] = int(m.group(1))
        d.setdefault("reordering", 3)   # ss prints it only when it differs from the default
        out.setdefault(cur, {}).update(d)
        cur = None
    return out


NSTAT_KEYS = ("TcpOutSegs", "TcpRetransSegs", "TcpExtTCPDSACKRecv", "TcpExtTCPDSACKRecvSegs", "TcpExtTCPSACKReorder",
              "TcpExtTCPTSReorder", "TcpExtTCPRenoReorder", "TcpExtTCPSpuriousRTOs", "TcpExtTCPLostRetransmit",
              "TcpExtTCPFastRetrans", "TcpExtTCPTimeouts", "TcpExtTCPDSACKUndo", "TcpExtTCPSackRecoveryFail",
              "TcpExtTCPOFOQueue", "TcpExtTCPDSACKOldSent", "TcpExtTCPDSACKOfoSent")


def telemetry_members(sock_path):
    """Per-member TX packets from the bridge's DPDK telemetry (/flowteam/members); None when unavailable."""
    if not sock_path:
        return None
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(3)
        s.connect(sock_path)
        s.recv(1 << 16)                    # greeting
        s.send(b"/flowteam/members")
        j = json.loads(s.recv(1 << 20).decode())
        s.close()
        m = j["/flowteam/members"]
        return [int(m[f"m{i}"]["tx_packets"]) for i in range(int(m["members"]))]
    except (OSError, ValueError, KeyError):
        return None


def nstat(ns):
    p = run(["ip", "netns", "exec", ns, "nstat", "-a", "-s", "-z", "-j"], timeout=10)
    k = json.loads(p.stdout).get("kernel", {})
    return {n: int(k.get(n, 0)) for n in NSTAT_KEYS}


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


# ------------------------------------------------------------------ the experiment

class Experiment:
    def __init__(self, cfg, out_dir, flowteam):
        self.cfg = cfg
        self.out = out_dir
        self.flowteam = flowteam
        self.pid = os.getpid()
        self.ns = {r: f"{PREFIX}{self.pid}{r}" for r in "fab"}
        self.procs = []            # Popen objects started by us (killed by pid on cleanup)
        self.telemetry = None      # the bridge's DPDK telemetry socket

    # ---- lifecycle
    def sweep_stale(self):
        p = run(["ip", "netns", "list"], timeout=10)
        for line in p.stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            m = re.fullmatch(PREFIX + r"(\d+)[fab]", name)
            if m and not os.path.exists(f"/proc/{m.group(1)}"):
                log(f"removing stale namespace {name}")
                run(["ip", "netns", "del", name], timeout=10, check=False)

    def spawn(self, cmd, stdout, stderr=subprocess.STDOUT):
        # Own process group (a terminal's Ctrl-C reaches us only; we stop them in order), and
        # SIGTERM to the child if this script dies without cleaning up (kill -9).
        p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, text=True, start_new_session=True,
                             preexec_fn=die_with_parent)
        self.procs.append(p)
        return p

    def stop_proc(self, p, sig=signal.SIGTERM, wait=10):
        if p.poll() is not None:
            return
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)

    def cleanup(self):
        for p in reversed(self.procs):
            self.stop_proc(p, signal.SIGTERM, 10)
        self.procs = []
        for ns in self.ns.values():
            run(["ip", "netns", "del", ns], timeout=10, check=False)

    # ---- one mode
    def ns_exec(self, ns, *cmd):
        return ["ip", "netns", "exec", self.ns[ns], *cmd]

    def setup_namespaces(self):
        for r in "fab":
            run(["ip", "netns", "add", self.ns[r]])
            run(["ip", "-n", self.ns[r], "link", "set", "lo", "up"])
        for r in "ab":
            for key in ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
                        "net.ipv4.tcp_no_metrics_save=1"):
                run(self.ns_exec(r, "sysctl", "-qw", key))

    def start_bridge(self, mode_dir, mode):
        m, teaming = MODES[mode]
        c = self.cfg
        total = int(c["duration"]) + 120 + 5
        ready = os.path.join(mode_dir, "ready")
        cmd = self.ns_exec("f", self.flowteam, "bridge", "--mode", m, "--teaming", teaming, "--rates", c["rates"],
                           "--delays", c["delays"], "--flowlet-gap", c["flowlet-gap"],
                           "--flowlet-timing", c["flowlet-timing"], "--queue", c["queue"],
                           "--queue-mode", c["queue-mode"], "--duration", f"{total}s", "--iface-a", "ftA",
                           "--iface-b", "ftB", "--ready-file", ready, "--json", os.path.join(mode_dir, "bridge.json"))
        cmd += c["bridge-args"].split()
        if c["eal-lcores"]:
            cmd += ["--", "-l", c["eal-lcores"], "--no-huge", "--no-pci", "-m", "1024",
                    f"--file-prefix=ftt{self.pid}"]
        logf = open(os.path.join(mode_dir, "bridge.log"), "w")
        p = self.spawn(cmd, logf)
        deadline = time.monotonic() + 40
        while not os.path.exists(ready):
            if p.poll() is not None:
                logf.flush()
                tail = open(os.path.join(mode_dir, "bridge.log")).read().strip().splitlines()[-1:]
                raise Fatal(f"flowteam bridge exited ({p.returncode}) before it was ready: {' '.join(tail)}")
            if time.monotonic() > deadline:
                raise Fatal("flowteam bridge was not ready within 40 s (see bridge.log)")
            time.sleep(0.1)
        words = open(ready).read().split()
        self.telemetry = words[2] if len(words) >= 3 else None
        return p

    def wire_namespaces(self):
        f, a, b = self.ns["f"], self.ns["a"], self.ns["b"]
        run(["ip", "-n", f, "link", "set", "ftA", "netns", a])
        run(["ip", "-n", f, "link", "set", "ftB", "netns", b])
        macs = {}
        for r, dev, addr in (("a", "ftA", ADDR_A), ("b", "ftB", ADDR_B)):
            ns = self.ns[r]
            run(["ip", "-n", ns, "link", "set", dev, "mtu", "1500"])
            run(["ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
            info = json.loads(run(["ip", "-n", ns, "-j", "link", "show", dev]).stdout)
            macs[r] = info[0]["address"]
        run(["ip", "-n", a, "neigh", "replace", ADDR_B, "lladdr", macs["b"], "dev", "ftA", "nud", "permanent"])
        run(["ip", "-n", b, "neigh", "replace", ADDR_A, "lladdr", macs["a"], "dev", "ftB", "nud", "permanent"])
        shape = self.cfg["shape"]
        if shape not in ("", "0"):
            rate = shape.lower().replace("g", "gbit").replace("m", "mbit")
            run(["ip", "netns", "exec", a, "tc", "qdisc", "replace", "dev", "ftA", "root", "tbf", "rate", rate,
                 "burst", "256kb", "limit", "16mb"])

    def tap_stats(self):
        """The kernel side of each tap: drops the bridge cannot see (e.g. tun queue full)."""
        out = {}
        for r, dev in (("a", "ftA"), ("b", "ftB")):
            p = run(["ip", "-n", self.ns[r], "-s", "-j", "link", "show", dev], timeout=10, check=False)
            try:
                st = json.loads(p.stdout)[0]["stats64"]
                out[dev] = {"tx_packets": st["tx"]["packets"], "tx_dropped": st["tx"]["dropped"],
                            "rx_packets": st["rx"]["packets"], "rx_dropped": st["rx"]["dropped"]}
            except (ValueError, KeyError, IndexError):
                out[dev] = None
        return out

    def run_iperf(self, mode_dir):
        c = self.cfg
        dur, streams = int(c["duration"]), int(c["streams"])
        srv = self.spawn(self.ns_exec("b", "iperf3", "-s", "-1", "-p", str(IPERF_PORT), "-B", ADDR_B),
                         open(os.path.join(mode_dir, "iperf3-server.log"), "w"))
        time.sleep(0.5)
        before = nstat(self.ns["a"])
        tm0 = telemetry_members(self.telemetry)
        out = open(os.path.join(mode_dir, "iperf3.json"), "w")
        cli = self.spawn(self.ns_exec("a", "iperf3", "-c", ADDR_B, "-p", str(IPERF_PORT), "-P", str(streams), "-t",
                                      str(dur), "-J", "--connect-timeout", "10000"), out, subprocess.DEVNULL)
        last = {}
        deadline = time.monotonic() + dur + 30
        while cli.poll() is None:
            if time.monotonic() > deadline:
                raise Fatal(f"iperf3 did not finish within {dur + 30} s")
            p = run(self.ns_exec("a", "ss", "-tin", "dst", ADDR_B), timeout=10, check=False)
            for k, v in parse_ss(p.stdout).items():
                if k[1].endswith(f":{IPERF_PORT}"):
                    last[k] = v
            time.sleep(0.5)
        out.close()
        after = nstat(self.ns["a"])
        tm1 = telemetry_members(self.telemetry)
        self.stop_proc(srv, signal.SIGTERM, 5)
        try:
            j = json.load(open(os.path.join(mode_dir, "iperf3.json")))
        except (ValueError, OSError):
            raise Fatal("iperf3 wrote no JSON (see iperf3.json)")
        if "error" in j:
            raise Fatal(f"iperf3: {j['error']}")
        end = j["end"]
        socks = [v for v in last.values()]
        return {
            "gbps": end["sum_received"]["bits_per_second"] / 1e9,
            "sent_gbps": end["sum_sent"]["bits_per_second"] / 1e9,
            "iperf_retransmits": end["sum_sent"].get("retransmits", 0),
            "streams": streams,
            "seconds": dur,
            "ss": {f"{k[0]}->{k[1]}": v for k, v in last.items()},
            "retrans_total": sum(v.get("retrans_total", 0) for v in socks),
            "reord_seen": sum(v.get("reord_seen", 0) for v in socks),
            "dsack_dups": sum(v.get("dsack_dups", 0) for v in socks),
            "reordering_max": max([v.get("reordering", 3) for v in socks] or [0]),
            "nstat": delta(before, after),
            "member_tx": [b - a for a, b in zip(tm0, tm1)] if tm0 and tm1 else None,
        }

    def run_bulk(self, mode_dir):
        c = self.cfg
        ch, mib = int(c["bulk-channels"]), int(c["bulk-mib"])
        timeout = 90
        me = os.path.abspath(__file__)
        srv = self.spawn(self.ns_exec("b", sys.executable, me, "--bulk-server", str(ch), "--timeout", str(timeout)),
                         subprocess.PIPE, subprocess.DEVNULL)
        line = srv.stdout.readline()
        if "listening" not in line:
            raise Fatal("bulk server did not start")
        before = nstat(self.ns["a"])
        tm0 = telemetry_members(self.telemetry)
        p = run(self.ns_exec("a", sys.executable, me, "--bulk-client", str(ch), "--mib", str(mib), "--timeout",
                             str(timeout)), timeout=timeout + 10, check=False)
        after = nstat(self.ns["a"])
        tm1 = telemetry_members(self.telemetry)
        self.stop_proc(srv, signal.SIGTERM, 5)
        try:
            j = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Fatal(f"bulk sender failed: {(p.stderr or '').strip().splitlines()[-1:]}")
        with open(os.path.join(mode_dir, "bulk.json"), "w") as f:
            json.dump(j, f, indent=2)
        if not j["ok"]:
            raise Fatal("bulk sender: not every byte was confirmed by the server")
        infos = [x["tcp_info"] for x in j["channels"]]
        return {
            "gbps": j["gbps"], "seconds": j["seconds"], "channels": ch, "mib": mib,
            "retrans_total": sum(i["total_retrans"] for i in infos),
            "reord_seen": sum(i["reord_seen"] or 0 for i in infos),
            "dsack_dups": sum(i["dsack_dups"] or 0 for i in infos),
            "reordering_max": max(i["reordering"] for i in infos),
            "bytes_retrans": sum(i["bytes_retrans"] or 0 for i in infos),
            "per_channel": [x["tcp_info"] for x in j["channels"]],
            "nstat": delta(before, after),
            "member_tx": [b - a for a, b in zip(tm0, tm1)] if tm0 and tm1 else None,
        }

    def run_mode(self, mode):
        mode_dir = os.path.join(self.out, mode)
        os.makedirs(mode_dir, exist_ok=True)
        for f in ("ready", "bridge.json"):
            if os.path.exists(os.path.join(mode_dir, f)):
                os.unlink(os.path.join(mode_dir, f))
        res = {"mode": mode}
        try:
            self.setup_namespaces()
            bridge = self.start_bridge(mode_dir, mode)
            self.wire_namespaces()
            if int(self.cfg["streams"]) > 0:
                res["iperf"] = self.run_iperf(mode_dir)
            if int(self.cfg["bulk-channels"]) > 0:
                res["bulk"] = self.run_bulk(mode_dir)
            res["taps"] = self.tap_stats()
            self.stop_proc(bridge, signal.SIGINT, 20)
            if bridge.returncode != 0:
                raise Fatal(f"flowteam bridge exited with {bridge.returncode} (see {mode_dir}/bridge.log)")
            res["bridge"] = summarize_bridge(json.load(open(os.path.join(mode_dir, "bridge.json"))), res)
        finally:
            self.cleanup()
        return res


def phase_of(dst):
    dport = int(dst.rsplit(":", 1)[1])
    return "iperf" if dport == IPERF_PORT else "bulk" if dport == BULK_PORT else "other"


def summarize_bridge(j, res):
    rep, br = j["report"], j["bridge"]
    tx = [int(m.get("tx_packets", 0)) for m in rep.get("members", [])]
    tot = sum(tx) or 1
    wire = rep.get("wire", {})
    txr = rep.get("tx", {})
    drops = {
        "wire_dropped": int(wire.get("dropped", 0)), "wire_lost": int(wire.get("lost", 0)),
        "tx_malformed": sum(int(v) for v in txr.get("malformed", {}).values()) if isinstance(txr.get("malformed"), dict) else 0,
        "tx_no_member": int(txr.get("no_member", 0)),
        "a_too_big": br["a_too_big"], "b_tx_full": br["b_tx_full"], "b_alloc_failed": br["b_alloc_failed"],
        "b_segmented": br["b_segmented"], "rev_tx_full": br["rev_tx_full"],
    }
    # Per phase: TX member shares (telemetry deltas) and flowteam's reordering (IP-ID order, per flow).
    phases = {}
    for ph in ("iperf", "bulk"):
        if ph not in res:
            continue
        mt = res[ph].get("member_tx")
        uniq = reo = ge3 = 0
        for f in br["flows"]:
            if phase_of(f["dst"]) == ph:
                uniq += f["reorder"]["unique"]
                reo += f["reorder"]["reordered"]
                ge3 += f["reorder"]["n_reordered_ge3"]
        phases[ph] = {"tx_shares": [x / (sum(mt) or 1) for x in mt] if mt else None,
                      "reordered": reo, "reordered_ratio": reo / uniq if uniq else 0.0, "n_reordered_ge3": ge3}
    return {
        "tx_shares": [x / tot for x in tx],
        "phases": phases,
        "flows": len(br["flows"]),
        "reordered": br["reorder"]["reordered"],
        "reordered_ratio": br["reorder"]["reordered_ratio"],
        "n_reordered_ge3": br["reorder"]["n_reordered_ge3"],
        "max_extent": br["reorder"]["max_extent"],
        "tcp4_frames": br["tcp4_frames"],
        "drops": drops,
        "engine": {k: rep.get(k) for k in ("stop_reason", "traffic_s") if k in rep},
    }


def fmt_shares(s):
    return "/".join(f"{100 * x:.0f}%" for x in s)


def phase_rows(r):
    """(phase, client-side figures, bridge figures) of each phase a mode ran."""
    b = r.get("bridge", {})
    for ph in ("iperf", "bulk"):
        if ph in r:
            yield ph, r[ph], b.get("phases", {}).get(ph, {})


def table(results):
    hdr = (f"{'mode':<11}{'phase':<7}{'Gb/s':>7}{'retrans':>8}{'reord_seen':>11}{'dsack_dups':>11}{'reordering':>11}"
           f"{'DSACKRecv':>10}  {'tx shares':<10}{'ft reordered':>13}{'n>=3':>7}")
    lines = [hdr]
    for r in results:
        b = r.get("bridge", {})
        for ph, x, p in phase_rows(r):
            lines.append(f"{r['mode']:<11}{ph:<7}{x['gbps']:>7.3f}{x['retrans_total']:>8}{x['reord_seen']:>11}"
                         f"{x['dsack_dups']:>11}{x['reordering_max']:>11}{x['nstat']['TcpExtTCPDSACKRecv']:>10}  "
                         f"{fmt_shares(p.get('tx_shares') or []):<10}{100 * p.get('reordered_ratio', 0):>12.3f}%"
                         f"{p.get('n_reordered_ge3', 0):>7}")
        if b:
            d = b["drops"]
            lines.append(f"{'':<11}{'drops':<7} wire {d['wire_dropped'] + d['wire_lost']}, tap B full {d['b_tx_full']}, "
                         f"tap A full {d['rev_tx_full']}, other "
                         f"{d['a_too_big'] + d['b_alloc_failed'] + d['b_segmented'] + d['tx_malformed'] + d['tx_no_member']}"
                         + "".join(f"; kernel {dev} tx_dropped {v['tx_dropped']} rx_dropped {v['rx_dropped']}"
                                   for dev, v in (r.get("taps") or {}).items() if v))
    return "\n".join(lines)


CSV_COLS = ["mode", "phase", "gbps", "retrans_total", "reord_seen", "dsack_dups", "reordering_max", "TcpRetransSegs",
            "TcpExtTCPDSACKRecv", "TcpExtTCPSACKReorder", "TcpExtTCPSpuriousRTOs", "tx_shares", "ft_reordered_ratio",
            "ft_n_reordered_ge3"]


def write_outputs(out, cfg, results):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"config": cfg, "results": results}, f, indent=2)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLS)
        for r in results:
            for ph, x, p in phase_rows(r):
                w.writerow([r["mode"], ph, f"{x['gbps']:.4f}", x["retrans_total"], x["reord_seen"], x["dsack_dups"],
                            x["reordering_max"], x["nstat"]["TcpRetransSegs"], x["nstat"]["TcpExtTCPDSACKRecv"],
                            x["nstat"]["TcpExtTCPSACKReorder"], x["nstat"]["TcpExtTCPSpuriousRTOs"],
                            fmt_shares(p.get("tx_shares") or []), f"{p.get('reordered_ratio', 0):.6f}",
                            p.get("n_reordered_ge3", 0)])


def find_flowteam():
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.environ.get("FLOWTEAM", ""), os.path.join(here, "..", "build", "apps", "flowteam")):
        if cand and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    return shutil.which("flowteam")


def main(argv):
    ap = argparse.ArgumentParser(description="flowteam tcp scenario: kernel TCP across the team, per mode")
    ap.add_argument("scenario", nargs="?", help="INI file (scenarios/tcp.ini); keys: " + ", ".join(DEFAULTS))
    ap.add_argument("--out", default="results/tcp", help="output directory")
    ap.add_argument("--flowteam", help="flowteam binary (default: $FLOWTEAM, build/apps/flowteam, PATH)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a scenario key")
    ap.add_argument("--bulk-server", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--bulk-client", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mib", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=int, default=90, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.bulk_server is not None:
        return bulk_server(BULK_PORT, a.bulk_server, a.timeout)
    if a.bulk_client is not None:
        return bulk_client(ADDR_B, BULK_PORT, a.bulk_client, a.mib, a.timeout)

    cfg = dict(DEFAULTS)
    try:
        if a.scenario:
            cfg.update(parse_ini(a.scenario))
        for kv in a.set:
            k, _, v = kv.partition("=")
            if k not in DEFAULTS:
                raise Fatal(f"--set: unknown key '{k}' (allowed: {', '.join(sorted(DEFAULTS))})")
            cfg[k] = v
        modes = [m.strip() for m in cfg["modes"].split(",") if m.strip()]
        for m in modes:
            if m not in MODES:
                raise Fatal(f"modes: '{m}' not allowed; allowed: {', '.join(MODES)}")
        for k in ("duration", "streams", "bulk-channels", "bulk-mib"):
            if not cfg[k].isdigit():
                raise Fatal(f"{k}: '{cfg[k]}' is not a non-negative integer")
        if os.geteuid() != 0:
            raise Fatal("must run as root (network namespaces, tap interfaces)")
        for tool in ("ip", "iperf3", "ss", "nstat", "tc"):
            if shutil.which(tool) is None:
                raise Fatal(f"'{tool}' not found (apt-get install iproute2 iperf3)")
        if not os.path.exists("/dev/net/tun"):
            raise Fatal("/dev/net/tun missing: no tun/tap support")
        flowteam = a.flowteam or find_flowteam()
        if not flowteam or not os.access(flowteam, os.X_OK):
            raise Fatal("flowteam binary not found (build it, or give --flowteam / $FLOWTEAM)")
        os.makedirs(a.out, exist_ok=True)
    except Fatal as e:
        print(f"tcp_experiment: {e}", file=sys.stderr)
        return 2

    exp = Experiment(cfg, os.path.abspath(a.out), os.path.abspath(flowteam))

    def on_signal(signum, frame):
        raise Stop(signal.Signals(signum).name)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    results = []
    rc = 0
    try:
        exp.sweep_stale()
        for i, m in enumerate(modes):
            log(f"[{i + 1}/{len(modes)}] mode {m}")
            t0 = time.monotonic()
            results.append(exp.run_mode(m))
            log(f"[{i + 1}/{len(modes)}] mode {m} done in {time.monotonic() - t0:.1f} s")
    except Stop as e:
        print(f"tcp_experiment: stopped by {e}; namespaces and processes removed", file=sys.stderr)
        rc = 130
    except Fatal as e:
        print(f"tcp_experiment: {e}", file=sys.stderr)
        rc = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        exp.cleanup()
        for s, h in old.items():
            signal.signal(s, h)
    if results:
        write_outputs(exp.out, cfg, results)
        t = table(results)
        with open(os.path.join(exp.out, "summary.txt"), "w") as f:
            f.write(t + "\n")
        print(t)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
