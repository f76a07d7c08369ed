// SPDX-License-Identifier: BSD-3-Clause
// flowteam — engine orchestration: ports, stages, lcore layout, control loop
// (failure schedule, link polling, progress, stop), telemetry, report.
#include "dataplane/engine.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "dataplane/eal.h"
#include "dataplane/engine_stages.h"
#include "dataplane/lcores.h"
#include "dataplane/port.h"
#include "dataplane/port_io.h"
#include "dataplane/ring_io.h"
#include "dataplane/signals.h"
#include "dataplane/telemetry.h"
#include "dataplane/testbed.h"
#include "teaming/rss.h"

namespace flowteam::dataplane {
namespace {

using namespace engine_detail;

enum class Role : std::uint8_t { testbed, tx, rx };

std::atomic<unsigned> g_run_counter{0};

std::uint32_t all_up(std::uint8_t n) { return n >= 32 ? ~0u : ((1u << n) - 1u); }

double secs(Tick t, std::uint64_t hz) { return static_cast<double>(t) / static_cast<double>(hz); }
double us(Tick t, std::uint64_t hz) { return secs(t, hz) * 1e6; }
// A measured bound in microseconds, -1 when not measured.
double delay_us(Tick t, std::uint64_t hz) { return t == measure::DelayWindow::kNone ? -1 : us(t, hz); }

void validate(const EngineOptions& o, Role role) {
    const std::size_t n = o.links.size();
    if (n == 0 || n > kMaxMembers)
        throw std::invalid_argument("members: " + std::to_string(n) + " not allowed; allowed: 1.." +
                                    std::to_string(kMaxMembers) + " (one rate per member)");
    if (o.rx_queues == 0 || o.rx_queues > kMaxEngineQueues)
        throw std::invalid_argument("rx-queues: " + std::to_string(o.rx_queues) + " not allowed; allowed: 1.." +
                                    std::to_string(kMaxEngineQueues));
    if (role == Role::testbed && o.receiver_primary >= n)
        throw std::invalid_argument("primary: member " + std::to_string(o.receiver_primary) + " does not exist");
    for (const auto& f : o.failures) {
        if (role != Role::testbed)
            throw std::invalid_argument("fail: scheduled failures need the embedded testbed (flowteam run)");
        if (f.member >= n)
            throw std::invalid_argument("fail: member " + std::to_string(f.member) + " does not exist (members 0.." +
                                        std::to_string(n - 1) + ")");
        if (f.up_ns && *f.up_ns <= f.at_ns)
            throw std::invalid_argument("fail: member " + std::to_string(f.member) + " comes back before it fails");
    }
    if (!o.port_ids.empty() && o.port_ids.size() != n)
        throw std::invalid_argument("ports: " + std::to_string(o.port_ids.size()) + " ports for " + std::to_string(n) +
                                    " members; give one port per member (or one rate per port)");
    if (o.traffic_kind == TrafficKind::custom && !o.source_factory)
        throw std::invalid_argument("traffic: a custom source needs a source factory");
    if (o.traffic_kind == TrafficKind::pcap && o.pcap_file.empty())
        throw std::invalid_argument("pcap: no file given");
    if (o.tx_ring < 32 || (o.tx_ring & (o.tx_ring - 1)) != 0)
        throw std::invalid_argument("tx-ring: " + std::to_string(o.tx_ring) + " not allowed; allowed: a power of two >= 32");
    if (o.rx_ring < 64 || (o.rx_ring & (o.rx_ring - 1)) != 0)
        throw std::invalid_argument("rx-ring: " + std::to_string(o.rx_ring) + " not allowed; allowed: a power of two >= 64");
}

std::uint16_t data_room_for(std::uint32_t mtu) {
    const std::uint32_t frame = mtu + 14 + 4 + 8;
    if (frame + RTE_PKTMBUF_HEADROOM <= RTE_MBUF_DEFAULT_BUF_SIZE) return RTE_MBUF_DEFAULT_BUF_SIZE;
    return static_cast<std::uint16_t>(RTE_PKTMBUF_HEADROOM + ((frame + 1023u) & ~1023u));
}

// ------------------------------------------------------------- the run

struct WorkerPlan {
    unsigned lcore = 0;
    TxStage* tx = nullptr;
    WireStage* wire = nullptr;
    std::vector<RxStage*> rx;
    std::string name;
};

struct Run {
    Role role;
    EngineOptions opts;
    std::uint64_t hz = 0;
    std::uint8_t n = 0;
    packet::ToeplitzKey rss_key;
    Shared shared;
    EngineReport report;

    std::unique_ptr<MbufPools> pools;
    std::vector<RingPair> send_pairs, recv_pairs;
    std::vector<VirtualPort> vports;                   // memif / pcap devices
    std::vector<std::unique_ptr<Port>> tx_ports, rx_ports;
    std::unique_ptr<Port> pcap_port;
    std::vector<std::uint16_t> reta;
    teaming::QueueLcoreMap qmap;
    std::vector<unsigned> rx_lcores;
    std::vector<rte_ring*> handoff;

    std::unique_ptr<TxStage> tx;
    std::unique_ptr<WireStage> wire;
    std::vector<std::unique_ptr<RxStage>> rx;
    std::vector<WorkerPlan> plan;
    std::vector<std::unique_ptr<TelemetryRegistration>> telemetry;   // destroyed first

    ~Run() {
        telemetry.clear();
        for (rte_ring* r : handoff) {
            void* objs[kBurstSize];
            for (unsigned k; (k = rte_ring_dequeue_burst(r, objs, kBurstSize, nullptr)) != 0;)
                rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), k);
            rte_ring_free(r);
        }
        rx.clear();
        wire.reset();
        tx.reset();
        pcap_port.reset();
        tx_ports.clear();
        rx_ports.clear();
        vports.clear();
        send_pairs.clear();
        recv_pairs.clear();
        pools.reset();
    }
};

std::uint32_t pool_size(const Run& r) {
    if (r.opts.mbufs != 0) return r.opts.mbufs;
    std::uint64_t need = 4096;
    for (const auto& l : r.opts.links) {
        const double flight_s = static_cast<double>(l.delay_ns + l.jitter_ns) * 1e-9;
        need += static_cast<std::uint64_t>(static_cast<double>(l.rate_bps) * flight_s / 8.0 / 256.0);
        need += l.queue_packets != 0 ? l.queue_packets : 4096;
        need += TxStage::kBacklog + 2 * kBurstSize + r.opts.tx_ring + std::uint64_t{r.opts.rx_queues} * r.opts.rx_ring + 1024;
    }
    const std::uint64_t per = data_room_for(r.opts.mtu) + 256u;
    const std::uint64_t cap = (512ull << 20) / per;   // stay within half of the testbed's 1 GiB
    need = std::min<std::uint64_t>(std::max<std::uint64_t>(need, 8191), std::max<std::uint64_t>(cap, 8191));
    return static_cast<std::uint32_t>(std::bit_ceil(need + 1) - 1);
}

PortConfig member_port_config(const Run& r, std::uint16_t rxq, std::uint16_t txq, bool rss) {
    PortConfig c;
    c.rx_queues = rxq;
    c.tx_queues = txq;
    c.mtu = r.opts.mtu;
    c.rss = rss;
    c.rx_desc = 1024;
    c.tx_desc = r.opts.tx_ring;
    c.checksum_offload = false;   // probe frames carry their own IPv4 checksum, UDP checksum 0
    return c;
}

// Build the key the NIC uses: the configured key, cycled to the device's key length.
packet::ToeplitzKey key_for_device(const packet::ToeplitzKey& k, std::uint8_t dev_len) {
    if (dev_len == 0 || dev_len == k.size() || dev_len < packet::ToeplitzKey::kMinLen) return k;
    std::vector<std::uint8_t> bytes(dev_len);
    for (std::size_t i = 0; i < dev_len; ++i) bytes[i] = k.data()[i % k.size()];
    return packet::ToeplitzKey(bytes);
}

void set_up_rss(Run& r, std::vector<std::unique_ptr<Port>>& ports, bool wire_does_it) {
    const PortInfo& info = ports.front()->info();
    r.rss_key = key_for_device(r.opts.rss_key, info.hash_key_size);
    const std::uint32_t reta_size = info.reta_size != 0 ? info.reta_size : 128;
    r.reta = teaming::build_reta(reta_size, teaming::queue_range(r.opts.rx_queues));
    std::string verdict;
    bool all_hw = true;
    for (auto& p : ports) {
        const RssProgramResult res =
            p->setup().hw_rss ? p->program_rss({r.rss_key.data(), r.rss_key.size()}, r.reta)
                              : RssProgramResult{RssMode::Software, "software RSS: " + p->info().driver +
                                                                         " port without RSS (" +
                                                                         std::to_string(p->setup().rx_queues) +
                                                                         " RX queue(s))"};
        if (res.mode != RssMode::Hardware) all_hw = false;
        if (verdict.empty()) verdict = res.reason;
    }
    if (all_hw) {
        r.report.rss_mode = "hardware: " + verdict;
    } else if (wire_does_it) {
        r.report.rss_mode = "software, applied by the testbed wire as the receiving NIC (" + verdict + ")";
    } else {
        r.report.rss_mode = "software, applied by the RX lcores (" + verdict + ")";
    }
    r.report.reta = r.reta;
}

void map_rx_lcores(Run& r, const std::vector<unsigned>& rx_lcores) {
    std::vector<teaming::LcoreInfo> infos;
    for (unsigned lc : rx_lcores) infos.push_back({lc, lcore_socket(lc)});
    std::vector<std::int32_t> sockets;
    for (const auto& p : r.rx_ports) sockets.push_back(p->setup().socket);
    if (sockets.empty()) sockets.push_back(-1);
    r.qmap = teaming::map_queues_to_lcores(r.opts.rx_queues, infos, sockets);
    if (!r.qmap.warning.empty()) r.report.notes.push_back(r.qmap.warning);
    r.report.lcore_of_queue = r.qmap.lcore_of_queue;
    r.rx_lcores = rx_lcores;
}

std::unique_ptr<MbufSource> make_source(Run& r, rte_mempool* mp) {
    switch (r.opts.traffic_kind) {
    case TrafficKind::synthetic: {
        emulation::TrafficConfig tc = r.opts.traffic;
        if (tc.capacity_bps == 0)
            for (const auto& l : r.opts.links) tc.capacity_bps += l.rate_bps;
        tc.mtu = r.opts.mtu;
        return make_frame_mbuf_source(std::make_unique<SyntheticSource>(tc, r.hz), mp);
    }
    case TrafficKind::custom:
        return make_frame_mbuf_source(r.opts.source_factory(0), mp);
    case TrafficKind::pcap: {
        PcapPortConfig pc;
        pc.rx_pcap = r.opts.pcap_file;
        pc.infinite_rx = true;
        r.vports.push_back(make_pcap_port(pc));
        PortConfig c;
        c.mtu = std::min<std::uint32_t>(r.opts.mtu, 9000);
        c.checksum_offload = false;
        r.pcap_port = std::make_unique<Port>(r.vports.back().port_id(), c, *r.pools);
        r.pcap_port->start();
        return make_port_mbuf_source(r.vports.back().port_id(), 0);
    }
    }
    throw std::invalid_argument("traffic: unknown kind");
}

void build_tx(Run& r) {
    teaming::TeamConfig tc = r.opts.team;
    tc.count_packets = false;   // the TX stage counts per member as it moves the packets (see finish_run)
    tc.dynamic.delta = ticks_from_ns(r.opts.flowlet_gap_ns, r.hz);
    tc.dynamic.timing = r.opts.flowlet_timing;
    // CONGA's estimator period (T_dre = 20 us, tau = T_dre / alpha = 160 us) when the
    // user gave none: derived from delta it collapses to one tick at delta = 0 and the
    // least-loaded policy would see every member tied at zero load.
    if (tc.dynamic.dre_period == 0) tc.dynamic.dre_period = ticks_from_us(20, r.hz);
    std::vector<MemberInfo> infos(r.n);
    for (std::uint8_t m = 0; m < r.n; ++m) infos[m].capacity_bps = r.opts.links[m].rate_bps;
    teaming::Team team(tc, infos.data(), r.n);
    rte_mempool* mp = lookup_pool(r.tx_ports.front()->setup().pool_name);
    std::vector<TxPort> ports;
    for (auto& p : r.tx_ports) ports.push_back({p->id(), 0});
    r.tx = std::make_unique<TxStage>(0, std::move(team), make_source(r, mp), std::move(ports), r.shared, r.rss_key,
                                     r.hz);
}

// Window of the receiver's delay bounds (two of them are published).
constexpr std::uint64_t kDelayWindowNs = 100'000'000;
// Member pings (queue timing on real / memif ports): one per member per period.
constexpr std::uint64_t kPingPeriodNs = 1'000'000;
// Automatic flowlet gap: measured spread / 8 + this (covers the granularity
// of the departure evidence and of the TSC read once per loop).
constexpr std::uint64_t kAutoGapFloorNs = 1'000;

// Dynamic mode: how flowlets are timed. In the testbed the wire reports
// departures and the receiving side measures the members' delays; a sender
// on real or memif ports models departures at line rate and takes the
// members' path delays as equal (delta must cover their skew).
void configure_flowlet_timing(Run& r, bool testbed) {
    for (auto& s : r.rx) s->set_measure_delays(testbed, ticks_from_ns(kDelayWindowNs, r.hz));
    if (r.opts.team.mode != teaming::Mode::dynamic || !r.tx) return;
    const bool ping = !testbed && r.opts.member_ping && r.opts.flowlet_timing == flowlet::Timing::queue;
    if (r.opts.flowlet_gap_auto && !testbed && !ping)
        throw std::invalid_argument(
            r.opts.flowlet_timing == flowlet::Timing::queue
                ? "flowlet-gap: auto needs the members' measured delays: keep --member-ping on, or give a gap, e.g. "
                  "--flowlet-gap 500us"
                : "flowlet-gap: auto with sender timing needs the embedded testbed's measurement (flowteam run, migrate, "
                  "bridge); give a gap, e.g. --flowlet-gap 500us");
    FlowletTimingSetup s;
    s.timing = r.opts.flowlet_timing;
    s.auto_gap = r.opts.flowlet_gap_auto;
    s.delta = ticks_from_ns(r.opts.flowlet_gap_ns, r.hz);
    s.auto_floor = ticks_from_ns(kAutoGapFloorNs, r.hz);
    s.wire_departures = testbed;
    s.overhead_bytes = r.opts.links.front().overhead_bytes;
    for (const auto& l : r.opts.links) s.rates.push_back(l.rate_bps);
    for (const auto& p : r.tx_ports) s.tx_desc.push_back(p->setup().tx_desc);
    if (testbed)
        for (auto& x : r.rx) s.delays.push_back(&x->published_delays());
    if (ping) {
        s.ping_pool = lookup_pool(r.tx_ports.front()->setup().pool_name);
        s.ping_period = ticks_from_ns(kPingPeriodNs, r.hz);
        s.delay_window = ticks_from_ns(kDelayWindowNs, r.hz);
    }
    r.shared.wire_departures = testbed;
    r.tx->set_flowlet_timing(std::move(s));
    if (!testbed && r.tx->queue_timing()) {
        std::string with, without;
        for (std::uint8_t m = 0; m < r.n; ++m) (r.tx->reports_descriptors(m) ? with : without) += " m" + std::to_string(m);
        r.report.notes.push_back(
            "queue timing: departures modelled at line rate" +
            (with.empty() ? std::string(" (no member port reports TX descriptor status)")
                          : ", corrected by the NIC's TX descriptor status on" + with) +
            (ping ? "; path delays from member pings (half round trip; `flowteam rx` answers them)"
                  : "; path delays are not measured (--member-ping off): the flowlet gap must cover the members' skew"));
    }
}

void build_rx(Run& r, bool stamps, RxRss rss) {
    const std::size_t n_rx = r.rx_lcores.size();
    std::vector<unsigned> rx_index_of_queue(r.opts.rx_queues, 0);
    for (std::uint16_t q = 0; q < r.opts.rx_queues; ++q) {
        const unsigned lc = r.qmap.lcore_of_queue[q];
        rx_index_of_queue[q] = static_cast<unsigned>(
            std::find(r.rx_lcores.begin(), r.rx_lcores.end(), lc) - r.rx_lcores.begin());
    }
    measure::ReorderConfig rc = r.opts.reorder;
    if (!rc.first_seq) rc.first_seq = 0;   // probe flows start at sequence 0
    const Tick gap = ticks_from_ns(r.opts.flowlet_gap_ns, r.hz);
    for (unsigned i = 0; i < n_rx; ++i) {
        std::vector<RxQueueRef> qs;
        for (std::uint16_t q = 0; q < r.opts.rx_queues; ++q) {
            if (rx_index_of_queue[q] != i) continue;
            for (std::uint8_t m = 0; m < r.n; ++m) qs.push_back({r.rx_ports[m]->id(), q, m});
        }
        r.rx.push_back(std::make_unique<RxStage>(i, std::move(qs), rss, r.reta, rx_index_of_queue, r.rss_key,
                                                 r.opts.track_flows, rc, gap, stamps,
                                                 r.opts.sink_factory ? r.opts.sink_factory(i) : nullptr, r.shared));
    }
    for (auto& s : r.rx) {
        s->set_sink_idle(ticks_from_ns(kSinkIdleNs, r.hz));
        s->set_measure(r.opts.measure_reorder);
        s->set_restart_flows(r.opts.restart_flows);
    }
    if (!r.rx.empty() && !r.rx_ports.empty()) {
        // Back channel: the first RX lcore owns TX queue 0 of every receiving member port.
        std::vector<TxPort> fb;
        for (auto& p : r.rx_ports) fb.push_back({p->id(), 0});
        r.rx.front()->set_feedback(std::move(fb), lookup_pool(r.rx_ports.front()->setup().pool_name));
    }
    if (rss == RxRss::software && n_rx > 1) {
        const unsigned id = g_run_counter.load();
        for (unsigned i = 0; i < n_rx; ++i) {
            const std::string name = "fth" + std::to_string(id) + "_" + std::to_string(i);
            rte_ring* ring = rte_ring_create(name.c_str(), RxStage::kHandoffRing, static_cast<int>(rte_socket_id()),
                                             RING_F_SC_DEQ);
            if (ring == nullptr)
                throw PortError("handoff ring " + name + ": rte_ring_create failed: " + rte_strerror(rte_errno));
            r.handoff.push_back(ring);
        }
        for (auto& s : r.rx) s->set_handoff(r.handoff);
    }
}

// ------------------------------------------------------------- workers

int worker_loop(const WorkerPlan& p, Shared& sh, std::uint64_t hz, bool has_wire, bool has_tx) {
    const Tick period = hz / 1000;
    Tick next_pub = 0;
    bool tx_done = false, wire_done = false;
    std::vector<bool> rx_done(p.rx.size(), false);
    for (;;) {
        const Tick now = rte_rdtsc();
        const int ph = sh.phase.load(std::memory_order_acquire);
        if (ph == kAbort) break;
        if (p.wire != nullptr) p.wire->poll_commands(now);
        if (p.tx != nullptr) p.tx->poll(now);
        if (p.wire != nullptr) p.wire->poll(now);
        for (RxStage* s : p.rx) s->poll(now);
        if (now >= next_pub) {
            next_pub = now + period;
            if (p.wire != nullptr) p.wire->publish();
            for (RxStage* s : p.rx) s->publish(now);
        }
        if (ph == kDrain) {
            bool all = true;
            if (p.tx != nullptr && !tx_done) {
                if (p.tx->idle()) {
                    tx_done = true;
                    sh.tx_done.store(true, std::memory_order_release);
                } else {
                    all = false;
                }
            }
            if (p.wire != nullptr && !wire_done) {
                if (sh.tx_done.load(std::memory_order_acquire) && p.wire->idle()) {
                    wire_done = true;
                    sh.wire_done.store(true, std::memory_order_release);
                } else {
                    all = false;
                }
            }
            const bool upstream = has_wire ? sh.wire_done.load(std::memory_order_acquire)
                                           : (has_tx ? sh.tx_done.load(std::memory_order_acquire) : true);
            for (std::size_t i = 0; i < p.rx.size(); ++i) {
                if (rx_done[i]) continue;
                if (upstream && p.rx[i]->last_poll_empty()) {
                    rx_done[i] = true;
                    sh.rx_done.fetch_add(1, std::memory_order_acq_rel);
                } else {
                    all = false;
                }
            }
            if (all) break;
        }
    }
    if (p.tx != nullptr) p.tx->publish(rte_rdtsc());
    if (p.wire != nullptr) p.wire->publish();
    for (RxStage* s : p.rx) s->publish(rte_rdtsc());
    return 0;
}

std::vector<unsigned> workers() {
    std::vector<unsigned> w;
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) { w.push_back(lc); }
    return w;
}

// Lay the stages out on the worker lcores.
void plan_layout(Run& r) {
    std::vector<unsigned> w = workers();
    if (w.empty())
        throw std::invalid_argument("lcores: the engine needs at least one worker lcore besides the main one "
                                    "(EAL -l with two or more lcores)");
    auto rx_ptrs = [&](std::size_t from, std::size_t to) {
        std::vector<RxStage*> v;
        for (std::size_t i = from; i < to && i < r.rx.size(); ++i) v.push_back(r.rx[i].get());
        return v;
    };
    auto label = [](const WorkerPlan& p, const std::vector<std::size_t>& rx_ids) {
        std::string name;
        if (p.tx != nullptr) name += "tx0";
        if (p.wire != nullptr) name += std::string(name.empty() ? "" : "+") + "wire";
        for (std::size_t id : rx_ids) name += std::string(name.empty() ? "" : "+") + "rx" + std::to_string(id);
        return name;
    };
    auto push = [&](unsigned lc, TxStage* tx, WireStage* wire, std::size_t rx_from, std::size_t rx_to) {
        WorkerPlan p;
        p.lcore = lc;
        p.tx = tx;
        p.wire = wire;
        p.rx = rx_ptrs(rx_from, rx_to);
        std::vector<std::size_t> ids;
        for (std::size_t i = rx_from; i < rx_to && i < r.rx.size(); ++i) ids.push_back(i);
        p.name = label(p, ids);
        r.plan.push_back(std::move(p));
    };
    switch (r.role) {
    case Role::testbed:
        if (w.size() == 1) {
            push(w[0], r.tx.get(), r.wire.get(), 0, r.rx.size());
        } else if (w.size() == 2) {
            push(w[0], r.tx.get(), nullptr, 0, 0);
            push(w[1], nullptr, r.wire.get(), 0, r.rx.size());
        } else {
            push(w[0], r.tx.get(), nullptr, 0, 0);
            push(w[1], nullptr, r.wire.get(), 0, 0);
            for (std::size_t i = 0; i < r.rx.size(); ++i) push(r.rx_lcores[i], nullptr, nullptr, i, i + 1);
        }
        break;
    case Role::tx:
        push(w[0], r.tx.get(), nullptr, 0, 0);
        break;
    case Role::rx:
        for (std::size_t i = 0; i < r.rx.size(); ++i) push(r.rx_lcores[i], nullptr, nullptr, i, i + 1);
        break;
    }
    for (const auto& p : r.plan)
        r.report.lcore_layout.push_back("lcore " + std::to_string(p.lcore) + ": " + p.name);
    r.report.lcore_layout.insert(r.report.lcore_layout.begin(),
                                 "lcore " + std::to_string(rte_get_main_lcore()) + ": control");
}

// RX lcores for a role: testbed 1 worker → that worker; 2 → the wire's; 3+ → the rest.
std::vector<unsigned> choose_rx_lcores(const Run& r) {
    std::vector<unsigned> w = workers();
    if (w.empty())
        throw std::invalid_argument("lcores: the engine needs at least one worker lcore besides the main one "
                                    "(EAL -l with two or more lcores)");
    std::vector<unsigned> out;
    if (r.role == Role::testbed) {
        if (w.size() == 1) out = {w[0]};
        else if (w.size() == 2) out = {w[1]};
        else out.assign(w.begin() + 2, w.end());
    } else {
        out = w;
    }
    std::size_t cap = std::min<std::size_t>(out.size(), r.opts.rx_queues);
    if (r.opts.max_rx_lcores != 0) cap = std::min<std::size_t>(cap, r.opts.max_rx_lcores);
    out.resize(std::max<std::size_t>(cap, 1));
    return out;
}

// ------------------------------------------------------------- telemetry

TelemetryObject members_object(const Run& r) {
    TelemetryObject o;
    const TxCounters tc = r.tx ? r.tx->published().load() : TxCounters{};
    const WireCounters wc = r.wire ? r.wire->published().load() : WireCounters{};
    RxCounters rc{};
    for (const auto& s : r.rx) {
        const RxCounters x = s->published().load();
        for (std::uint8_t m = 0; m < r.n; ++m) {
            rc.m_packets[m] += x.m_packets[m];
            rc.m_bytes[m] += x.m_bytes[m];
        }
    }
    const std::uint32_t up = r.shared.link_up.load(std::memory_order_relaxed);
    o.add("members", static_cast<std::uint64_t>(r.n));
    for (std::uint8_t m = 0; m < r.n; ++m) {
        TelemetryObject mo;
        mo.add("up", static_cast<std::uint64_t>((up >> m) & 1u));
        mo.add("capacity_bps", r.opts.links[m].rate_bps);
        mo.add("tx_packets", tc.m_packets[m]).add("tx_bytes", tc.m_bytes[m]).add("tx_short", tc.m_short[m]);
        mo.add("tx_reassigned", tc.m_reassigned[m]);
        if (r.wire) {
            mo.add("link_accepted", wc.accepted[m]).add("link_delivered", wc.delivered[m]);
            for (std::size_t d = 0; d < emulation::kDropReasons; ++d)
                mo.add(std::string("link_drop_") + emulation::to_string(static_cast<emulation::DropReason>(d)),
                       wc.dropped[m][d]);
            mo.add("link_lost", wc.link_lost[m]).add("port_ring_lost", wc.ring_lost[m]);
            mo.add("switch_no_member", wc.switch_no_member[m]).add("switch_rx_full", wc.switch_rx_full[m]);
        }
        mo.add("rx_packets", rc.m_packets[m]).add("rx_bytes", rc.m_bytes[m]);
        o.add_object("m" + std::to_string(m), std::move(mo));
    }
    return o;
}

// The RX stages' delay bounds merged.
LinkDelays merged_delays(const Run& r) {
    std::vector<const Published<LinkDelays>*> src;
    for (const auto& s : r.rx) src.push_back(&s->published_delays());
    return merge_link_delays(src);
}

TelemetryObject flowlets_object(const Run& r) {
    TelemetryObject o;
    const TxCounters tc = r.tx ? r.tx->published().load() : TxCounters{};
    o.add("mode", std::string(teaming::to_string(r.opts.team.mode)));
    o.add("flowlet_gap_ns", r.opts.flowlet_gap_ns);
    o.add("flowlet_gap_auto", static_cast<std::uint64_t>(r.opts.flowlet_gap_auto));
    o.add("flowlet_timing", std::string(flowlet::to_string(r.opts.flowlet_timing)));
    o.add("policy", std::string(flowlet::to_string(r.opts.team.dynamic.policy)));
    o.add("flowlet_starts", tc.flowlet_starts).add("member_moves", tc.member_moves);
    o.add("moves_held", tc.moves_held);
    o.add("delta_ns", tc.flowlet_delta * 1'000'000'000ull / r.hz);
    o.add("skew_ns", tc.flowlet_skew * 1'000'000'000ull / r.hz);
    const LinkDelays d = merged_delays(r);
    for (std::uint8_t m = 0; m < r.n; ++m) {
        TelemetryObject mo;
        auto ns = [&](std::uint64_t t) { return t * 1'000'000'000ull / r.hz; };
        if (d.path_lo[m] != ~std::uint64_t{0})
            mo.add("path_delay_min_ns", ns(d.path_lo[m])).add("path_delay_max_ns", ns(d.path_hi[m]));
        if (d.lat_lo[m] != ~std::uint64_t{0})
            mo.add("latency_min_ns", ns(d.lat_lo[m])).add("latency_max_ns", ns(d.lat_hi[m]));
        if (r.tx && r.tx->queue_timing()) {
            if (tc.m_gap[m] != flowlet::kUnknownDelay) mo.add("gap_ns", ns(tc.m_gap[m]));
            mo.add("handed", tc.m_handed[m]).add("drained", tc.m_drained[m]);
        }
        o.add_object("m" + std::to_string(m), std::move(mo));
    }
    o.add("bucket_moves", tc.team_bucket_moves).add("failovers", tc.failovers);
    o.add("failover_records", r.tx ? r.tx->failover_count() : 0);
    return o;
}

TelemetryObject reorder_object(const Run& r) {
    TelemetryObject o;
    std::uint64_t pk = 0, reo = 0, ok = 0, bad = 0, changes = 0, below = 0;
    for (const auto& s : r.rx) {
        const RxCounters x = s->published().load();
        pk += x.packets;
        reo += x.reordered;
        ok += x.probe[0];
        for (std::size_t i = 1; i < kProbeStatusCount; ++i) bad += x.probe[i];
        changes += x.member_changes;
        below += x.member_changes_below_gap;
    }
    o.add("rx_packets", pk).add("probe_ok", ok).add("probe_invalid", bad).add("reordered", reo);
    o.add("reordered_ratio", ok != 0 ? static_cast<double>(reo) / static_cast<double>(ok) : 0.0);
    o.add("member_changes", changes).add("member_changes_below_gap", below);
    return o;
}

TelemetryObject config_object(const Run& r) {
    TelemetryObject o;
    o.add("role", std::string(r.role == Role::testbed ? "run" : r.role == Role::tx ? "tx" : "rx"));
    o.add("mode", std::string(teaming::to_string(r.opts.team.mode)));
    o.add("teaming", std::string(teaming::to_string(r.opts.team.teaming)));
    o.add("hash", std::string(packet::to_string(r.opts.team.hash_policy)));
    o.add("flowlet_gap_ns", r.opts.flowlet_gap_ns);
    o.add("members", static_cast<std::uint64_t>(r.n));
    o.add("mtu", static_cast<std::uint64_t>(r.opts.mtu));
    o.add("rx_queues", static_cast<std::uint64_t>(r.opts.rx_queues));
    std::vector<std::uint64_t> rates, delays;
    for (const auto& l : r.opts.links) {
        rates.push_back(l.rate_bps);
        delays.push_back(l.delay_ns);
    }
    o.add_array("rates_bps", rates);
    o.add_array("delays_ns", delays);
    o.add("rss", r.report.rss_mode);
    o.add_array("lcores", r.report.lcore_layout);
    return o;
}

void register_telemetry(Run& r) {
    if (!r.opts.telemetry) return;
    register_telemetry_commands();
    const Run* rp = &r;
    r.telemetry.push_back(std::make_unique<TelemetryRegistration>(
        TelemetryCommand::Members, [rp](std::string_view) { return members_object(*rp); }));
    r.telemetry.push_back(std::make_unique<TelemetryRegistration>(
        TelemetryCommand::Flowlets, [rp](std::string_view) { return flowlets_object(*rp); }));
    r.telemetry.push_back(std::make_unique<TelemetryRegistration>(
        TelemetryCommand::Reorder, [rp](std::string_view) { return reorder_object(*rp); }));
    r.telemetry.push_back(std::make_unique<TelemetryRegistration>(
        TelemetryCommand::Config, [rp](std::string_view) { return config_object(*rp); }));
}

// ------------------------------------------------------------- control

struct Snapshot {
    std::uint64_t tx_pk = 0, tx_by = 0, rx_pk = 0, rx_by = 0, reordered = 0, lost = 0;
    std::array<std::uint64_t, kMaxMembers> m_tx{};
    Tick last_rx = 0;
};

Snapshot snapshot(const Run& r) {
    Snapshot s;
    if (r.tx) {
        const TxCounters c = r.tx->published().load();
        s.tx_pk = c.packets;
        s.tx_by = c.bytes;
        for (std::uint8_t m = 0; m < r.n; ++m) s.m_tx[m] = c.m_packets[m];
    }
    if (r.wire) {
        const WireCounters w = r.wire->published().load();
        for (std::uint8_t m = 0; m < r.n; ++m) {
            s.lost += w.link_lost[m] + w.ring_lost[m] + w.switch_no_member[m] + w.switch_rx_full[m];
            for (std::size_t d = 0; d < emulation::kDropReasons; ++d) s.lost += w.dropped[m][d];
        }
    }
    for (const auto& x : r.rx) {
        const RxCounters c = x->published().load();
        s.rx_pk += c.packets;
        s.rx_by += c.bytes;
        s.reordered += c.reordered;
        s.last_rx = std::max(s.last_rx, c.last_rx_tsc);
    }
    return s;
}

void progress_line(const Run& r, const Snapshot& now, const Snapshot& prev, double el, double dt) {
    const double txp = static_cast<double>(now.tx_pk - prev.tx_pk) / dt / 1e6;
    const double txg = static_cast<double>(now.tx_by - prev.tx_by) * 8 / dt / 1e9;
    const double rxp = static_cast<double>(now.rx_pk - prev.rx_pk) / dt / 1e6;
    const double rxg = static_cast<double>(now.rx_by - prev.rx_by) * 8 / dt / 1e9;
    char line[512];
    int len = std::snprintf(line, sizeof line, "[%6.1fs] TX %.3f Mpps %.2f Gb/s | RX %.3f Mpps %.2f Gb/s |", el, txp,
                            txg, rxp, rxg);
    const std::uint64_t d = now.tx_pk - prev.tx_pk;
    for (std::uint8_t m = 0; m < r.n && len > 0 && len < 400; ++m) {
        const double share = d != 0 ? 100.0 * static_cast<double>(now.m_tx[m] - prev.m_tx[m]) / static_cast<double>(d) : 0;
        len += std::snprintf(line + len, sizeof line - static_cast<std::size_t>(len), " m%u %.1f%%", m, share);
    }
    if (len > 0 && len < 450)
        std::snprintf(line + len, sizeof line - static_cast<std::size_t>(len), " | reordered %llu lost %llu",
                      static_cast<unsigned long long>(now.reordered), static_cast<unsigned long long>(now.lost));
    std::fprintf(stderr, "%s\n", line);
}

// One DelaySample (control thread, every 100 ms): the receivers' bounds and
// the TX stage's flowlet rule as published.
void sample_delays(Run& r, double t_s) {
    const bool delays = !r.rx.empty() && r.rx.front()->measures_delays();
    const bool dyn = r.tx && r.opts.team.mode == teaming::Mode::dynamic;
    if (!delays && !dyn) return;
    if (r.report.delay_series.size() >= kMaxDelaySamples) return;
    DelaySample ds;
    ds.t_s = t_s;
    if (delays) {
        const LinkDelays d = merged_delays(r);
        for (std::uint8_t m = 0; m < r.n; ++m) {
            const bool p = d.path_lo[m] != measure::DelayWindow::kNone, l = d.lat_lo[m] != measure::DelayWindow::kNone;
            ds.path_min_us.push_back(delay_us(d.path_lo[m], r.hz));
            ds.path_max_us.push_back(p ? us(d.path_hi[m], r.hz) : -1);
            ds.latency_min_us.push_back(delay_us(d.lat_lo[m], r.hz));
            ds.latency_max_us.push_back(l ? us(d.lat_hi[m], r.hz) : -1);
        }
    }
    if (dyn) {
        const TxCounters c = r.tx->published().load();
        ds.skew_us = us(c.flowlet_skew, r.hz);
        ds.delta_us = us(c.flowlet_delta, r.hz);
        ds.member_moves = c.member_moves;
        ds.moves_held = c.moves_held;
    }
    r.report.delay_series.push_back(std::move(ds));
}

void control_loop(Run& r) {
    Shared& sh = r.shared;
    const std::uint64_t hz = r.hz;
    LcoreGroup group;
    const bool has_wire = r.wire != nullptr;
    const bool has_tx = r.tx != nullptr;
    sh.start_tsc = rte_rdtsc();
    for (const auto& p : r.plan) {
        const WorkerPlan* pp = &p;
        Shared* shp = &sh;
        group.launch(p.lcore, [pp, shp, hz, has_wire, has_tx] { return worker_loop(*pp, *shp, hz, has_wire, has_tx); });
    }
    const Tick start = sh.start_tsc;
    const Tick dur = r.opts.duration_ns != 0 ? ticks_from_ns(r.opts.duration_ns, hz) : 0;
    const Tick drain_to = ticks_from_ns(r.opts.drain_timeout_ns, hz);
    const Tick idle_to = ticks_from_ns(r.opts.idle_timeout_ns, hz);
    std::vector<bool> fired_down(r.opts.failures.size(), false), fired_up(r.opts.failures.size(), false);
    Snapshot prev;
    Tick last_progress = start;
    Tick drain_start = 0;
    Tick traffic_end = 0;
    Tick last_link_poll = 0;
    Tick last_delay_sample = start;
    const unsigned n_rx = static_cast<unsigned>(r.rx.size());
    std::uint32_t desired = sh.desired_up.load();
    for (;;) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        const Tick now = rte_rdtsc();
        const Tick el = now - start;
        const int ph = sh.phase.load(std::memory_order_relaxed);

        // Failure schedule (testbed): commands to the wire.
        for (std::size_t i = 0; i < r.opts.failures.size(); ++i) {
            const FailureEvent& f = r.opts.failures[i];
            if (!fired_down[i] && el >= ticks_from_ns(f.at_ns, hz)) {
                fired_down[i] = true;
                desired &= ~(1u << f.member);
                sh.desired_up.store(desired, std::memory_order_release);
            }
            if (fired_down[i] && !fired_up[i] && f.up_ns && el >= ticks_from_ns(*f.up_ns, hz)) {
                fired_up[i] = true;
                desired |= 1u << f.member;
                sh.desired_up.store(desired, std::memory_order_release);
            }
        }
        // Link-status polling (real / memif ports), once per millisecond.
        if (!has_wire && has_tx && now - last_link_poll >= hz / 1000) {
            last_link_poll = now;
            std::uint32_t mask = 0;
            for (std::uint8_t m = 0; m < r.n; ++m)
                if (read_link(r.tx_ports[m]->id()).up) mask |= 1u << m;
            const std::uint32_t old = sh.link_up.load(std::memory_order_relaxed);
            if (mask != old) {
                for (std::uint8_t m = 0; m < r.n; ++m)
                    if (((mask ^ old) >> m) & 1u) sh.link_change_tsc[m].store(now, std::memory_order_relaxed);
                sh.link_up.store(mask, std::memory_order_release);
            }
        }
        if (now - last_delay_sample >= hz / 10 && ph == kRun) {
            last_delay_sample = now;
            sample_delays(r, secs(el, hz));
        }
        if (r.opts.progress && now - last_progress >= hz) {
            const Snapshot s = snapshot(r);
            progress_line(r, s, prev, secs(el, hz), secs(now - last_progress, hz));
            prev = s;
            last_progress = now;
        }
        if (ph == kRun) {
            std::string reason;
            if (stop_requested()) {
                reason = "signal";
                r.report.stopped_by_signal = true;
            } else if (dur != 0 && el >= dur) {
                reason = "duration";
            } else if (sh.source_finished.load(std::memory_order_relaxed)) {
                reason = "source finished";
            } else if (idle_to != 0 && n_rx != 0) {
                Tick last_rx = 0;
                for (const auto& x : r.rx) last_rx = std::max(last_rx, x->published().load().last_rx_tsc);
                if (last_rx != 0 && now > last_rx && now - last_rx >= idle_to) reason = "idle timeout";
            }
            if (!reason.empty()) {
                r.report.stop_reason = reason;
                traffic_end = now;
                drain_start = now;
                sh.phase.store(kDrain, std::memory_order_release);
            }
        } else if (ph == kDrain) {
            const bool done = (!has_tx || sh.tx_done.load()) && (!has_wire || sh.wire_done.load()) &&
                              sh.rx_done.load() >= n_rx;
            if (done) break;
            if (now - drain_start >= drain_to) {
                r.report.notes.push_back("drain timed out after " +
                                         std::to_string(secs(now - drain_start, hz)) + " s");
                sh.phase.store(kAbort, std::memory_order_release);
                break;
            }
        }
    }
    group.wait();
    sh.phase.store(kAbort, std::memory_order_release);
    const Tick end = rte_rdtsc();
    r.report.traffic_s = secs(traffic_end - start, hz);
    r.report.drain_s = secs(end - traffic_end, hz);
}

void finish_run(Run& r) {
    const Tick now = rte_rdtsc();
    if (r.tx) r.tx->release();
    if (r.wire) {
        r.wire->release(now);
        r.wire->publish();
    }
    // What is left in RX rings arrived: count it as received.
    for (int round = 0; round < 64; ++round) {
        bool any = false;
        for (auto& s : r.rx) {
            s->poll(rte_rdtsc());
            any = any || !s->last_poll_empty();
        }
        if (!any) break;
    }
    for (auto& s : r.rx) s->finish();
}

void fill_report(Run& r) {
    EngineReport& rep = r.report;
    rep.tsc_hz = r.hz;
    rep.members.assign(r.n, MemberReport{});
    const std::uint32_t up = r.shared.link_up.load();
    for (std::uint8_t m = 0; m < r.n; ++m) {
        rep.members[m].up = ((up >> m) & 1u) != 0;
        rep.members[m].capacity_bps = r.opts.links[m].rate_bps;
    }
    if (r.tx) {
        const TxCounters& c = r.tx->counters();
        rep.generated = c.generated;
        rep.tx_packets = c.packets;
        rep.tx_bytes = c.bytes;
        for (std::size_t i = 0; i < kParseStatusCount; ++i) rep.malformed[i] = c.malformed[i];
        rep.tx_no_member = c.no_member;
        rep.tx_unsent_at_stop = c.unsent_at_stop;
        rep.mbuf_alloc_failed = c.mbuf_alloc_failed;
        rep.source_pushback = c.pushback;
        rep.source_too_small = r.tx->source().too_small();
        rep.return_path_rx = c.return_path_rx;
        rep.return_path_fed = c.return_path_fed;
        rep.pings_sent = c.pings_sent;
        rep.pings_not_sent = c.pings_not_sent;
        rep.pongs = c.pongs;
        for (std::size_t i = 0; i < packet::kHashLayerCount; ++i) rep.hash_layers[i] = c.hash_layers[i];
        rep.team = r.tx->team().counters();
        // The team's per-packet counters are the TX stage's (count_packets off).
        rep.team.no_member = c.no_member;
        rep.team.packets = c.no_member;
        rep.team.bytes = c.no_member_bytes;
        for (std::uint8_t m = 0; m < r.n; ++m) {
            rep.team.per_member_packets[m] = c.m_assigned[m];
            rep.team.per_member_bytes[m] = c.m_assigned_bytes[m];
            rep.team.packets += c.m_assigned[m];
            rep.team.bytes += c.m_assigned_bytes[m];
        }
        if (const auto* d = r.tx->team().dynamic_counters(); d != nullptr) {
            rep.has_dynamic = true;
            rep.dynamic = *d;
            rep.flowlet_timing = flowlet::to_string(r.opts.flowlet_timing);
            rep.flowlet_gap_auto = r.opts.flowlet_gap_auto;
            rep.flowlet_delta_us = us(c.flowlet_delta, r.hz);
            rep.flowlet_skew_us = us(c.flowlet_skew, r.hz);
            if (r.tx->queue_timing())
                for (std::uint8_t m = 0; m < r.n; ++m)
                    rep.members[m].flowlet_gap_us = c.m_gap[m] == flowlet::kUnknownDelay ? -1 : us(c.m_gap[m], r.hz);
            if (c.pings_sent != 0) {
                for (std::uint8_t m = 0; m < r.n; ++m) {
                    rep.members[m].path_delay_min_us = delay_us(c.m_ping_lo[m], r.hz);
                    rep.members[m].path_delay_max_us =
                        c.m_ping_lo[m] == measure::DelayWindow::kNone ? -1 : us(c.m_ping_hi[m], r.hz);
                    if (c.m_pongs[m] == 0)
                        rep.notes.push_back("member " + std::to_string(m) +
                                            ": no member ping answered (the receiver must be `flowteam rx`); its path "
                                            "delay was " + (r.opts.flowlet_gap_auto ? "unknown: no flow left it"
                                                                                    : "taken as 0"));
                }
            }
        }
        rep.failovers = r.tx->failovers();
        for (std::uint8_t m = 0; m < r.n; ++m) {
            MemberReport& mr = rep.members[m];
            mr.tx_packets = c.m_packets[m];
            mr.tx_bytes = c.m_bytes[m];
            mr.tx_short = c.m_short[m];
            mr.tx_reassigned = c.m_reassigned[m];
            mr.tx_queue_packets = {c.m_packets[m]};
            mr.assigned_packets = c.m_assigned[m];
        }
    }
    if (r.wire) {
        const WireCounters& w = r.wire->counters();
        rep.in_flight_at_stop = w.in_flight_at_stop;
        const double span = rep.traffic_s + rep.drain_s;
        for (std::uint8_t m = 0; m < r.n; ++m) {
            MemberReport& mr = rep.members[m];
            const emulation::LinkCounters& lc = r.wire->link(m).counters();
            mr.link_accepted = lc.sent_packets;
            mr.link_delivered = lc.delivered_packets;
            for (std::size_t d = 0; d < emulation::kDropReasons; ++d) mr.link_dropped[d] = lc.dropped_packets[d];
            mr.link_lost = w.link_lost[m];
            mr.port_ring_lost = w.ring_lost[m];
            mr.switch_no_member = w.switch_no_member[m];
            mr.switch_rx_full = w.switch_rx_full[m];
            mr.link_max_queue = lc.max_queue_packets;
            mr.link_utilisation = span > 0 ? secs(lc.busy_ticks, r.hz) / span : 0;
            mr.down_events = w.down_events[m];
            mr.up_events = w.up_events[m];
            rep.reverse_forwarded += w.reverse[m];
            rep.reverse_full += w.reverse_full[m];
            rep.wire_lost += mr.link_lost + mr.port_ring_lost;
            rep.wire_dropped += lc.dropped_total() + mr.switch_no_member + mr.switch_rx_full;
        }
        for (auto& f : rep.failovers)
            if (!f.up) f.lost = r.wire->lost_at(f.member);
    }
    for (std::uint8_t m = 0; m < r.n; ++m) rep.members[m].rx_queue_packets.assign(r.opts.rx_queues, 0);
    Tick lat_sum = 0, lat_max = 0;
    std::uint64_t min_gap = UINT64_MAX;
    for (const auto& s : r.rx) {
        const RxCounters& c = s->counters();
        rep.rx_packets += c.packets;
        rep.rx_bytes += c.bytes;
        for (std::size_t i = 0; i < kProbeStatusCount; ++i) rep.probe_status[i] += c.probe[i];
        rep.rx_handoff += c.handoff;
        rep.rx_handoff_full += c.handoff_full;
        rep.sink_idle_calls += c.sink_idle_calls;
        rep.feedback_tx += c.feedback_tx;
        rep.feedback_tx_full += c.feedback_tx_full;
        rep.feedback_alloc_failed += c.feedback_alloc_failed;
        rep.pings_echoed += c.pings_echoed;
        rep.pings_dropped += c.pings_dropped;
        rep.flows_untracked += c.untracked;
        rep.flow_restarts += c.flow_restarts;
        rep.member_changes += c.member_changes;
        rep.member_changes_below_gap += c.member_changes_below_gap;
        min_gap = std::min(min_gap, c.min_change_gap);
        rep.latency_samples += c.latency_samples;
        lat_sum += c.latency_sum;
        lat_max = std::max(lat_max, c.latency_max);
        rep.flows_seen += s->flows_seen();
        rep.flows_split_links += s->flows_split_links();
        rep.flows_split_rx += s->flows_split_rx();
        rep.reorder.merge(s->reorder());
        rep.fct.merge(s->fct());
        for (std::uint8_t m = 0; m < r.n; ++m) {
            rep.members[m].rx_packets += c.m_packets[m];
            rep.members[m].rx_bytes += c.m_bytes[m];
            for (std::uint16_t q = 0; q < r.opts.rx_queues; ++q) rep.members[m].rx_queue_packets[q] += c.q_packets[m][q];
        }
    }
    rep.min_change_gap_ns = min_gap == UINT64_MAX ? 0 : min_gap * 1'000'000'000ull / r.hz;
    if (!r.rx.empty() && r.rx.front()->measures_delays()) {
        const LinkDelays d = merged_delays(r);
        for (std::uint8_t m = 0; m < r.n; ++m) {
            MemberReport& mr = rep.members[m];
            mr.path_delay_min_us = delay_us(d.path_lo[m], r.hz);
            mr.path_delay_max_us = d.path_lo[m] == measure::DelayWindow::kNone ? -1 : us(d.path_hi[m], r.hz);
            mr.latency_min_us = delay_us(d.lat_lo[m], r.hz);
            mr.latency_max_us = d.lat_lo[m] == measure::DelayWindow::kNone ? -1 : us(d.lat_hi[m], r.hz);
        }
    }
    if (rep.latency_samples != 0) {
        rep.latency_mean_us = secs(lat_sum, r.hz) * 1e6 / static_cast<double>(rep.latency_samples);
        rep.latency_max_us = secs(lat_max, r.hz) * 1e6;
    }
    if (r.tx) {
        if (const auto* ss = dynamic_cast<const SyntheticSource*>(r.tx->source().frame_source()); ss != nullptr)
            rep.traffic = ss->generator().counters();
    }
}

void prepare(Run& r, Role role, const EngineOptions& opts) {
    if (!Eal::initialised()) throw std::runtime_error("the engine needs EAL: construct dataplane::Eal first");
    validate(opts, role);
    r.role = role;
    r.opts = opts;
    r.hz = rte_get_tsc_hz();
    r.n = static_cast<std::uint8_t>(opts.links.size());
    r.rss_key = opts.rss_key;
    r.report.role = role == Role::testbed ? "run" : role == Role::tx ? "tx" : "rx";
    register_wire_meta();
    MbufPoolConfig pc;
    pc.mbufs = pool_size(r);
    pc.cache = 256;
    r.pools = std::make_unique<MbufPools>(pc);
    const std::uint32_t all = all_up(r.n);
    r.shared.link_up.store(all);
    r.shared.desired_up.store(all);
}

EngineReport finish(Run& r) {
    register_telemetry(r);
    control_loop(r);
    r.telemetry.clear();
    finish_run(r);
    fill_report(r);
    return r.report;
}

} // namespace

// ------------------------------------------------------------- testbed

EngineReport run_testbed(const EngineOptions& opts) {
    Run r;
    prepare(r, Role::testbed, opts);
    const unsigned id = g_run_counter.fetch_add(1);
    for (std::uint8_t m = 0; m < r.n; ++m) {
        RingPairConfig s;
        s.name = "fte" + std::to_string(id % 100000) + "s" + std::to_string(m);
        s.queues = 1;
        s.ring_size = opts.tx_ring;
        r.send_pairs.emplace_back(s);
        RingPairConfig v;
        v.name = "fte" + std::to_string(id % 100000) + "r" + std::to_string(m);
        v.queues = opts.rx_queues;
        v.ring_size = opts.rx_ring;
        r.recv_pairs.emplace_back(v);
    }
    for (std::uint8_t m = 0; m < r.n; ++m) {
        r.tx_ports.push_back(
            std::make_unique<Port>(r.send_pairs[m].port_a(), member_port_config(r, 1, 1, false), *r.pools));
        r.rx_ports.push_back(std::make_unique<Port>(r.recv_pairs[m].port_b(),
                                                    member_port_config(r, opts.rx_queues, 1, true), *r.pools));
    }
    for (auto& p : r.tx_ports) p->start();
    for (auto& p : r.rx_ports) p->start();
    set_up_rss(r, r.rx_ports, /*wire_does_it=*/true);
    map_rx_lcores(r, choose_rx_lcores(r));
    build_tx(r);
    std::vector<WireMemberPorts> wp(r.n);
    for (std::uint8_t m = 0; m < r.n; ++m) {
        wp[m].tx_rings.push_back(ring_a_to_b(r.send_pairs[m], 0));
        for (std::uint16_t q = 0; q < opts.rx_queues; ++q) wp[m].rx_rings.push_back(ring_a_to_b(r.recv_pairs[m], q));
        // Reverse: receiving port b's TX queue 0 (ring b->a of the receiving
        // pair) -> sending port a's RX queue 0 (ring b->a of the sending pair).
        wp[m].rev_in = ring_b_to_a(r.recv_pairs[m], 0);
        wp[m].rev_out = ring_b_to_a(r.send_pairs[m], 0);
    }
    r.wire = std::make_unique<WireStage>(opts.links, std::move(wp), opts.team.teaming, opts.team.mode,
                                         opts.receiver_primary, r.reta, r.rss_key, r.shared, r.hz);
    r.tx->set_poll_return_path(true);   // the reverse direction (FrameSource::on_feedback)
    r.tx->set_stamp_wire_meta(true);    // the switch reads the flow hash, RX the link and arrival
    build_rx(r, /*stamps=*/true, RxRss::trusted);
    configure_flowlet_timing(r, /*testbed=*/true);
    plan_layout(r);
    return finish(r);
}

// ------------------------------------------------------------- tx / rx

namespace {

std::string memif_socket(const EngineOptions& o, std::uint8_t m) {
    const std::string dir = o.memif_dir.empty() ? default_memif_dir() : o.memif_dir;
    return dir + "/" + o.memif_team + "-m" + std::to_string(m) + ".sock";
}

void open_member_ports(Run& r, bool server, std::uint16_t txq) {
    const std::uint16_t q = r.opts.rx_queues;
    for (std::uint8_t m = 0; m < r.n; ++m) {
        std::uint16_t pid = 0;
        if (!r.opts.port_ids.empty()) {
            pid = r.opts.port_ids[m];
        } else {
            MemifConfig mc;
            mc.role = server ? MemifRole::Server : MemifRole::Client;
            mc.socket_path = memif_socket(r.opts, m);
            mc.id = m;
            mc.buffer_size = static_cast<std::uint16_t>(std::min<std::uint32_t>(
                65535u, std::max<std::uint32_t>(2048u, (r.opts.mtu + 14 + 8 + 63u) & ~63u)));
            r.vports.push_back(make_memif_port(mc));
            pid = r.vports.back().port_id();
        }
        PortConfig pc = member_port_config(r, q, std::max<std::uint16_t>(q, txq), true);
        pc.close_on_destroy = !r.opts.port_ids.empty();
        auto port = std::make_unique<Port>(pid, pc, *r.pools);
        port->start();
        (server ? r.rx_ports : r.tx_ports).push_back(std::move(port));
    }
}

} // namespace

EngineReport run_tx(const EngineOptions& opts) {
    Run r;
    prepare(r, Role::tx, opts);
    open_member_ports(r, /*server=*/false, 1);
    r.rss_key = opts.rss_key;
    // Wait for the links (memif: the rx process must be running).
    std::uint32_t mask = 0;
    for (std::uint8_t m = 0; m < r.n; ++m) {
        const LinkStatus l = wait_link_up(r.tx_ports[m]->id(), 10000);
        if (l.up) mask |= 1u << m;
    }
    if (mask == 0)
        throw PortError("no member link came up within 10 s" +
                        std::string(opts.port_ids.empty() ? "; start `flowteam rx` first with the same --team and "
                                                            "--socket-dir (memif server side)"
                                                          : "; check cables and the peer"));
    if (mask != all_up(r.n)) r.report.notes.push_back("some member links were down at start");
    r.shared.link_up.store(mask);
    build_tx(r);   // the Team starts with every member up: its first loop applies `mask`
    configure_flowlet_timing(r, /*testbed=*/false);
    r.tx->set_poll_return_path(true);
    r.report.rss_mode = "n/a (sender)";
    plan_layout(r);
    EngineReport rep = finish(r);
    // Keep the links up a little so the peer can read what is in flight.
    std::this_thread::sleep_for(std::chrono::nanoseconds(opts.linger_ns));
    return rep;
}

EngineReport run_rx(const EngineOptions& opts) {
    Run r;
    prepare(r, Role::rx, opts);
    open_member_ports(r, /*server=*/true, 1);
    set_up_rss(r, r.rx_ports, /*wire_does_it=*/false);
    map_rx_lcores(r, choose_rx_lcores(r));
    const bool hw = r.report.rss_mode.rfind("hardware", 0) == 0;
    build_rx(r, /*stamps=*/false, hw ? RxRss::trusted : RxRss::software);
    for (auto& x : r.rx) x->set_echo_pings(true);   // a sender's member pings go back on their member
    plan_layout(r);
    return finish(r);
}

} // namespace flowteam::dataplane
