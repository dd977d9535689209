#!/usr/bin/python3
"""Acceptance runs of the cooperative cluster (issue 5), on the emulated lamppost that
`coedge demo` scaled to this machine (its results folder holds scenario.yaml).

  bandwidth  tc lowers a link from 100 to 10 Mbit/s mid-run (the paper's Fig. 11
             question), on three nodes with the demo's node-speed YOLO profile: a task
             whose frames cross that link, its node and miss rate per window, and when
             and why the master moved it
  kill       kill -9 of a node agent mid-run: when the master saw it, when its tasks had a
             new node, when each of them met its first job there; and the accounting

Each prints a Markdown table and writes it, with the run's results, under --out.
Needs root (coedge cluster). Example (docs/PERFORMANCE.md):
  sudo build/bin/coedge demo                      # writes results/demo/scenario.yaml
  sudo bench/cluster_bench.py bandwidth            # a-b 100 -> 10 Mbit/s at 50 s, 15 s windows
  sudo bench/cluster_bench.py kill --node n2       # kill -9 of n2's agent at 60 s
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


def run_cluster(scenario, out, extra, duration, window, reuse=False):
    if reuse and os.path.exists(os.path.join(out, "master", "summary.json")):
        print(f"(reusing the run in {out})", flush=True)
        return load_results(out)
    cmd = [COEDGE, "cluster", scenario, "-o", out, "--duration", duration, "--window", window,
           "--models-dir", os.path.join(ROOT, "build", "models")] + extra
    print("$ " + " ".join(cmd), flush=True)
    log = open(os.path.join(out + ".log"), "w")
    code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        sys.exit(f"cluster_bench: coedge cluster failed (exit {code}); see {out}.log")
    return load_results(out)


def load_results(out):
    summary = json.load(open(os.path.join(out, "master", "summary.json")))
    windows = [json.loads(l) for l in open(os.path.join(out, "master", "windows.jsonl")) if l.strip()]
    plans = [json.loads(l) for l in open(os.path.join(out, "master", "plans.jsonl")) if l.strip()]
    return summary, windows, plans


BANDWIDTH_SCENARIO = """nodes:
  - {name: a, cpu_cores: 1}
  - {name: b, cpu_cores: 1}
  - {name: c, cpu_cores: 1}
network:
  links:
    - {between: [a, b], mbps: 100}
    - {between: [a, c], mbps: 100}
    - {between: [b, c], mbps: 100}
tasks:
  # Big keeps its own node a busy (load 0.6), so T, whose camera is also on a, runs
  # elsewhere: a 1.2 MB frame takes 0.1 s at 100 Mbit/s and 1 s at 10 Mbit/s, which T's
  # deadline (YOLO's inference + 0.6 s) cannot afford.
  - {name: Big, source: a, model: yolov5s-640, period: %(big)dms, priority: 2}
  - {name: T, source: a, model: yolov5s-640, period: %(period)dms, deadline: %(deadline)dms, priority: 1}
events:
  - at: %(at)s
    link: [a, %(target)s]
    mbps: %(mbps)s
"""


def bandwidth(args):
    """Three nodes; T runs on b with its frames from a; tc slows a-b from 100 to 10 Mbit/s."""
    demo = open(args.scenario).read()
    head = demo[:demo.index("\nnodes:")] + "\n"
    yolo = float(re.search(r"name: yolov5s-640\n.*?exe_ms: \[([0-9.]+)", demo, re.S).group(1))
    os.makedirs(args.out, exist_ok=True)
    scenario = os.path.join(args.out, "bandwidth-scenario.yaml")
    values = {"big": round(yolo / 0.6), "period": round(yolo / 0.6), "deadline": round(yolo + 600),
              "at": args.at, "mbps": args.mbps, "target": "b"}
    with open(scenario, "w") as f:
        f.write(head.replace("name: lamppost", "name: bandwidth-drop") + BANDWIDTH_SCENARIO % values)
    out = os.path.join(args.out, "bandwidth")
    summary, windows, plans = run_cluster(scenario, out, ["--dispatcher", args.dispatcher], args.duration,
                                          args.window, args.reuse)
    at = seconds(args.at)
    where = [(p["t"], p["assignments"]["T"]) for p in plans]
    lines = [f"Link a-b lowered from 100 to {args.mbps} Mbit/s at t = {at:.0f} s; window {args.window}; "
             f"dispatcher {args.dispatcher}. T's frames come from a; YOLO-640 {yolo:.0f} ms at batch 1, "
             f"T's deadline {values['deadline']} ms.", "",
             "| window ends (s) | a-b measured (Mbit/s) | T on | T finished | T miss | changes |",
             "|---|---|---|---|---|---|"]
    for w in windows:
        link = [l["mbps"] for l in w["links"] if {l["a"], l["b"]} == {"a", "b"}]
        node = [n for t, n in where if t <= w["t"] + 0.5][-1]
        tw = w["tasks"]["T"]
        lines.append(f"| {w['t']:.0f} | {'%.1f' % link[0] if link else '-'} | {node or '-'} | {tw['finished']} | "
                     f"{100 * tw['miss_rate']:.1f}% | {'; '.join(w['changes']) or '-'} |")
    moved = [(w["t"], c) for w in windows for c in w["changes"] if c.startswith("T ") and "link_changed" in c]
    if moved:
        lines += ["", f"T moved at the window ending t = {moved[0][0]:.0f} s ({moved[0][1]}), "
                      f"{moved[0][0] - at:.0f} s after tc changed the link."]
    else:
        lines += ["", "T was not moved for the link change."]
    tasks = {t["task"]: t for t in summary["tasks"]}
    lines.append(f"T over the run: released {tasks['T']['released']}, met {tasks['T']['met']}, "
                 f"miss {100 * tasks['T']['miss_rate']:.1f}%; every released job counted: "
                 f"{summary['totals']['accounted']}")
    report(args, "bandwidth", lines)


def kill(args):
    out = os.path.join(args.out, "kill")
    os.makedirs(args.out, exist_ok=True)
    summary, windows, plans = run_cluster(args.scenario, out, ["--kill", f"{args.node}@{args.at}",
                                                               "--dispatcher", args.dispatcher],
                                          args.duration, args.window, args.reuse)
    log = open(out + ".log").read()
    m = re.search(r"kill -9 of node agent \S+ \(pid \d+\) at unix ([0-9.]+) s", log)
    killed = float(m.group(1)) if m else None
    master = open(os.path.join(out, "logs", "master.log")).read()
    m = re.search(r"\(unix ([0-9.]+) s\): node " + re.escape(args.node) + " is lost", master)
    seen = float(m.group(1)) if m else None
    # The node's tasks when the master saw it lost (its log lists them).
    victims = re.findall(r"\]   (\S+) " + re.escape(args.node) + r" -> - \(node_lost\)", master)
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
            m = re.search(r"\] (\S+): first (frame accepted|job met) here at unix ([0-9.]+) s", line)
            if m and m.group(1) in victims and killed and float(m.group(3)) > killed and \
                    moved and moved["assignments"][m.group(1)] == name[5:-4] and \
                    float(m.group(3)) < moved["effective_unix_s"] + 30:
                what = "accepted its first frame" if m.group(2).startswith("frame") else \
                    "met its first job (seen within a report period of 1 s)"
                lines.append(f"- {m.group(1)} {what} on {name[5:-4]} {float(m.group(3)) - killed:.2f} s after the kill")
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
    p.add_argument("--dispatcher", default="coedge:batch-aware,blocking-aware,useful-evictions", help="the master's dispatcher (default: %(default)s)")
    p.add_argument("--mbps", default="10", help="bandwidth: the link's new rate")
    p.add_argument("--node", default="n2", help="kill: the node whose agent is killed")
    p.add_argument("--reuse", action="store_true", help="report on the last run's results instead of running again")
    p.add_argument("--at", default=None, help="when (default: 50s for bandwidth, 60s for kill)")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("cluster_bench: needs root (coedge cluster); run it with sudo")
    if not os.path.exists(args.scenario):
        sys.exit(f"cluster_bench: {args.scenario} does not exist: run `sudo build/bin/coedge demo` first")
    args.at = args.at or ("50s" if args.which == "bandwidth" else "60s")
    if args.which == "bandwidth" and args.window == "30s":
        args.window = "15s"
    {"bandwidth": bandwidth, "kill": kill}[args.which](args)


if __name__ == "__main__":
    main()
