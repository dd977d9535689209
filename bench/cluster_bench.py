#!/usr/bin/python3
"""Acceptance runs of the cooperative cluster (issue 5), on the emulated lamppost that
`coedge demo` scaled to this machine (its results folder holds scenario.yaml).

  bandwidth  tc lowers a link from 100 to 10 Mbit/s mid-run (the paper's Fig. 11
             question): which tasks the master moves, in which window, for what reason,
             and the affected tasks' miss rate per window before and after
  kill       kill -9 of a node agent mid-run: when the master saw it, when its tasks had a
             new node, when each of them met its first job there; and the accounting

Each prints a Markdown table and writes it, with the run's results, under --out.
Needs root (coedge cluster). Example (docs/PERFORMANCE.md):
  sudo build/bin/coedge demo                      # writes results/demo/scenario.yaml
  sudo bench/cluster_bench.py bandwidth --link n5,n6 --at 45s
  sudo bench/cluster_bench.py kill --node n5 --at 60s
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COEDGE = os.path.join(ROOT, "build", "bin", "coedge")


def seconds(text):
    m = re.fullmatch(r"([0-9.]+)(ms|s)", text)
    if not m:
        sys.exit(f"cluster_bench: '{text}' is not a duration like 45s or 500ms")
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


def run_cluster(scenario, out, extra, duration, window):
    cmd = [COEDGE, "cluster", scenario, "-o", out, "--duration", duration, "--window", window,
           "--models-dir", os.path.join(ROOT, "build", "models")] + extra
    print("$ " + " ".join(cmd), flush=True)
    log = open(os.path.join(out + ".log"), "w")
    code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        sys.exit(f"cluster_bench: coedge cluster failed (exit {code}); see {out}.log")
    summary = json.load(open(os.path.join(out, "master", "summary.json")))
    windows = [json.loads(l) for l in open(os.path.join(out, "master", "windows.jsonl")) if l.strip()]
    plans = [json.loads(l) for l in open(os.path.join(out, "master", "plans.jsonl")) if l.strip()]
    return summary, windows, plans


def bandwidth(args):
    a, b = args.link.split(",")
    base = open(args.scenario).read()
    if "\nevents:" in base:
        base = base[:base.index("\nevents:")] + "\n"
    scenario = os.path.join(args.out, "bandwidth-scenario.yaml")
    os.makedirs(args.out, exist_ok=True)
    with open(scenario, "w") as f:
        f.write(base + f"events:\n  - at: {args.at}\n    link: [{a}, {b}]\n    mbps: {args.mbps}\n")
    out = os.path.join(args.out, "bandwidth")
    summary, windows, plans = run_cluster(scenario, out, [], args.duration, args.window)
    at = seconds(args.at)
    first_plan = plans[0]["assignments"]
    crossing = [t for t, n in first_plan.items()
                if n in (a, b) and any(x["task"] == t and x["source"] in (a, b) and x["source"] != n
                                       for x in summary["tasks"])]
    lines = [f"Link {a}-{b} lowered to {args.mbps} Mbit/s at t = {at:.0f} s (window {args.window}); "
             f"tasks crossing it in the first plan: {', '.join(crossing) or 'none'}", "",
             "| window ends (s) | measured " + f"{a}-{b}" + " (Mbit/s) | changes | " +
             " | ".join(f"{t} miss" for t in crossing) + " |",
             "|---|---|---|" + "---|" * len(crossing)]
    for w in windows:
        link = [l["mbps"] for l in w["links"] if {l["a"], l["b"]} == {a, b}]
        miss = [f"{100 * w['tasks'][t]['miss_rate']:.1f}% of {w['tasks'][t]['finished']}" for t in crossing]
        lines.append(f"| {w['t']:.0f} | {link[0]:.1f} |" if link else f"| {w['t']:.0f} | - |")
        lines[-1] += f" {'; '.join(w['changes']) or '-'} | " + " | ".join(miss) + " |"
    moved = [(w["t"], c) for w in windows for c in w["changes"] if "link_changed" in c]
    if moved:
        lines += ["", f"First move for the link: t = {moved[0][0]:.0f} s ({moved[0][1]}), "
                      f"{moved[0][0] - at:.0f} s after tc changed the link."]
    else:
        lines += ["", "No task was moved for the link change."]
    lines.append(f"Every released job counted: {summary['totals']['accounted']} "
                 f"(released {summary['totals']['released']}, miss {100 * summary['totals']['miss_rate']:.2f}%)")
    report(args, "bandwidth", lines)


def kill(args):
    out = os.path.join(args.out, "kill")
    os.makedirs(args.out, exist_ok=True)
    summary, windows, plans = run_cluster(args.scenario, out, ["--kill", f"{args.node}@{args.at}"],
                                          args.duration, args.window)
    log = open(out + ".log").read()
    m = re.search(r"kill -9 of node agent \S+ \(pid \d+\) at unix ([0-9.]+) s", log)
    killed = float(m.group(1)) if m else None
    master = open(os.path.join(out, "logs", "master.log")).read()
    m = re.search(r"\(unix ([0-9.]+) s\): node " + re.escape(args.node) + " is lost", master)
    seen = float(m.group(1)) if m else None
    victims = [t for t, n in plans[0]["assignments"].items() if n == args.node]
    moved = next((p for p in plans if p.get("effective_unix_s", 0) > (killed or 0)
                  and all(p["assignments"][t] != args.node for t in victims)), None)
    lines = [f"kill -9 of node agent {args.node} at t = {seconds(args.at):.0f} s; its tasks: {', '.join(victims)}", ""]
    if killed and seen:
        lines.append(f"- the master saw the node lost {seen - killed:.2f} s after the kill (liveliness lease 1 s)")
    if moved and killed:
        where = ", ".join(f"{t} -> {moved['assignments'][t] or 'unplaced'}" for t in victims)
        lines.append(f"- plan {moved['version']} ({where}) took effect {moved['effective_unix_s'] - killed:.2f} s after the kill")
    for name in sorted(os.listdir(os.path.join(out, "logs"))):
        if not name.startswith("node-"):
            continue
        for line in open(os.path.join(out, "logs", name)):
            m = re.search(r"\] (\S+): first job met here at unix ([0-9.]+) s", line)
            if m and m.group(1) in victims and killed and float(m.group(2)) > killed:
                lines.append(f"- {m.group(1)} met its first job on {name[5:-4]} {float(m.group(2)) - killed:.2f} s "
                             f"after the kill (within a report period of 1 s)")
    tasks = {t["task"]: t for t in summary["tasks"]}
    lines += ["", "| task | released | met | overdue | dropped | of which lost | miss |", "|---|---|---|---|---|---|---|"]
    for t in victims:
        x = tasks[t]
        lines.append(f"| {t} | {x['released']} | {x['met']} | {x['overdue']} | {x['dropped']} | {x['lost']} | "
                     f"{100 * x['miss_rate']:.1f}% |")
    lines.append(f"\nEvery released job counted: {summary['totals']['accounted']} "
                 f"(released {summary['totals']['released']}, met {summary['totals']['met']}, "
                 f"overdue {summary['totals']['overdue']}, dropped {summary['totals']['dropped']})")
    report(args, "kill", lines)


def report(args, name, lines):
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(args.out, name + ".md"), "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", choices=["bandwidth", "kill"])
    p.add_argument("--scenario", default=os.path.join(ROOT, "results", "demo", "scenario.yaml"),
                   help="the scaled lamppost written by `coedge demo` (default: %(default)s)")
    p.add_argument("--out", default=os.path.join(ROOT, "results", "cluster-bench"))
    p.add_argument("--duration", default="150s")
    p.add_argument("--window", default="30s")
    p.add_argument("--link", default="n5,n6", help="bandwidth: the pair to slow down")
    p.add_argument("--mbps", default="10", help="bandwidth: its new rate")
    p.add_argument("--node", default="n5", help="kill: the node whose agent is killed")
    p.add_argument("--at", default=None, help="when (default: 45s for bandwidth, 60s for kill)")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("cluster_bench: needs root (coedge cluster); run it with sudo")
    if not os.path.exists(args.scenario):
        sys.exit(f"cluster_bench: {args.scenario} does not exist: run `sudo build/bin/coedge demo` first")
    args.at = args.at or ("45s" if args.which == "bandwidth" else "60s")
    {"bandwidth": bandwidth, "kill": kill}[args.which](args)


if __name__ == "__main__":
    main()
