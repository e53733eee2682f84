#!/usr/bin/env python3
"""Runs the benchmark scenarios against Switchyard, the upstream called directly, and the peer
gateways, all in front of the same fake upstream on this machine, and writes bench/RESULTS.md.
Started by bench/run (which builds and installs everything first). Standard library only."""

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
REL = os.path.join(TARGET, "release")
OHA = os.path.join(ROOT, "bench/.tools/bin/oha")
WORK = os.path.join(ROOT, "bench/.work")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
LITELLM_VERSION, PORTKEY_VERSION = ([a for a in sys.argv[1:] if not a.startswith("--")] + ["?", "?"])[:2]
PROCS = []
PROFILE = "--profile" in sys.argv


def log(*a):
    print("[bench]", *a, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, env=None, ready=None, wait_url=None, timeout=60):
    """Starts a process; waits for a 'listening on http://…' line or for a URL to answer."""
    out = open(os.path.join(WORK, os.path.basename(cmd[0]) + ".log"), "w")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE if ready else out, stderr=out, env={**os.environ, **(env or {})}, text=True)
    PROCS.append(p)
    addr = None
    if ready:
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on http://(\S+)", line)
            if m:
                addr = m.group(1)
                break
        threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
        if not addr:
            raise RuntimeError(f"{cmd[0]} did not start")
    if wait_url:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited")
            try:
                urllib.request.urlopen(wait_url, timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except Exception:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"{cmd[0]} did not answer {wait_url}")
    return p, addr


def proc_stats(pid):
    """(RSS kB, peak RSS kB, CPU seconds) of a process and its children."""
    pids = [pid]
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(k) for k in kids]
    except Exception:
        pass
    rss = hwm = cpu = 0
    tick = os.sysconf("SC_CLK_TCK")
    for q in pids:
        try:
            status = open(f"/proc/{q}/status").read()
            rss += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            hwm += int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
            fields = open(f"/proc/{q}/stat").read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
        except Exception:
            pass
    return rss, hwm, cpu


def oha(url, headers, body, rate=None, conns=64, seconds=SECONDS, n=None):
    bodyfile = os.path.join(WORK, "body.json")
    with open(bodyfile, "w") as f:
        f.write(body)
    cmd = [OHA, "--no-tui", "--output-format", "json", "-m", "POST", "-c", str(conns), "-D", bodyfile, "-T", "application/json"]
    cmd += ["-n", str(n)] if n else ["-z", f"{seconds}s"]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(url)
    r = subprocess.run(cmd, capture_output=True, text=True)
    try:
        j = json.loads(r.stdout)
    except Exception:
        return {"error": (r.stderr or r.stdout)[-300:]}
    s = j.get("summary", {})
    pct = j.get("latencyPercentiles", {})
    codes = j.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    # Requests still in flight when a timed run ends are cut off by oha: not errors.
    errs = {k: v for k, v in j.get("errorDistribution", {}).items() if "deadline" not in k.lower()}
    total = sum(codes.values()) + sum(errs.values())
    return {
        "rps": s.get("requestsPerSec") or 0,
        "ok": ok,
        "total": total,
        "errors": total - ok,
        "p50": (pct.get("p50") or 0) * 1000,
        "p99": (pct.get("p99") or 0) * 1000,
        "max": (s.get("slowest") or 0) * 1000,
    }


def probe(s, streams, conc, words, tokdelay, hold=False):
    cmd = [os.path.join(REL, "switchyard-testkit"), "probe", s["url"], s["key"], s["model"], str(streams), str(conc), str(words), str(tokdelay)]
    if hold:
        cmd.append("hold")
    extra = {k: v for k, v in s["headers"].items() if k.lower() != "authorization"}
    limit = int(os.environ.get("BENCH_PROBE_TIMEOUT", "150"))
    # The probe reports what it has at the deadline; the hard timeout is only a backstop.
    env = {**os.environ, "PROBE_HEADERS": json.dumps(extra), "PROBE_DEADLINE_SECS": str(limit)}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=limit + 30)
    except subprocess.TimeoutExpired:
        return {"error": "did not finish within the probe timeout"}
    try:
        return json.loads(r.stdout)
    except Exception:
        return {"error": r.stderr[-300:]}


def profile(s, body):
    """`bench/run --profile`: saturation load on Switchyard alone under `perf record` (software
    clock, DWARF call graphs), then the hottest symbols, self and inclusive, into bench/.work."""
    if not shutil.which("perf"):
        log("!! perf is not installed (Debian: linux-perf)")
        return
    data = os.path.join(WORK, "perf.data")
    rec = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "1999", "--call-graph", "dwarf,16384",
                            "-p", str(s["pid"]), "-o", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    r = oha(s["url"], s["headers"], body, conns=64)
    log("under perf:", r)
    rec.send_signal(2)
    rec.wait()
    for mode, args in (("self", ["--no-children"]), ("children", ["--children"])):
        out = os.path.join(WORK, f"perf-{mode}.txt")
        with open(out, "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-demangle", *args, "-g", "none",
                            "--percent-limit", "0.5", "--sort", "symbol"], stdout=f, stderr=subprocess.DEVNULL)
        log("wrote", out)


def main():
    os.makedirs(WORK, exist_ok=True)
    results = {"systems": {}, "scenarios": {}}
    up, up_addr = start([os.path.join(REL, "switchyard-testkit"), "127.0.0.1:0"], ready=True)
    upstream = f"http://{up_addr}"
    log("fake upstream at", upstream)

    data = tempfile.mkdtemp(prefix="sy-bench-", dir=WORK)
    cfg = os.path.join(data, "config.toml")
    with open(cfg, "w") as f:
        f.write(f"""default_catalog = false
[server]
max_body_bytes = 20971520
[[providers]]
slug = "fake"
name = "Fake OpenAI"
protocol = "openai"
base_url = "{upstream}/openai/v1"
api_key_env = "FAKE_KEY"
[[providers]]
slug = "fake-anthropic"
name = "Fake Anthropic"
protocol = "anthropic"
base_url = "{upstream}/anthropic/v1"
api_key_env = "FAKE_KEY"
[[models]]
id = "fake/gpt"
name = "Fake GPT"
context_length = 1000000
endpoints = [{{ provider = "fake", upstream_id = "gpt-fake", prompt = "0.0000001", completion = "0.0000002", max_completion_tokens = 4096 }}]
[[models]]
id = "fake/claude"
name = "Fake Claude"
context_length = 1000000
endpoints = [{{ provider = "fake-anthropic", upstream_id = "claude-fake", prompt = "0.0000001", completion = "0.0000002", max_completion_tokens = 4096 }}]
""")
    sy = os.path.join(REL, "switchyard")
    store = ["--data-dir", os.path.join(data, "state")]
    subprocess.run([sy, "accounts", "create", "--name", "bench", *store], check=True, capture_output=True)
    subprocess.run([sy, "credits", "grant", "--account", "bench", "--amount", "1000000", *store], check=True, capture_output=True)
    key = subprocess.run([sy, "keys", "create", "--account", "bench", "--rpm", "100000000", "--tpm", "100000000000", *store],
                         check=True, capture_output=True, text=True).stdout.strip()
    syp, sy_addr = start([sy, "serve", "--config", cfg, "--listen", "127.0.0.1:0", *store], env={"FAKE_KEY": "testkit-key", "RUST_LOG": "warn"}, ready=True)
    log("switchyard at", sy_addr)
    small = lambda model: json.dumps({"model": model, "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 16})
    systems = {
        "direct": {"url": f"{upstream}/openai/v1/chat/completions", "headers": {"Authorization": "Bearer testkit-key"}, "model": "gpt-fake", "key": "testkit-key", "pid": up.pid},
        "switchyard": {"url": f"http://{sy_addr}/api/v1/chat/completions", "headers": {"Authorization": f"Bearer {key}"}, "model": "fake/gpt", "key": key, "pid": syp.pid},
    }
    ll_bin = os.path.join(ROOT, "bench/.peers/litellm-venv/bin/litellm")
    if os.path.exists(ll_bin) and not PROFILE:
        port = free_port()
        llcfg = os.path.join(data, "litellm.yaml")
        with open(llcfg, "w") as f:
            f.write(f"""model_list:
  - model_name: fake/gpt
    litellm_params:
      model: openai/gpt-fake
      api_base: {upstream}/openai/v1
      api_key: testkit-key
general_settings:
  master_key: sk-litellm-bench
litellm_settings:
  drop_params: true
""")
        try:
            llp, _ = start([ll_bin, "--config", llcfg, "--port", str(port), "--num_workers", "1"], wait_url=f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
            systems["litellm"] = {"url": f"http://127.0.0.1:{port}/v1/chat/completions", "headers": {"Authorization": "Bearer sk-litellm-bench"}, "model": "fake/gpt", "key": "sk-litellm-bench", "pid": llp.pid}
            log("litellm at port", port)
        except Exception as e:
            log("!! LiteLLM skipped:", e)
    else:
        log("!! LiteLLM not installed: skipped")
    pk = os.path.join(ROOT, "bench/.peers/portkey/node_modules/@portkey-ai/gateway/build/start-server.js")
    if os.path.exists(pk) and shutil.which("node") and not PROFILE:
        port = free_port()
        try:
            pkp, _ = start(["node", pk, f"--port={port}", "--headless"], wait_url=f"http://127.0.0.1:{port}/", timeout=60)
            systems["portkey"] = {"url": f"http://127.0.0.1:{port}/v1/chat/completions",
                                  "headers": {"Authorization": "Bearer testkit-key", "x-portkey-provider": "openai", "x-portkey-custom-host": f"{upstream}/openai/v1"},
                                  "model": "gpt-fake", "key": "testkit-key", "pid": pkp.pid}
            log("portkey at port", port)
        except Exception as e:
            log("!! Portkey skipped:", e)
    else:
        log("!! Portkey not installed: skipped")

    if PROFILE:
        return profile(systems["switchyard"], small("fake/gpt"))

    # Smoke: every system answers.
    for name, s in list(systems.items()):
        r = oha(s["url"], s["headers"], small(s["model"]), n=20, conns=2)
        if r.get("ok", 0) < 20:
            log(f"!! {name} failed the smoke test: {r}")
            del systems[name]
    results["systems"] = {n: {k: v for k, v in s.items() if k in ("url",)} for n, s in systems.items()}
    sc = results["scenarios"]

    log("(a) fixed rates")
    sc["a"] = {}
    for rate in (500, 2000, 5000):
        for name, s in systems.items():
            sc["a"][f"{name}@{rate}"] = oha(s["url"], s["headers"], small(s["model"]), rate=rate, conns=64)
            log(name, rate, sc["a"][f"{name}@{rate}"])

    log("(b) saturation, 64 connections")
    sc["b"] = {}
    for name, s in systems.items():
        before = proc_stats(s["pid"])
        r = oha(s["url"], s["headers"], small(s["model"]), conns=64)
        after = proc_stats(s["pid"])
        r["cpu_per_req_us"] = (after[2] - before[2]) / max(r.get("ok", 1), 1) * 1e6
        r["rss_mb"] = after[0] / 1024
        sc["b"][name] = r
        log(name, r)

    log("(c) streaming 256 tokens at 20 ms/token")
    sc["c"] = {}
    for name, s in systems.items():
        sc["c"][name] = probe(s, 100, 50, 256, 20)
        log(name, sc["c"][name])

    log("(d) 2,000 concurrent open streams")
    sc["d"] = {}
    for name, s in systems.items():
        if name == "direct":
            continue
        peak = [0]
        stop = threading.Event()

        def sample(pid=s["pid"]):
            while not stop.is_set():
                peak[0] = max(peak[0], proc_stats(pid)[0])
                time.sleep(0.2)

        before = proc_stats(s["pid"])
        t = threading.Thread(target=sample)
        t.start()
        # 150 tokens at 50 ms: each stream lasts ~7.5 s, longer than opening all 2,000 takes.
        r = probe(s, 2000, 2000, 150, 50, hold=True)
        stop.set()
        t.join()
        after = proc_stats(s["pid"])
        r["peak_rss_mb"] = peak[0] / 1024
        r["cpu_s"] = after[2] - before[2]
        sc["d"][name] = r
        log(name, {k: r.get(k) for k in ("peak_rss_mb", "cpu_s", "errors")})

    log("(e) 1 MB prompt")
    sc["e"] = {}
    big = "word " * (1024 * 1024 // 5)
    for name, s in systems.items():
        body = json.dumps({"model": s["model"], "messages": [{"role": "user", "content": big}], "max_tokens": 16})
        sc["e"][name] = oha(s["url"], s["headers"], body, conns=4, n=100)
        log(name, sc["e"][name])

    log("(f) invalid keys")
    sc["f"] = {}
    for name, s in systems.items():
        if name == "direct":
            continue
        bad = dict(s["headers"])
        bad["Authorization"] = "Bearer sk-invalid-key-for-bench"
        before = proc_stats(s["pid"])
        r = oha(s["url"], bad, small(s["model"]), conns=64)
        after = proc_stats(s["pid"])
        r["cpu_per_req_us"] = (after[2] - before[2]) / max(r.get("total", 1), 1) * 1e6
        sc["f"][name] = r
        log(name, r)

    log("(g) Anthropic translation vs OpenAI passthrough (Switchyard)")
    sw = systems["switchyard"]
    sc["g"] = {
        "openai": oha(sw["url"], sw["headers"], small("fake/gpt"), rate=2000, conns=64),
        "anthropic": oha(sw["url"], sw["headers"], small("fake/claude"), rate=2000, conns=64),
    }
    log(sc["g"])

    if os.environ.get("BENCH_SOAK"):
        log("soak: 10 minutes at 1,000 req/s")
        samples = []
        stop = threading.Event()

        def soak_sample():
            while not stop.is_set():
                samples.append(proc_stats(sw["pid"])[0])
                time.sleep(5)

        t = threading.Thread(target=soak_sample)
        t.start()
        sc["soak"] = oha(sw["url"], sw["headers"], small("fake/gpt"), rate=1000, conns=32, seconds=600)
        stop.set()
        t.join()
        sc["soak"]["rss_samples_mb"] = [x / 1024 for x in samples]

    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/report.py"), os.path.join(WORK, "results.json"), LITELLM_VERSION, PORTKEY_VERSION], check=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in PROCS:
            try:
                p.terminate()
                p.wait(timeout=10)
            except Exception:
                p.kill()
