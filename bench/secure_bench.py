#!/usr/bin/python3
"""The DDS Security overhead benchmark (issue 15; docs/PERFORMANCE.md, docs/SECURITY.md).

`coedge cluster` on one scenario in three configurations, interleaved (plain, signed,
encrypted, plain, ...) so that machine drift hits all three alike, --repeat times each:
  plain    --plain: no DDS Security (an open domain)
  sign     --secure --images sign: authenticated participants, access control, control
           topics encrypted, images and results signed (HMAC) but sent in the clear
  encrypt  --secure --images encrypt: the same, images and results encrypted too (AES-GCM)
Per run, from the master's summary and the nodes' job lines:
  fps       frames delivered per second: jobs released at the executing nodes (one per
            frame that reached its node) over the run's duration
  latency   end-to-end latency of the finished jobs (job lines' latency_ms, met and
            overdue), median and p95
  miss      CoEdge's miss rate (the master's totals.miss_rate)
The table gives each configuration's median over its runs and its ratio to plain (miss
rate: the difference in percentage points); the criterion of issue 15 is a secure miss
rate within 2 pp of the plain one. The "within 2 pp" column does not read it off the
medians alone, which the run-to-run spread can put on either side by chance: it compares
the means, with the standard error of their difference (SE, from each configuration's
runs), and says "yes" when mean difference + 2 SE <= 2 pp, "NO" when mean difference -
2 SE > 2 pp, and "unresolved" otherwise (or with fewer than 2 runs each): more runs, or
longer ones, would tell. Writes secure_bench.json, table.md and every run's folder under
--out. Needs root (coedge cluster), except --from-json, which re-tabulates the runs of an
earlier secure_bench.json without running anything.

Scenario: by default the demo's CoEdge run, as `coedge demo` runs it: its scaled lamppost
(results/demo/scenario.yaml, written by `make demo`, with the scenario's duration and window:
120 s and 30 s), the demo's CoEdge dispatcher, its node CPU quota (results/demo/results.json's
node_cores) and sandbox isolation. `--scenario small` is a built-in three-node one (three
YOLOv5s-160 tasks at 1 s, 60 s runs) that runs anywhere. Examples (docs/PERFORMANCE.md):
  sudo make demo && sudo bench/secure_bench.py               # the demo's CoEdge run, median of 3
  sudo bench/secure_bench.py --scenario small --duration 20s --window 5s --repeat 1   # a quick check
  bench/secure_bench.py --from-json results/secure-bench/secure_bench.json   # the table again
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COEDGE = os.path.join(ROOT, "build", "bin", "coedge")
DEMO = os.path.join(ROOT, "results", "demo")
DEMO_DISPATCHER = "coedge:batch-aware,blocking-aware,useful-evictions"  # cmd_demo.cc's default
MODES = {"plain": ["--plain"], "sign": ["--secure", "--images", "sign"], "encrypt": ["--secure", "--images", "encrypt"]}

SMALL_SCENARIO = f"""name: secure-bench-small
profiles: {ROOT}/examples/profiles/generated-models-cpu.yaml
run: {{duration: 60s, window: 10s, seed: 3}}
nodes:
  - {{name: n1}}
  - {{name: n2}}
  - {{name: n3}}
network:
  default_mbps: 50
tasks:
  - {{name: A, source: n1, model: yolov5s-160, period: 1s, priority: 2}}
  - {{name: B, source: n2, model: yolov5s-160, period: 1s, priority: 1}}
  - {{name: C, source: n3, model: yolov5s-160, period: 1s, priority: 1}}
"""


def percentile(values, q):
    """The q-quantile (0..1) of values, linearly interpolated; None when empty."""
    if not values:
        return None
    v = sorted(values)
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def run_once(args, scenario, mode, rep):
    out = os.path.join(args.out, f"{mode}-{rep}")
    cmd = [COEDGE, "cluster", scenario, "-o", out, "--dispatcher", args.dispatcher, "--isolation", args.isolation,
           "--domain", str(args.domain), "--prefix", "csb",
           "--models-dir", os.path.join(ROOT, "build", "models")] + MODES[mode]
    for flag, value in (("--duration", args.duration), ("--window", args.window), ("--node-cores", args.node_cores)):
        if value:
            cmd += [flag, str(value)]
    print("$ " + " ".join(cmd), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(out + ".log", "w") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    if code not in (0, 3):  # 3: a run whose accounting is incomplete still has figures
        sys.exit(f"secure_bench: coedge cluster ({mode}) failed (exit {code}); see {out}.log")
    summary = json.load(open(os.path.join(out, "master", "summary.json")))
    latencies = []
    for name in os.listdir(os.path.join(out, "nodes")):
        jobs = os.path.join(out, "nodes", name, "jobs.jsonl")
        if not os.path.exists(jobs):
            continue
        for line in open(jobs):
            if not line.strip():
                continue
            j = json.loads(line)
            if j.get("outcome") in ("met", "overdue") and j.get("latency_ms") is not None:
                latencies.append(j["latency_ms"])
    totals = summary["totals"]
    duration = summary["duration_s"] or 1
    return {"mode": mode, "rep": rep, "out": out, "exit": code, "duration_s": summary["duration_s"],
            "released": totals["released"], "fps": totals["released"] / duration,
            "latency_median_ms": percentile(latencies, 0.5), "latency_p95_ms": percentile(latencies, 0.95),
            "jobs_with_latency": len(latencies), "miss_rate": totals["miss_rate"],
            "accounted": totals.get("accounted", False)}


def median_of(runs, key):
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(value, base):
    return "-" if value is None or not base else f"{value / base:.3f}"


MISS_CRITERION_PP = 2.0


def miss_verdict(plain_rates, rates):
    """Whether `rates` (miss rates, 0..1, one per run) are within MISS_CRITERION_PP of
    `plain_rates`: (verdict, mean difference in pp, its standard error in pp or None).
    "yes" / "NO" only when the difference of the means is that far from the criterion by
    at least 2 standard errors; "unresolved" otherwise, or with fewer than 2 runs of
    either (no spread to estimate)."""
    delta = 100 * (statistics.mean(rates) - statistics.mean(plain_rates))
    if len(rates) < 2 or len(plain_rates) < 2:
        return "unresolved", delta, None
    se = 100 * (statistics.variance(rates) / len(rates) + statistics.variance(plain_rates) / len(plain_rates)) ** 0.5
    if delta + 2 * se <= MISS_CRITERION_PP:
        return "yes", delta, se
    if delta - 2 * se > MISS_CRITERION_PP:
        return "NO", delta, se
    return "unresolved", delta, se


def tabulate(runs, modes, repeat, scenario, duration):
    """The table (markdown), its header line, the medians and the verdicts."""
    medians = {}
    for mode in modes:
        mine = [r for r in runs if r["mode"] == mode]
        medians[mode] = {k: median_of(mine, k) for k in ("fps", "latency_median_ms", "latency_p95_ms", "miss_rate")}
    base = medians["plain"]
    plain_rates = [r["miss_rate"] for r in runs if r["mode"] == "plain"]
    rows = ["| configuration | frames/s | × plain | latency median ms | × plain | latency p95 ms | × plain "
            "| miss rate % (median; runs) | Δ pp (medians) | Δ pp (means) ± SE | within 2 pp |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    verdicts = {}
    for mode in modes:
        m = medians[mode]
        rates = [r["miss_rate"] for r in runs if r["mode"] == mode]
        verdict, delta_mean, se = miss_verdict(plain_rates, rates)
        verdicts[mode] = {"verdict": verdict, "delta_mean_pp": delta_mean, "se_pp": se}
        spread = ", ".join(f"{100 * x:.1f}" for x in rates)
        rows.append(f"| {mode} | {fmt(m['fps'], 2)} | {ratio(m['fps'], base['fps'])} "
                    f"| {fmt(m['latency_median_ms'])} | {ratio(m['latency_median_ms'], base['latency_median_ms'])} "
                    f"| {fmt(m['latency_p95_ms'])} | {ratio(m['latency_p95_ms'], base['latency_p95_ms'])} "
                    f"| {100 * m['miss_rate']:.1f} ({spread}) | {100 * (m['miss_rate'] - base['miss_rate']):+.1f} "
                    f"| {'-' if mode == 'plain' else f'{delta_mean:+.1f} ± {fmt(se)}'} "
                    f"| {'-' if mode == 'plain' else verdict} |")
    length = duration or "the scenario's duration"
    header = (f"DDS Security overhead: {scenario}, {length} runs, "
              f"median of {repeat} per configuration (interleaved)")
    return header, "\n".join(rows), medians, verdicts


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--scenario", default="",
                   help="scenario file, or 'small' (built in); default results/demo/scenario.yaml, else small")
    p.add_argument("--duration", default="", help="each run's length from the first plan (default: the scenario's)")
    p.add_argument("--window", default="", help="stage-2 period (default: the scenario's)")
    p.add_argument("--dispatcher", default=DEMO_DISPATCHER, help=f"the master's dispatcher (default the demo's, {DEMO_DISPATCHER})")
    p.add_argument("--isolation", default="sandbox", help="the node agents' isolation (default sandbox, the demo's)")
    p.add_argument("--repeat", type=int, default=3, help="runs per configuration (default 3; medians)")
    p.add_argument("--modes", default="plain,sign,encrypt", help="configurations, in their interleaved order")
    p.add_argument("--node-cores", type=float, default=0,
                   help="each node's CPU quota (default: the demo's, from results/demo/results.json, else coedge cluster's)")
    p.add_argument("--domain", type=int, default=61, help="DDS domain id of the runs (default 61)")
    p.add_argument("--out", default=os.path.join(ROOT, "results", "secure-bench"), help="results folder")
    p.add_argument("--from-json", default="", metavar="FILE",
                   help="print the table of an earlier run's secure_bench.json (runs nothing, writes nothing)")
    args = p.parse_args()
    if args.from_json:
        try:
            with open(args.from_json) as f:
                old = json.load(f)
        except OSError as e:
            print(f"secure_bench: --from-json {args.from_json}: cannot read it: {e.strerror}", file=sys.stderr)
            sys.exit(2)
        except ValueError as e:
            print(f"secure_bench: --from-json {args.from_json}: not JSON: {e}", file=sys.stderr)
            sys.exit(2)
        try:
            header, table, _, _ = tabulate(old["runs"], old["modes"], old["repeat"], old["scenario"], old["duration"])
        except (KeyError, TypeError, statistics.StatisticsError) as e:
            print(f"secure_bench: --from-json {args.from_json}: not a secure_bench.json with runs of plain "
                  f"(missing or bad {e})", file=sys.stderr)
            sys.exit(2)
        print(header + "\n\n" + table)
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            sys.exit(f"secure_bench: --modes: unknown configuration '{m}' (plain, sign or encrypt)")
    if "plain" not in modes:
        sys.exit("secure_bench: --modes must include plain, the baseline of every ratio")
    if args.repeat < 1:
        sys.exit("secure_bench: --repeat must be 1 or more")
    if os.geteuid() != 0:
        sys.exit("secure_bench: needs root (coedge cluster: network namespaces, tc, cgroups); run it with sudo")
    os.makedirs(args.out, exist_ok=True)
    scenario = args.scenario
    if not scenario:
        scenario = os.path.join(DEMO, "scenario.yaml")
        if not os.path.exists(scenario):
            sys.exit(f"secure_bench: no {scenario}: run `sudo make demo` first (it scales the lamppost to this "
                     "machine), or give --scenario small or FILE")
        if not args.node_cores and os.path.exists(os.path.join(DEMO, "results.json")):
            args.node_cores = json.load(open(os.path.join(DEMO, "results.json"))).get("node_cores", 0)
    if scenario == "small":
        scenario = os.path.join(args.out, "small.yaml")
        with open(scenario, "w") as f:
            f.write(SMALL_SCENARIO)
    elif not os.path.exists(scenario):
        sys.exit(f"secure_bench: --scenario {scenario}: no such file (run `make demo` for the lamppost, or give 'small')")
    scenario = os.path.abspath(scenario)

    runs = []
    for rep in range(1, args.repeat + 1):
        for mode in modes:
            r = run_once(args, scenario, mode, rep)
            print(f"  {mode} #{rep}: {r['fps']:.2f} frames/s, latency median {fmt(r['latency_median_ms'])} ms "
                  f"p95 {fmt(r['latency_p95_ms'])} ms, miss rate {100 * r['miss_rate']:.1f} %", flush=True)
            runs.append(r)

    header, table, medians, verdicts = tabulate(runs, modes, args.repeat, scenario, args.duration)
    print("\n" + header + "\n\n" + table)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(header + "\n\n" + table + "\n")
    with open(os.path.join(args.out, "secure_bench.json"), "w") as f:
        json.dump({"scenario": scenario, "dispatcher": args.dispatcher, "node_cores": args.node_cores,
                   "isolation": args.isolation, "duration": args.duration, "window": args.window, "repeat": args.repeat,
                   "modes": modes, "runs": runs, "medians": medians, "within_2pp": verdicts}, f, indent=2)
    print(f"\nwrote {os.path.join(args.out, 'table.md')} and secure_bench.json")


if __name__ == "__main__":
    main()
