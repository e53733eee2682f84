#!/usr/bin/env python3
"""Writes bench/RESULTS.md from bench/.work/results.json (see bench/run), followed by the
hand-written analysis in bench/ANALYSIS.md."""

import datetime
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
res = json.load(open(sys.argv[1]))
litellm_v, portkey_v = sys.argv[2], sys.argv[3]
sc = res["scenarios"]
systems = list(res["systems"].keys())


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip()
    except Exception:
        return "?"


def f(x, nd=2):
    return "–" if x is None or x != x else f"{x:.{nd}f}"


out = []
w = out.append
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem = sh("free -g | awk '/Mem:/ {print $2}'")
w("# Benchmark results\n")
w(f"- Date: {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M')} UTC")
w(f"- Machine: {sh('nproc')} cores ({cpu}), {mem} GiB; load generator, fake upstream and gateways on the same box")
w(f"- Switchyard {sh('git -C ' + ROOT + ' rev-parse --short HEAD')} (release, SQLite, auth + rate limits + reservations + billing + generation records on); {sh('rustc --version')}")
w(f"- Peers: LiteLLM proxy {litellm_v} (1 worker), Portkey gateway {portkey_v} ({sh('node --version')}); load: {sh(ROOT + '/bench/.tools/bin/oha --version')}")
w(f"- Systems measured: {', '.join(systems)}. Latencies in milliseconds; rates latency-corrected (oha -q … --latency-correction).\n")


def added(a, b, k):
    x, y = (a or {}).get(k), (b or {}).get(k)
    if x is None or y is None:
        return None
    return x - y


w("## (a) Small non-streaming chat at fixed rates\n")
w("| system | rate | req/s | errors | p50 | p99 | max | added p50 | added p99 |")
w("|---|---|---|---|---|---|---|---|---|")
for rate in (500, 2000, 5000):
    d = sc.get("a", {}).get(f"direct@{rate}")
    for s in systems:
        r = sc.get("a", {}).get(f"{s}@{rate}", {})
        w(f"| {s} | {rate} | {f(r.get('rps'),0)} | {r.get('errors','–')} | {f(r.get('p50'),3)} | {f(r.get('p99'),3)} | {f(r.get('max'),1)} | {f(added(r,d,'p50'),3)} | {f(added(r,d,'p99'),3)} |")
w("")

w("## (b) Maximum throughput, 64 connections\n")
w("| system | req/s | errors | p50 | p99 | CPU µs/request | RSS MB | vs direct | Switchyard ÷ this |")
w("|---|---|---|---|---|---|---|---|---|")
b = sc.get("b", {})
direct_rps = b.get("direct", {}).get("rps") or 0
sy_rps = b.get("switchyard", {}).get("rps") or 0
for s in systems:
    r = b.get(s, {})
    rps = r.get("rps") or 0
    w(f"| {s} | {f(rps,0)} | {r.get('errors','–')} | {f(r.get('p50'),3)} | {f(r.get('p99'),3)} | {f(r.get('cpu_per_req_us'),1)} | {f(r.get('rss_mb'),1)} | {f(rps / direct_rps * 100 if direct_rps else None,1)}% | {f(sy_rps / rps if rps else None,1)}× |")
w("")

w("## (c) Streaming 256 tokens at 20 ms/token (100 streams, 50 at a time)\n")
w("| system | TTFT p50 | TTFT p99 | added TTFT p99 | chunk gap p50 | gap p99 | added gap p99 | errors |")
w("|---|---|---|---|---|---|---|---|")
c = sc.get("c", {})
dc = c.get("direct", {})
for s in systems:
    r = c.get(s, {})
    t, g = r.get("ttft_ms", {}), r.get("gap_ms", {})
    dt, dg = dc.get("ttft_ms", {}), dc.get("gap_ms", {})
    w(f"| {s} | {f(t.get('p50'),2)} | {f(t.get('p99'),2)} | {f(added(t,dt,'p99'),2)} | {f(g.get('p50'),2)} | {f(g.get('p99'),2)} | {f(added(g,dg,'p99'),2)} | {r.get('errors', r.get('error','–'))} |")
w("")

w("## (d) 2,000 concurrent open streams\n")
w("| system | peak RSS MB | CPU s | streams ok | errors | still open at the probe's deadline |")
w("|---|---|---|---|---|---|")
for s, r in sc.get("d", {}).items():
    w(f"| {s} | {f(r.get('peak_rss_mb'),1)} | {f(r.get('cpu_s'),2)} | {r.get('ttft_ms',{}).get('n','–')} | {r.get('errors', r.get('error','–'))} | {r.get('unfinished','–')} |")
w("")

w("## (e) 1 MB prompt (100 requests, 4 at a time)\n")
w("| system | req/s | errors | p50 | p99 |")
w("|---|---|---|---|---|")
for s in systems:
    r = sc.get("e", {}).get(s, {})
    w(f"| {s} | {f(r.get('rps'),0)} | {r.get('errors','–')} | {f(r.get('p50'),2)} | {f(r.get('p99'),2)} |")
w("")

w("## (f) Flood of invalid keys, 64 connections\n")
w("| system | rejections/s | p50 | CPU µs/rejection | ÷ CPU of a proxied request |")
w("|---|---|---|---|---|")
for s, r in sc.get("f", {}).items():
    prox = b.get(s, {}).get("cpu_per_req_us")
    ratio = r.get("cpu_per_req_us") / prox * 100 if prox and r.get("cpu_per_req_us") is not None else None
    w(f"| {s} | {f(r.get('rps'),0)} | {f(r.get('p50'),3)} | {f(r.get('cpu_per_req_us'),1)} | {f(ratio,1)}% |")
w("")

w("## (g) Switchyard: Anthropic translation vs OpenAI passthrough at 2,000 req/s\n")
w("| path | req/s | errors | p50 | p99 |")
w("|---|---|---|---|---|")
for k, r in sc.get("g", {}).items():
    w(f"| {k} | {f(r.get('rps'),0)} | {r.get('errors','–')} | {f(r.get('p50'),3)} | {f(r.get('p99'),3)} |")
w("")

if "soak" in sc:
    s = sc["soak"]
    rss = s.get("rss_samples_mb", [])
    spread = (max(rss) - min(rss)) / min(rss) * 100 if rss and min(rss) else None
    w(f"## Soak: 10 minutes at 1,000 req/s\n\nreq/s {f(s.get('rps'),0)}, errors {s.get('errors')}, p99 {f(s.get('p99'),3)} ms, RSS {f(min(rss) if rss else None,1)}–{f(max(rss) if rss else None,1)} MB (spread {f(spread,1)}%).\n")

# Targets.
w("## Targets\n")
a2 = sc.get("a", {})
sy2, d2 = a2.get("switchyard@2000", {}), a2.get("direct@2000", {})
rows = []
ap50, ap99 = added(sy2, d2, "p50"), added(sy2, d2, "p99")
rows.append(("Added latency at 2,000 req/s: p50 ≤ 0.15 ms, p99 ≤ 0.5 ms, zero errors",
             f"p50 +{f(ap50,3)} ms, p99 +{f(ap99,3)} ms, {sy2.get('errors','?')} errors",
             ap50 is not None and ap50 <= 0.15 and ap99 <= 0.5 and sy2.get("errors") == 0))
share = sy_rps / direct_rps * 100 if direct_rps else None
rows.append(("Saturation ≥ 35% of direct", f"{f(share,1)}%", share is not None and share >= 35))
for peer, need in (("litellm", 50), ("portkey", 10)):
    prps = b.get(peer, {}).get("rps")
    ratio = sy_rps / prps if prps else None
    rows.append((f"Saturation ≥ {need}× {peer}", f"{f(ratio,1)}×" if ratio else "not measured", ratio is not None and ratio >= need))
ct = added(c.get("switchyard", {}).get("ttft_ms", {}), dc.get("ttft_ms", {}), "p99")
rows.append(("Streaming: added TTFT p99 ≤ 1 ms", f"{f(ct,2)} ms", ct is not None and ct <= 1))
rss = sc.get("d", {}).get("switchyard", {}).get("peak_rss_mb")
rows.append(("RSS ≤ 64 MB with 2,000 open streams", f"{f(rss,1)} MB", rss is not None and rss <= 64))
if "soak" in sc:
    rows.append(("Flat RSS (±5%) over a 10-minute soak", f"{f(spread,1)}%", spread is not None and spread <= 10))
else:
    rows.append(("Flat RSS (±5%) over a 10-minute soak", "not run (BENCH_SOAK=1)", False))
inv = sc.get("f", {}).get("switchyard", {}).get("cpu_per_req_us")
prox = b.get("switchyard", {}).get("cpu_per_req_us")
ir = inv / prox * 100 if inv is not None and prox else None
rows.append(("Invalid key costs < 10% of a proxied request's CPU", f"{f(ir,1)}%", ir is not None and ir < 10))
w("| target | measured | met |")
w("|---|---|---|")
for t, m, ok in rows:
    w(f"| {t} | {m} | {'yes' if ok else '**no**'} |")
w("")

analysis = os.path.join(ROOT, "bench/ANALYSIS.md")
if os.path.exists(analysis):
    w(open(analysis).read())
open(os.path.join(ROOT, "bench/RESULTS.md"), "w").write("\n".join(out) + "\n")
print("wrote bench/RESULTS.md")
