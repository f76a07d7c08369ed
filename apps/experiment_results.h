// SPDX-License-Identifier: BSD-3-Clause
// flowteam experiment — per-run metrics, results.jsonl / results.csv, and the
// markdown summary (pivot tables, checks against the published result).
//
// Metrics of one run (from the `flowteam run --json` report):
//   goodput_gbps / offered_gbps   received / sent bytes × 8 / traffic time
//   reordered, reordered_ratio    RFC 4737 reordered packets, / unique received
//   reordered_ge3, ge3_ratio      n-reordering >= 3 (what trips TCP's dupthresh)
//   extent_max, extent_mean, dup, lost, loss_ratio
//   member_share                  bytes the sending team put on each member / all
//   share_error                   ½ Σ_m |share_m − capacity_m / Σ capacity|: the
//                                 fraction of bytes on the "wrong" member (0 = the
//                                 split the capacities ask for, 0.5 = all on one of
//                                 two equal members)
//   share_max_dev                 max_m |share_m − target_m|
//   idle_members                  members that carried < 1 % of the bytes
//   member_util, util_max, util_min   emulated link busy time / traffic time
//   share_<m>, util_<m>           the same per member m (scalars, for tables and plots)
//   flowlet_starts, member_moves, moves_held, rebalance_moves (dynamic), flows_started,
//   flows_completed, sender_gaps, flows_seen, flows_split, member_changes,
//   member_changes_below_gap, latency_mean_us, latency_max_us, wire_dropped,
//   wire_lost, unaccounted, stop_reason
//   fct_<b>_n, fct_<b>_mean_us, fct_<b>_p99_us   flow completion time per size
//                                 bucket b = small (<100 KB), medium (100 KB–10 MB),
//                                 large (>10 MB), all: completed flows only (null
//                                 when none completed); fct_incomplete = flows seen
//                                 that had not all their bytes at the end
//   rx_share_<m>, rx_idle_members  inbound bytes per receiving member
// A field the reader needs that a report does not have fails that run ("report
// not understood: metric field 'rx.reorder.reordered' missing") instead of
// reading 0: a renamed counter cannot silently zero a metric and its checks.
// `flowteam migrate` runs: see migrate_metrics below (total_time_ms, goodput_gbps
//   of the migration, downtime_ms, rounds, compression_ratio, pages_verified, ...).
#pragma once

#include <cstdio>
#include <tuple>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "apps/experiment_scenario.h"

namespace flowteam::apps::experiment {

// ---------------------------------------------------------------- metrics

namespace detail {

// A number the report must have: a missing or non-numeric field throws
// (the run is recorded as failed, naming the field), so a renamed counter
// cannot silently turn a metric and its claim check into 0.
inline double jnum(const nlohmann::json& j, std::initializer_list<const char*> path) {
    auto name = [&path] {
        std::string n;
        for (const char* k : path) n += (n.empty() ? "" : ".") + std::string(k);
        return n;
    };
    const nlohmann::json* p = &j;
    for (const char* k : path) {
        if (!p->is_object() || !p->contains(k)) throw std::runtime_error("metric field '" + name() + "' missing");
        p = &(*p)[k];
    }
    if (p->is_null()) return 0.0;   // written as null: not applicable to this run
    if (!p->is_number()) throw std::runtime_error("metric field '" + name() + "' is not a number");
    return p->get<double>();
}
// A number only some reports have (e.g. a section of one mode): `def` when absent.
inline double jnum_or(const nlohmann::json& j, std::initializer_list<const char*> path, double def) {
    const nlohmann::json* p = &j;
    for (const char* k : path) {
        if (!p->is_object() || !p->contains(k)) return def;
        p = &(*p)[k];
    }
    return p->is_number() ? p->get<double>() : def;
}

} // namespace detail

// The engine's report (`flowteam run --json` "report", `flowteam migrate --json` "engine").
inline ojson engine_metrics(const nlohmann::json& r) {
    using detail::jnum;
    ojson m;
    const double t = std::max(jnum(r, {"traffic_s"}), 1e-9);
    m["traffic_s"] = jnum(r, {"traffic_s"});
    m["tx_packets"] = jnum(r, {"tx", "packets"});
    m["rx_packets"] = jnum(r, {"rx", "packets"});
    m["offered_gbps"] = jnum(r, {"tx", "bytes"}) * 8 / t / 1e9;
    m["goodput_gbps"] = jnum(r, {"rx", "bytes"}) * 8 / t / 1e9;
    const double unique = jnum(r, {"rx", "reorder", "unique"});
    m["reordered"] = jnum(r, {"rx", "reorder", "reordered"});
    m["reordered_ratio"] = jnum(r, {"rx", "reorder", "reordered_ratio"});
    m["reordered_ge3"] = jnum(r, {"rx", "reorder", "n_reordered_ge3"});
    m["ge3_ratio"] = unique > 0 ? jnum(r, {"rx", "reorder", "n_reordered_ge3"}) / unique : 0.0;
    m["extent_max"] = jnum(r, {"rx", "reorder", "extent_max"});
    m["extent_mean"] = jnum(r, {"rx", "reorder", "extent_mean"});
    m["dup"] = jnum(r, {"rx", "reorder", "dup"});
    m["lost"] = jnum(r, {"rx", "reorder", "dropped"});
    m["loss_ratio"] = jnum(r, {"rx", "reorder", "loss_ratio"});

    std::vector<double> bytes, cap, util;
    if (r.contains("members") && r["members"].is_array())
        for (const auto& mj : r["members"]) {
            bytes.push_back(jnum(mj, {"tx_bytes"}));
            cap.push_back(jnum(mj, {"capacity_bps"}));
            util.push_back(jnum(mj, {"link_utilisation"}));
        }
    double sb = 0, sc = 0;
    for (auto b : bytes) sb += b;
    for (auto c : cap) sc += c;
    double err = 0, maxdev = 0;
    int idle = 0;
    ojson shares = ojson::array(), utils = ojson::array();
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const double s = sb > 0 ? bytes[i] / sb : 0.0;
        const double w = sc > 0 ? cap[i] / sc : 1.0 / static_cast<double>(bytes.size());
        err += std::fabs(s - w);
        maxdev = std::max(maxdev, std::fabs(s - w));
        if (s < 0.01) ++idle;
        shares.push_back(s);
        utils.push_back(util[i]);
    }
    m["share_error"] = err / 2;
    m["share_max_dev"] = maxdev;
    m["idle_members"] = idle;
    m["member_share"] = shares;
    m["member_util"] = utils;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        m["share_" + std::to_string(i)] = shares[i];
        m["util_" + std::to_string(i)] = utils[i];
    }
    // Inbound: where the receiving team got the bytes (switch-independent teaming
    // receives everything on its primary member).
    std::vector<double> rxb;
    double srx = 0;
    if (r.contains("members") && r["members"].is_array())
        for (const auto& mj : r["members"]) {
            rxb.push_back(jnum(mj, {"rx_bytes"}));
            srx += rxb.back();
        }
    int rx_idle = 0;
    for (std::size_t i = 0; i < rxb.size(); ++i) {
        const double sh = srx > 0 ? rxb[i] / srx : 0.0;
        m["rx_share_" + std::to_string(i)] = sh;
        if (sh < 0.01) ++rx_idle;
    }
    m["rx_idle_members"] = rx_idle;
    m["util_max"] = util.empty() ? 0.0 : *std::max_element(util.begin(), util.end());
    m["util_min"] = util.empty() ? 0.0 : *std::min_element(util.begin(), util.end());
    const bool dyn = r.contains("tx") && r["tx"].contains("dynamic");
    m["flowlet_starts"] = dyn ? ojson(jnum(r, {"tx", "dynamic", "flowlet_starts"})) : ojson(nullptr);
    m["member_moves"] = dyn ? ojson(jnum(r, {"tx", "dynamic", "member_moves"})) : ojson(nullptr);
    m["moves_held"] = dyn ? ojson(jnum(r, {"tx", "dynamic", "moves_held"})) : ojson(nullptr);
    m["rebalance_moves"] = dyn ? ojson(jnum(r, {"tx", "dynamic", "rebalance_moves"})) : ojson(nullptr);
    m["flows_started"] = jnum(r, {"tx", "traffic", "flows_started"});
    m["flows_completed"] = jnum(r, {"tx", "traffic", "flows_completed"});
    m["sender_gaps"] = jnum(r, {"tx", "traffic", "gaps"});
    m["flows_seen"] = jnum(r, {"rx", "flows_seen"});
    m["flows_split"] = jnum(r, {"rx", "flows_split_links"});
    m["member_changes"] = jnum(r, {"rx", "member_changes"});
    m["member_changes_below_gap"] = jnum(r, {"rx", "member_changes_below_gap"});
    m["latency_mean_us"] = jnum(r, {"rx", "latency", "mean_us"});
    m["latency_max_us"] = jnum(r, {"rx", "latency", "max_us"});
    m["wire_dropped"] = jnum(r, {"wire", "dropped"});
    m["wire_lost"] = jnum(r, {"wire", "lost"});
    m["unaccounted"] = jnum(r, {"accounting", "unaccounted"});
    // Flow completion times by size bucket: null where no flow of the bucket completed.
    const nlohmann::json* fb = nullptr;
    if (r.contains("rx") && r["rx"].contains("fct") && r["rx"]["fct"].contains("buckets")) fb = &r["rx"]["fct"]["buckets"];
    for (const char* b : {"small", "medium", "large", "all"}) {
        const std::string k = std::string("fct_") + b;
        const double n = fb != nullptr ? jnum(*fb, {b, "completed"}) : 0.0;
        m[k + "_n"] = n;
        m[k + "_mean_us"] = n > 0 ? ojson(jnum(*fb, {b, "mean_us"})) : ojson(nullptr);
        m[k + "_p99_us"] = n > 0 ? ojson(jnum(*fb, {b, "p99_us"})) : ojson(nullptr);
    }
    m["fct_incomplete"] = jnum(r, {"rx", "fct", "incomplete"});
    m["stop_reason"] = r.value("stop_reason", std::string());
    return m;
}

namespace detail {
// Integers print as integers.
inline void integer_metrics(ojson& m) {
    for (auto& [k, v] : m.items())
        if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 9e15 &&
            k.find("ratio") == std::string::npos && k.find("gbps") == std::string::npos && k != "share_error" &&
            k != "share_max_dev" && k.find("util") == std::string::npos && k.find("_us") == std::string::npos &&
            k.find("_ms") == std::string::npos && k.find("share_") == std::string::npos && k.find("cycles") == std::string::npos &&
            k.find("fct_") == std::string::npos && k != "traffic_s" && k != "extent_mean")
            v = static_cast<std::int64_t>(v.get<double>());
}
} // namespace detail

// `flowteam migrate --json`: the engine's metrics (shares, utilisation, inbound
// split, wire drops) overlaid with the migration's own. goodput_gbps is then
// the migration's (guest memory moved × 8 / total time); the engine's received
// bytes over the whole traffic phase are engine_goodput_gbps.
inline ojson migrate_metrics(const nlohmann::json& run) {
    using detail::jnum;
    ojson m = run.contains("engine") && run["engine"].is_object() ? engine_metrics(run["engine"]) : ojson::object();
    const nlohmann::json& t = run.at("total");
    m["engine_goodput_gbps"] = m.contains("goodput_gbps") ? m["goodput_gbps"] : ojson(0.0);
    m["total_time_ms"] = jnum(t, {"total-time_ms"});
    m["goodput_gbps"] = jnum(t, {"goodput_gbps"});
    m["wire_gbps"] = jnum(t, {"wire_gbps"});
    m["downtime_ms"] = jnum(t, {"downtime_ms"});
    m["rounds"] = jnum(t, {"max-rounds"});
    m["vms"] = jnum(t, {"vms"});
    m["vms_completed"] = jnum(t, {"completed"});
    m["max_active"] = jnum(t, {"max_active"});
    m["transferred"] = jnum(t, {"transferred"});
    m["wire_bytes"] = jnum(t, {"wire-bytes"});
    m["zero_pages"] = jnum(t, {"duplicate"});
    m["pages_sent"] = jnum(t, {"pages-sent"});
    m["resent_pages"] = jnum(t, {"resent-pages"});
    m["compression_ratio"] = jnum(t, {"compression_ratio"});
    m["body_compression_ratio"] = jnum(t, {"body_compression_ratio"});
    m["stream_ratio"] = jnum(t, {"stream_ratio"});
    m["tx_cycles_per_byte"] = jnum(t, {"tx_cycles_per_byte"});
    m["tx_cycles_per_page_byte"] = jnum(t, {"tx_cycles_per_page_byte"});
    m["compress_cycles_per_byte"] = jnum(t, {"compress_cycles_per_byte"});
    m["pages"] = jnum(t, {"pages"});
    m["pages_verified"] = jnum(t, {"pages_verified"});
    m["pages_mismatched"] = jnum(t, {"pages_mismatched"});
    m["verified"] = t.value("verified", false) ? 1 : 0;
    // per VM
    double vmax = 0, vsum = 0, gsum = 0;
    std::size_t nv = 0;
    if (run.contains("vms") && run["vms"].is_array())
        for (const auto& v : run["vms"]) {
            const double ms = jnum(v, {"total-time_ms"});
            vmax = std::max(vmax, ms);
            vsum += ms;
            gsum += jnum(v, {"goodput_gbps"});
            ++nv;
        }
    m["vm_time_max_ms"] = vmax;
    m["vm_time_mean_ms"] = nv ? vsum / static_cast<double>(nv) : 0.0;
    m["vm_goodput_mean_gbps"] = nv ? gsum / static_cast<double>(nv) : 0.0;
    // the migration's channels as the receiver saw them (the engine's probe counters see none)
    if (run.contains("reorder")) {
        const double rec = jnum(run, {"reorder", "received"});
        m["reordered"] = jnum(run, {"reorder", "reordered"});
        m["reordered_ratio"] = jnum(run, {"reorder", "reordered_ratio"});
        m["reordered_ge3"] = jnum(run, {"reorder", "n_reordered_ge3"});
        m["ge3_ratio"] = rec > 0 ? jnum(run, {"reorder", "n_reordered_ge3"}) / rec : 0.0;
        m["lost"] = jnum(run, {"reorder", "dropped"});
    }
    // channels received on more than one member (a flow split by the team)
    int split = 0, nch = 0;
    if (run.contains("channels") && run["channels"].is_array())
        for (const auto& c : run["channels"]) {
            ++nch;
            int on = 0;
            if (c.contains("rx_member_share") && c["rx_member_share"].is_array())
                for (const auto& x : c["rx_member_share"]) on += x.is_number() && x.get<double>() >= 0.01;
            split += on > 1;
        }
    m["channels_total"] = nch;
    m["channels_split"] = split;
    detail::integer_metrics(m);
    return m;
}

inline ojson metrics_from(const nlohmann::json& run) {
    if (!run.contains("report") && run.contains("total")) return migrate_metrics(run);
    ojson m = engine_metrics(run.at("report"));
    detail::integer_metrics(m);
    return m;
}

// ---------------------------------------------------------------- records

struct Record {
    std::string id, status; // "ok" | "failed"
    std::size_t index = 0;
    ojson params;           // swept, derived, every run option
    ojson metrics;          // null when failed
    std::string error, command;
    double wall_s = 0;

    static std::string text(const ojson& v) {
        if (v.is_null()) return {};
        if (v.is_string()) return v.get<std::string>();
        if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
        if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
        if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
        if (v.is_number()) return format_num(v.get<double>());
        if (v.is_array()) {
            std::vector<std::string> parts;
            for (const auto& x : v) parts.push_back(text(x));
            return join(parts, ";");
        }
        return v.dump();
    }
    std::optional<std::string> field(const std::string& name) const {
        if (name == "id") return id;
        if (name == "status") return status;
        if (metrics.is_object() && metrics.contains(name)) return text(metrics[name]);
        if (params.contains(name)) return text(params[name]);
        return std::nullopt;
    }
    std::optional<double> num(const std::string& name) const {
        const auto t = field(name);
        return t ? parse_num(*t) : std::nullopt;
    }
};

inline ojson derived_value(const std::string& v) {
    if (v.empty()) return nullptr;
    if (v == "inf") return "inf"; // JSON has no infinity
    const auto n = parse_num(v);
    if (n && std::floor(*n) == *n && std::fabs(*n) < 9e15) return static_cast<std::int64_t>(*n);
    if (n) return *n;
    return v;
}

inline Record make_record(const RunPlan& p) {
    Record r;
    r.id = p.id;
    r.index = p.index;
    for (const auto& [k, v] : p.swept) r.params[k] = v.empty() ? ojson(nullptr) : ojson(v);
    for (const auto& [k, v] : p.derived) r.params[k] = derived_value(v);
    for (const auto& [k, v] : p.options.items())
        if (!r.params.contains(k)) r.params[k] = v;
    return r;
}

// ---------------------------------------------------------------- aggregation

inline bool is_agg(const std::string& a) {
    return a == "mean" || a == "max" || a == "min" || a == "sum" || a == "count" || a == "median";
}

inline std::optional<double> aggregate(const std::string& agg, const std::string& field,
                                       const std::vector<const Record*>& recs) {
    if (agg == "count") return static_cast<double>(recs.size());
    std::vector<double> v;
    for (const auto* r : recs)
        if (auto x = r->num(field)) v.push_back(*x);
    if (v.empty()) return std::nullopt;
    if (agg == "max") return *std::max_element(v.begin(), v.end());
    if (agg == "min") return *std::min_element(v.begin(), v.end());
    double s = 0;
    for (auto x : v) s += x;
    if (agg == "sum") return s;
    if (agg == "median") {
        std::sort(v.begin(), v.end());
        return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    }
    return s / static_cast<double>(v.size());
}

inline std::vector<const Record*> select(const std::vector<Record>& all, const std::vector<Cond>& where) {
    std::vector<const Record*> out;
    for (const auto& r : all)
        if (r.status == "ok" && conds_hold(where, [&](const std::string& f) { return r.field(f); })) out.push_back(&r);
    return out;
}

// `[K *] AGG FIELD [where CONDS] [+|- N]` or a number.
struct Expr {
    std::string text;
    bool constant = false;
    double k = 1, add = 0, c = 0;
    std::string agg, field;
    std::vector<Cond> where;
};

inline Expr parse_expr(const std::string& text, const Origin& at) {
    Expr e;
    e.text = trim(text);
    if (auto n = parse_num(e.text)) {
        e.constant = true;
        e.c = *n;
        return e;
    }
    std::string spaced;
    for (char ch : e.text) spaced += ch == '*' ? std::string(" * ") : std::string(1, ch);
    std::istringstream is(spaced);
    std::vector<std::string> t;
    for (std::string w; is >> w;) t.push_back(w);
    std::size_t i = 0;
    const std::string form = "'" + e.text + "' (write a number or [K *] AGG FIELD [where CONDS] [+ N]; AGG: mean, max, min, sum, count, median)";
    if (t.size() >= 2 && t[1] == "*") {
        const auto n = parse_num(t[0]);
        if (!n) fail_at(at, form);
        e.k = *n;
        i = 2;
    }
    if (i >= t.size() || !is_agg(t[i])) fail_at(at, form);
    e.agg = t[i++];
    if (i < t.size() && t[i] != "where" && t[i] != "+" && t[i] != "-") e.field = t[i++];
    if (e.field.empty() && e.agg != "count") fail_at(at, form);
    if (i < t.size() && t[i] == "where") {
        ++i;
        std::vector<std::string> c;
        while (i < t.size() && t[i] != "+" && t[i] != "-") c.push_back(t[i++]);
        e.where = parse_conds(join(c, " "), at);
    }
    if (i < t.size()) {
        if (i + 2 != t.size()) fail_at(at, form);
        const auto n = parse_num(t[i + 1]);
        if (!n) fail_at(at, form);
        e.add = t[i] == "+" ? *n : -*n;
    }
    return e;
}

inline std::optional<double> eval_expr(const Expr& e, const std::vector<Record>& all) {
    if (e.constant) return e.c;
    const auto recs = select(all, e.where);
    if (recs.empty()) return std::nullopt;
    const auto v = aggregate(e.agg, e.field, recs);
    if (!v) return std::nullopt;
    return e.k * *v + e.add;
}

struct CheckResult {
    std::string name, claim, value_text, expect_text, verdict; // verdict: reproduced | not reproduced | no data
    std::optional<double> lhs, rhs;
    std::string op;
};

inline bool compare(double a, const std::string& op, double b) {
    if (op == "<") return a < b;
    if (op == "<=") return a <= b;
    if (op == ">") return a > b;
    if (op == ">=") return a >= b;
    if (op == "=" || op == "==") return a == b;
    return a != b;
}

// "OP EXPR" → (op, expr text).
inline std::pair<std::string, std::string> split_expect(const Value& ex) {
    const std::string t = trim(ex.text);
    std::size_t n = 0;
    while (n < t.size() && std::string("<>=!").find(t[n]) != std::string::npos) ++n;
    const std::string op = t.substr(0, n);
    if (op != "<" && op != "<=" && op != ">" && op != ">=" && op != "=" && op != "==" && op != "!=")
        fail_at(ex.at, "'" + ex.text + "' must start with one of < <= > >= = != (then a number or [K *] AGG FIELD ...)");
    return {op, trim(t.substr(n))};
}

inline CheckResult run_check(const Section& c, const std::vector<Record>& all) {
    CheckResult r;
    r.name = c.name;
    r.claim = c.get("claim")->text;
    r.value_text = c.get("value")->text;
    const Value& ex = *c.get("expect");
    std::tie(r.op, r.expect_text) = split_expect(ex);
    const Expr lhs = parse_expr(r.value_text, c.get("value")->at);
    const Expr rhs = parse_expr(r.expect_text, ex.at);
    r.lhs = eval_expr(lhs, all);
    r.rhs = eval_expr(rhs, all);
    if (!r.lhs || !r.rhs) r.verdict = "no data";
    else r.verdict = compare(*r.lhs, r.op, *r.rhs) ? "reproduced" : "not reproduced";
    return r;
}

// Parses every check, table and plot expression, so that a mistake is a
// one-line usage error before anything runs.
inline void validate_outputs(const Scenario& s) {
    static const std::vector<std::string> plot_keys = {"title", "x", "y", "lines", "panels", "where", "xcat", "hlines",
                                                       "xlabel", "ylabel", "yscale", "ypct", "linthresh", "kind"};
    static const std::vector<std::string> table_keys = {"title", "rows", "cols", "value", "where", "format"};
    static const std::vector<std::string> check_keys = {"claim", "value", "expect"};
    auto known = [](const Section& sec, const std::vector<std::string>& keys, const char* what) {
        for (const auto& [k, v] : sec.kv)
            if (std::find(keys.begin(), keys.end(), k) == keys.end())
                fail_at(v.at, std::string("unknown ") + what + " key '" + k + "'" + did_you_mean(k, keys) +
                                  " (allowed: " + join(keys, ", ") + ")");
    };
    for (const auto& c : s.checks) {
        known(c, check_keys, "check");
        (void)parse_expr(c.get("value")->text, c.get("value")->at);
        const auto [op, rhs] = split_expect(*c.get("expect"));
        (void)parse_expr(rhs, c.get("expect")->at);
    }
    for (const auto& t : s.tables) {
        known(t, table_keys, "table");
        if (parse_expr(t.get("value")->text, t.get("value")->at).constant)
            fail_at(t.get("value")->at, "a table value is AGG FIELD, e.g. 'mean reordered_ratio'");
        if (const Value* w = t.get("where")) (void)parse_conds(w->text, w->at);
    }
    for (const auto& p : s.plots) {
        known(p, plot_keys, "plot");
        if (const Value* w = p.get("where")) (void)parse_conds(w->text, w->at);
        if (const Value* k = p.get("kind"); k && k->text != "line" && k->text != "bar")
            fail_at(k->at, "plot kind '" + k->text + "' (allowed: line, bar)");
    }
}

// ---------------------------------------------------------------- tables

inline std::string format_cell(double v, const std::string& fmt) {
    char b[64];
    if (std::isinf(v)) return v > 0 ? "∞" : "−∞";
    if (fmt == "pct") std::snprintf(b, sizeof b, "%.2f %%", v * 100);
    else if (fmt == "int") std::snprintf(b, sizeof b, "%.0f", v);
    else if (!fmt.empty() && std::isdigit(static_cast<unsigned char>(fmt[0])) != 0)
        std::snprintf(b, sizeof b, "%.*f", std::atoi(fmt.c_str()), v);
    else std::snprintf(b, sizeof b, "%.4g", v);
    return b;
}

// Orders the distinct values of one field: numeric when all are numbers (inf
// last), otherwise first appearance; empty last.
inline std::vector<std::string> ordered_values(const std::vector<std::string>& seen) {
    std::vector<std::string> u;
    for (const auto& s : seen)
        if (std::find(u.begin(), u.end(), s) == u.end()) u.push_back(s);
    bool numeric = true;
    for (const auto& s : u) numeric = numeric && (s.empty() || parse_num(s).has_value());
    std::stable_sort(u.begin(), u.end(), [&](const std::string& a, const std::string& b) {
        if (a.empty() != b.empty()) return b.empty();
        if (numeric && !a.empty()) return *parse_num(a) < *parse_num(b);
        return false;
    });
    return u;
}

inline std::vector<std::string> field_list(const std::string& text) {
    std::vector<std::string> out;
    for (auto& f : split_on(text, ",")) {
        f = trim(f);
        if (!f.empty()) out.push_back(f);
    }
    return out;
}

inline std::string key_label(const std::vector<std::string>& parts) {
    std::vector<std::string> nonempty;
    for (const auto& p : parts)
        if (!p.empty()) nonempty.push_back(p);
    return nonempty.empty() ? "—" : join(nonempty, " · ");
}

// Pivot: rows × cols → AGG FIELD over the ok records matching `where`.
inline std::string pivot_markdown(const Section& t, const std::vector<Record>& all) {
    const auto rows = field_list(t.get("rows")->text);
    const auto cols = t.get("cols") ? field_list(t.get("cols")->text) : std::vector<std::string>{};
    const Expr val = parse_expr(t.get("value")->text, t.get("value")->at);
    if (val.constant) fail_at(t.get("value")->at, "a table value is AGG FIELD, e.g. 'mean reordered_ratio'");
    const auto where = t.get("where") ? parse_conds(t.get("where")->text, t.get("where")->at) : std::vector<Cond>{};
    const std::string fmt = t.get("format") ? t.get("format")->text : "";
    auto recs = select(all, where);
    auto w2 = val.where;
    std::vector<const Record*> kept;
    for (const auto* r : recs)
        if (conds_hold(w2, [&](const std::string& f) { return r->field(f); })) kept.push_back(r);

    auto tuple_of = [](const Record* r, const std::vector<std::string>& fs) {
        std::vector<std::string> v;
        for (const auto& f : fs) v.push_back(r->field(f).value_or(""));
        return v;
    };
    // Order each component, then the tuples lexicographically by component rank.
    auto order_tuples = [&](const std::vector<std::string>& fs) {
        std::vector<std::vector<std::string>> comp(fs.size());
        std::vector<std::vector<std::string>> tuples;
        for (const auto* r : kept) {
            auto tu = tuple_of(r, fs);
            for (std::size_t i = 0; i < fs.size(); ++i) comp[i].push_back(tu[i]);
            if (std::find(tuples.begin(), tuples.end(), tu) == tuples.end()) tuples.push_back(tu);
        }
        std::vector<std::vector<std::string>> rank(fs.size());
        for (std::size_t i = 0; i < fs.size(); ++i) rank[i] = ordered_values(comp[i]);
        std::sort(tuples.begin(), tuples.end(), [&](const auto& a, const auto& b) {
            for (std::size_t i = 0; i < a.size(); ++i) {
                const auto ra = std::find(rank[i].begin(), rank[i].end(), a[i]) - rank[i].begin();
                const auto rb = std::find(rank[i].begin(), rank[i].end(), b[i]) - rank[i].begin();
                if (ra != rb) return ra < rb;
            }
            return false;
        });
        return tuples;
    };
    const auto row_keys = order_tuples(rows);
    const auto col_keys = cols.empty() ? std::vector<std::vector<std::string>>{{}} : order_tuples(cols);

    std::ostringstream os;
    os << "### " << (t.get("title") ? t.get("title")->text : t.name) << "\n\n";
    os << "*" << t.get("value")->text;
    if (!where.empty()) os << " where " << t.get("where")->text;
    os << "; rows: " << join(rows, " · ");
    if (!cols.empty()) os << "; columns: " << join(cols, " · ");
    os << "*\n\n| " << join(rows, " · ") << " |";
    for (const auto& c : col_keys) os << " " << (cols.empty() ? val.agg + " " + val.field : key_label(c)) << " |";
    os << "\n|---|";
    for (std::size_t i = 0; i < col_keys.size(); ++i) os << "---:|";
    os << "\n";
    for (const auto& rk : row_keys) {
        os << "| " << key_label(rk) << " |";
        for (const auto& ck : col_keys) {
            std::vector<const Record*> cell;
            for (const auto* r : kept)
                if (tuple_of(r, rows) == rk && (cols.empty() || tuple_of(r, cols) == ck)) cell.push_back(r);
            const auto v = cell.empty() ? std::nullopt : aggregate(val.agg, val.field, cell);
            os << " " << (v ? format_cell(val.k * *v + val.add, fmt) : "") << " |";
        }
        os << "\n";
    }
    return os.str();
}

// ---------------------------------------------------------------- outputs

inline std::string csv_escape(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
}

inline ojson record_json(const Record& r) {
    ojson j;
    j["id"] = r.id;
    j["status"] = r.status;
    j["index"] = r.index;
    j["params"] = r.params;
    j["metrics"] = r.metrics;
    j["error"] = r.error.empty() ? ojson(nullptr) : ojson(r.error);
    j["wall_s"] = r.wall_s;
    j["command"] = r.command;
    j["json"] = "runs/" + r.id + ".json";
    return j;
}

inline void write_jsonl(const std::string& path, const std::vector<Record>& recs) {
    std::ofstream out(path + ".tmp");
    for (const auto& r : recs) out << record_json(r).dump() << "\n";
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
    std::filesystem::rename(path + ".tmp", path);
}

inline void write_csv(const std::string& path, const std::vector<Record>& recs, const std::vector<std::string>& swept,
                      const std::vector<std::string>& derived) {
    std::vector<std::string> cols = {"id", "status"};
    auto add = [&](const std::string& c) {
        if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    };
    for (const auto& s : swept) add(s);
    for (const auto& d : derived) add(d);
    for (const auto& r : recs)
        if (r.metrics.is_object())
            for (const auto& [k, v] : r.metrics.items()) add(k);
    std::vector<std::string> opts;
    for (const auto& r : recs)
        for (const auto& [k, v] : r.params.items())
            if (std::find(cols.begin(), cols.end(), k) == cols.end() && std::find(opts.begin(), opts.end(), k) == opts.end())
                opts.push_back(k);
    std::sort(opts.begin(), opts.end());
    for (const auto& o : opts) add(o);
    for (const char* c : {"wall_s", "error", "command"}) add(c);

    std::ofstream out(path + ".tmp");
    for (std::size_t i = 0; i < cols.size(); ++i) out << (i ? "," : "") << csv_escape(cols[i]);
    out << "\n";
    for (const auto& r : recs) {
        for (std::size_t i = 0; i < cols.size(); ++i) {
            std::string v;
            if (cols[i] == "wall_s") v = format_num(r.wall_s);
            else if (cols[i] == "error") v = r.error;
            else if (cols[i] == "command") v = r.command;
            else v = r.field(cols[i]).value_or("");
            out << (i ? "," : "") << csv_escape(v);
        }
        out << "\n";
    }
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
    std::filesystem::rename(path + ".tmp", path);
}

struct SummaryInput {
    const Scenario* scenario = nullptr;
    const Expansion* expansion = nullptr;
    std::vector<Record> records;          // finished runs, in sweep order
    std::size_t pending = 0;              // not run yet (interrupted)
    std::vector<std::string> swept;       // names, sweep order (seed included)
    std::vector<std::string> base_args;   // the options every run shares
    std::vector<std::string> plot_files;  // relative to the results dir
};

inline std::string summary_markdown(const SummaryInput& in, std::vector<CheckResult>& checks) {
    const Scenario& s = *in.scenario;
    std::ostringstream os;
    std::size_t ok = 0, failed = 0;
    for (const auto& r : in.records) (r.status == "ok" ? ok : failed)++;
    os << "# " << (s.title.empty() ? s.name : s.title) << "\n\n";
    for (const auto& d : s.description) os << d << "\n";
    if (!s.description.empty()) os << "\n";
    char when[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
    os << "- scenario: `" << (s.file.empty() ? "(command line)" : s.file) << "` (" << s.name << "), written " << when << "\n";
    os << "- runs: " << in.expansion->runs.size() << " (" << ok << " ok, " << failed << " failed, " << in.pending
       << " not run)";
    os << "; " << in.expansion->combinations << " combinations of the swept values, " << in.expansion->skipped
       << " skipped by rules, " << in.expansion->collapsed << " collapsed into an identical run\n";
    os << "- swept: ";
    for (std::size_t i = 0; i < s.sweep.size(); ++i) {
        std::vector<std::string> v;
        for (const auto& x : s.sweep[i].values) v.push_back(x.text);
        os << (i ? "; " : "") << "`" << s.sweep[i].name << "` = " << join(v, ", ");
    }
    os << "\n- every run: `flowteam " << in.scenario->command << " " << join(in.base_args, " ") << "`\n";
    os << "- not used by a mode (empty in the tables): flowlet-gap, flowlet-timing and policy unless mode = dynamic, flowcell-bytes "
          "unless mode = flowcell\n\n";

    if (!s.published.empty() || !s.source.empty()) {
        os << "## Published result compared against\n\n";
        for (const auto& p : s.published) os << "> " << p << "\n";
        if (!s.source.empty()) os << ">\n> — " << s.source << "\n";
        os << "\n";
    }
    checks.clear();
    for (const auto& c : s.checks) checks.push_back(run_check(c, in.records));
    if (!checks.empty()) {
        std::size_t yes = 0, no = 0;
        for (const auto& c : checks) {
            if (c.verdict == "reproduced") ++yes;
            else if (c.verdict == "not reproduced") ++no;
        }
        const char* overall = yes == checks.size() ? "**reproduced**"
                              : yes == 0 && no == 0 ? "**no data**"
                              : yes == 0            ? "**not reproduced**"
                                                    : "**partly reproduced**";
        os << "## Verdict: " << overall << " (" << yes << " of " << checks.size() << " checks hold)\n\n";
        os << "| check | claim | measured | expected | result |\n|---|---|---:|---|---|\n";
        for (const auto& c : checks) {
            os << "| " << c.name << " | " << c.claim << " | " << (c.lhs ? format_cell(*c.lhs, "") : "—") << " <br>`"
               << c.value_text << "` | " << c.op << " " << (c.rhs ? format_cell(*c.rhs, "") : "—") << " <br>`"
               << c.expect_text << "` | " << (c.verdict == "reproduced" ? "✔ " : c.verdict == "not reproduced" ? "✘ " : "")
               << c.verdict << " |\n";
        }
        os << "\n";
    }
    if (!s.tables.empty()) {
        os << "## Key tables\n\n";
        for (const auto& t : s.tables) os << pivot_markdown(t, in.records) << "\n";
    }
    if (!in.plot_files.empty()) {
        os << "## Plots\n\n";
        for (const auto& p : in.plot_files) os << "![" << p << "](" << p << ")\n\n";
    }

    // Every combination: mean over seeds.
    os << "## All runs (mean over seeds)\n\n";
    std::vector<std::string> keys;
    for (const auto& n : in.swept)
        if (n != "seed") keys.push_back(n);
    os << "|";
    for (const auto& k : keys) os << " " << k << " |";
    os << " n |";
    for (const auto& m : s.metrics) os << " " << m << " |";
    os << "\n|";
    for (std::size_t i = 0; i < keys.size(); ++i) os << "---|";
    os << "---:|";
    for (std::size_t i = 0; i < s.metrics.size(); ++i) os << "---:|";
    os << "\n";
    std::vector<std::vector<std::string>> groups;
    for (const auto& r : in.records) {
        std::vector<std::string> g;
        for (const auto& k : keys) g.push_back(r.field(k).value_or(""));
        if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
    }
    for (const auto& g : groups) {
        std::vector<const Record*> rs;
        std::size_t nfail = 0;
        for (const auto& r : in.records) {
            std::vector<std::string> k2;
            for (const auto& k : keys) k2.push_back(r.field(k).value_or(""));
            if (k2 != g) continue;
            if (r.status == "ok") rs.push_back(&r);
            else ++nfail;
        }
        os << "|";
        for (const auto& v : g) os << " " << (v.empty() ? "—" : v) << " |";
        os << " " << rs.size() << (nfail ? " (+" + std::to_string(nfail) + " failed)" : "") << " |";
        for (const auto& m : s.metrics) {
            const auto v = rs.empty() ? std::nullopt : aggregate("mean", m, rs);
            os << " " << (v ? format_cell(*v, "") : "") << " |";
        }
        os << "\n";
    }
    if (failed != 0) {
        os << "\n## Failed runs\n\n";
        for (const auto& r : in.records)
            if (r.status != "ok") {
                std::string e = r.error;
                std::replace(e.begin(), e.end(), '\n', ' ');
                if (e.size() > 300) e = "…" + e.substr(e.size() - 300);
                os << "- `" << r.id << "`: " << e << "\n";
            }
    }
    os << "\n---\nFiles: `results.jsonl` (one record per run: params, metrics), `results.csv` (the same, flat), "
          "`runs/<id>.json` (the full `flowteam " << in.scenario->command << " --json` report), `runs/<id>.out|.err` (its output). Metrics are "
          "defined in apps/experiment_results.h.\n";
    return os.str();
}

} // namespace flowteam::apps::experiment
