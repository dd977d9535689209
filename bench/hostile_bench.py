#!/usr/bin/python3
"""The hostile-worker benchmark (issue 14; docs/SECURITY.md, docs/PERFORMANCE.md §8).

Two honest tasks (the stock worker, YOLOv5s-160 by default) run on one node beside a
third task whose worker (build/bin/coedge-test-hostile-worker, tests/integration/
hostile_worker.cc) behaves for a few frames and then attacks: refs, events, flood,
scribble, spin, or mix (all in turn). The baseline is the same third worker that never
attacks, under the same limits (the third task is limited to --cpus), run in the same
invocation, interleaved with the hostile runs so that machine drift hits both. Each
configuration runs --repeat times; medians are compared.

Every hostile run must:
  - stop at its duration (the node's wall time at most duration + --grace);
  - keep each honest task's miss rate <= the baseline's + 2 pp (medians);
  - account every job (released = met + overdue + dropped, per task), the hostile
    task's drops with their causes (from the jobs file);
  - leak nothing: no process of the run left, no file added to /dev/shm, no task cgroup
    left, the agent's descriptors at the end equal to those at the start, no frame
    chunk held at the end.
Prints a Markdown table, writes it and every run's files under --out, and exits 1 when
a criterion is broken. Needs root (the sandbox and the cgroups). Example:
  sudo bench/hostile_bench.py --duration 20s --repeat 3
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATTACKS = ["refs", "events", "flood", "scribble", "spin", "mix"]
CGROUP_GLOBS = ["/sys/fs/cgroup/cpu/**/coedge-*", "/sys/fs/cgroup/memory/**/coedge-*", "/sys/fs/cgroup/pids/**/coedge-*"]


def seconds(text):
    text = text.strip()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s"):
        return float(text[:-1])
    return float(text)


def write_config(path, args, attack):
    """Two honest tasks on their own synthetic cameras, and task `t2` run by the hostile
    worker (attack None: it never attacks)."""
    model = args.model
    w, h = args.frame.split("x")
    lines = ["node: hostile-bench", "scheduler: coedge", "isolation: sandbox",
             "models:", f"  - {{name: {model}, file: {ROOT}/build/models/{model}.onnx, backend: opencv}}",
             "sensors:"]
    for i in range(3):
        lines.append(f"  - {{name: cam{i}, kind: synthetic, width: {w}, height: {h}, "
                     f"phase: {int(args.period * i / 3)}ms}}")
    lines.append("tasks:")
    for i in range(2):
        lines.append(f"  - {{name: t{i}, model: {model}, sensor: cam{i}, period: {args.period}ms, "
                     f"deadline: {args.deadline}ms, priority: {3 - i}}}")
    env = (f"{{COEDGE_HOSTILE_ATTACK: {attack}, COEDGE_HOSTILE_AFTER: \"{args.after}\"}}" if attack
           else "{COEDGE_HOSTILE_AFTER: \"1000000000\"}")
    lines.append(f"  - {{name: t2, model: {model}, sensor: cam2, period: {args.period}ms, "
                 f"deadline: {args.deadline}ms, priority: 1, worker: {args.worker}, env: {env}, "
                 f"limits: {{cpus: {args.cpus}}}}}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def node_pids(run_dir):
    """Pids of the processes of a node run: its workers and their sandboxes (their command
    lines name the run's folder) and any inference server (`coedge node-server`; the
    benchmark runs one node at a time)."""
    out = set()
    for d in glob.glob("/proc/[0-9]*"):
        try:
            cmd = open(d + "/cmdline", "rb").read().replace(b"\0", b" ")
        except OSError:
            continue
        if run_dir.encode() in cmd or b" node-server " in cmd:
            out.add(int(d[6:]))
    return out


def cgroups():
    return {p for g in CGROUP_GLOBS for p in glob.glob(g, recursive=True)}


def run(args, tag, attack):
    out = args.out
    config = os.path.join(out, f"{tag}.yaml")
    write_config(config, args, attack)
    summary = os.path.join(out, f"{tag}.summary.json")
    jobs = os.path.join(out, f"{tag}.jobs.jsonl")
    for path in (summary, jobs):
        if os.path.exists(path):
            os.remove(path)
    run_dir = f"/var/tmp/coedge-hostile-{tag}"
    cmd = [os.path.join(ROOT, "build/bin/coedge"), "node", "--config", config, "--duration", args.duration,
           "--profiles", args.profiles, "--summary", summary, "--jobs", jobs, "--run-dir", run_dir]
    shm_before = set(os.listdir("/dev/shm"))
    pids_before = node_pids(run_dir)
    groups_before = cgroups()
    log = os.path.join(out, f"{tag}.log")
    t0 = time.time()
    with open(log, "w") as f:
        try:
            rc = subprocess.call(cmd, stderr=f, stdout=f, timeout=seconds(args.duration) + 120)
        except subprocess.TimeoutExpired:
            rc = "timeout"
    wall = time.time() - t0
    time.sleep(0.5)  # let the kernel reap what the node killed last
    row = {"tag": tag, "attack": attack or "baseline", "rc": rc, "wall_s": round(wall, 2), "problems": []}
    problems = row["problems"]
    if rc != 0:
        problems.append(f"exit {rc} (see {log})")
    if wall > seconds(args.duration) + args.grace:
        problems.append(f"ran {wall:.1f} s for a duration of {args.duration}")
    left = node_pids(run_dir) - pids_before
    if left:
        problems.append(f"processes left: {sorted(left)}")
    added = set(os.listdir("/dev/shm")) - shm_before
    if added:
        problems.append(f"files added to /dev/shm: {sorted(added)}")
    groups_left = cgroups() - groups_before
    if groups_left:
        problems.append(f"cgroups left: {sorted(groups_left)}")
    if not os.path.exists(summary):
        problems.append("no summary written")
        return row
    s = json.load(open(summary))
    health = s.get("health", {})
    fds = health.get("agent_fds", {})
    if fds.get("start") != fds.get("end"):
        problems.append(f"agent descriptors {fds.get('start')} at start, {fds.get('end')} at end")
    frames_held = health.get("frame_chunks_in_use", {}).get("end", 0)
    if frames_held:
        problems.append(f"{frames_held} frame chunks held at the end")
    row["health"] = health
    row["tasks"] = {}
    for t in s["tasks"]:
        accounted = t["released"] == t["met"] + t["overdue"] + t["dropped"]
        if not accounted:
            problems.append(f"task {t['task']}: released {t['released']} != met + overdue + dropped")
        row["tasks"][t["task"]] = {"released": t["released"], "miss_rate": t["miss_rate"], "dropped": t["dropped"]}
    causes = {}
    lines = 0
    if os.path.exists(jobs):
        for line in open(jobs):
            j = json.loads(line)
            if j.get("task") == "t2" and j.get("outcome") == "dropped":
                causes[j.get("reason")] = causes.get(j.get("reason"), 0) + 1
            lines += 1 if j.get("task") == "t2" else 0
    row["t2_drops_by_cause"] = causes
    if lines != row["tasks"].get("t2", {}).get("released", -1):
        problems.append(f"t2: {lines} job lines for {row['tasks'].get('t2', {}).get('released')} released")
    row["protocol_violations"] = health.get("protocol_violations")
    row["quarantined_tasks"] = health.get("quarantined_tasks")
    print(f"  {tag}: t0 {100 * row['tasks']['t0']['miss_rate']:.2f}%, t1 {100 * row['tasks']['t1']['miss_rate']:.2f}%,"
          f" t2 drops {causes}, {wall:.1f} s{'; ' + '; '.join(problems) if problems else ''}",
          file=sys.stderr, flush=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--duration", default="20s", help="each run's duration (default 20s)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each configuration (default 3; medians)")
    ap.add_argument("--attacks", default=",".join(ATTACKS), help="comma-separated, of " + ", ".join(ATTACKS))
    ap.add_argument("--model", default="yolov5s-160")
    ap.add_argument("--period", type=int, default=100, help="every task's period in ms (default 100)")
    ap.add_argument("--deadline", type=int, default=100, help="every task's deadline in ms (default 100)")
    ap.add_argument("--frame", default="640x480", help="the cameras' frame size (default 640x480)")
    ap.add_argument("--cpus", type=float, default=0.5, help="the third task's CPU limit (default 0.5)")
    ap.add_argument("--after", type=int, default=20, help="honest frames before an attack (default 20)")
    ap.add_argument("--grace", type=float, default=10, help="seconds a run may take beyond its duration "
                    "(start-up and shutdown; default 10)")
    ap.add_argument("--profiles", default=os.path.join(ROOT, "examples/profiles/generated-models-cpu.yaml"))
    ap.add_argument("--worker", default=os.path.join(ROOT, "build/bin/coedge-test-hostile-worker"))
    ap.add_argument("--out", default=os.path.join(ROOT, "results/hostile-bench"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("hostile_bench: needs root (the sandbox and the task cgroups)")
    for path in (args.worker, os.path.join(ROOT, "build/bin/coedge")):
        if not os.access(path, os.X_OK):
            sys.exit(f"hostile_bench: {path} is missing: build first (cmake --build build)")
    attacks = [a for a in args.attacks.split(",") if a]
    for a in attacks:
        if a not in ATTACKS:
            sys.exit(f"hostile_bench: --attacks: unknown attack {a!r} (one of {', '.join(ATTACKS)})")
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for r in range(1, args.repeat + 1):
        rows.append(run(args, f"baseline-{r}", None))
        for a in attacks:
            rows.append(run(args, f"{a}-{r}", a))

    def median(attack, task):
        values = [row["tasks"][task]["miss_rate"] for row in rows
                  if row["attack"] == attack and task in row.get("tasks", {})]
        return statistics.median(values) if values else None

    failed = [f"{row['tag']}: {p}" for row in rows for p in row["problems"]]
    table = ["| third worker | t0 miss (median) | t1 miss (median) | t2 drops by cause (all runs) | "
             "violations | quarantined | wall s (max) | problems |", "|---|---|---|---|---|---|---|---|"]
    base = {t: median("baseline", t) for t in ("t0", "t1")}
    for attack in ["baseline"] + attacks:
        mine = [row for row in rows if row["attack"] == attack]
        causes = {}
        for row in mine:
            for k, v in row.get("t2_drops_by_cause", {}).items():
                causes[k] = causes.get(k, 0) + v
        m = {t: median(attack, t) for t in ("t0", "t1")}
        if attack != "baseline":
            for t in ("t0", "t1"):
                if m[t] is None or base[t] is None or m[t] > base[t] + 0.02:
                    failed.append(f"{attack}: {t}'s median miss rate {m[t]} > baseline {base[t]} + 2 pp")
        fmt = lambda v: "n/a" if v is None else f"{100 * v:.2f}%"
        table.append(f"| {attack} | {fmt(m['t0'])} | {fmt(m['t1'])} | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(causes.items())) or 'none'} | "
                     f"{sum(row.get('protocol_violations') or 0 for row in mine)} | "
                     f"{sum(row.get('quarantined_tasks') or 0 for row in mine)} | "
                     f"{max(row['wall_s'] for row in mine):.1f} | "
                     f"{sum(len(row['problems']) for row in mine)} |")
    text = "\n".join(table)
    print(text)
    with open(os.path.join(args.out, "hostile-bench.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "hostile-bench.json"), "w") as f:
        json.dump({"args": vars(args), "runs": rows, "failed": failed}, f, indent=1)
    if failed:
        print("hostile_bench: criteria broken:\n  " + "\n  ".join(failed), file=sys.stderr)
        sys.exit(1)
    print("hostile_bench: every criterion holds", file=sys.stderr)


if __name__ == "__main__":
    main()
