#!/usr/bin/python3
"""Benchmarks of the node runtime (issue 4), run on this machine with the generated models.

  batching    paper §6.5: 3 and 6 concurrent YOLO-160 and ResNet18 tasks, deadline = 4x the
              profiled single inference; schedulers coedge, edf and fixed, side by side
  overhead    paper Fig. 13: end-to-end time of the sandbox mode minus the none mode (the
              Mono Container), 1 and 3 tasks of YOLO-640 and ResNet18
  throughput  the server saturated (long deadlines, batch 10) against the raw backend at
              batch 10 (`coedge profile`, measured in the same run), in images per second

Each prints a Markdown table and writes it, with every run's summary, under --out.
Needs root (the sandbox). Example (docs/PERFORMANCE.md):
  sudo bench/node_bench.py batching --duration 60s
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_profiles(path):
    """{model: [ExeTime(1) ms, ..., ExeTime(10) ms]} from a profile-set file."""
    models, name = {}, None
    for line in open(path):
        m = re.match(r"\s*-\s*name:\s*(\S+)", line)
        if m:
            name = m.group(1)
        m = re.match(r"\s*exe_ms:\s*\[([^\]]*)\]", line)
        if m and name:
            models[name] = [float(x) for x in m.group(1).split(",")]
    return models


def write_config(path, name, model, tasks, period_ms, deadline_ms, isolation, scheduler,
                 frame, shared_camera=False, stagger=True):
    """A node config: `tasks` tasks of `model`, each with its own synthetic camera (phases
    staggered over the period) unless shared_camera."""
    lines = [f"node: {name}", f"scheduler: {scheduler}", f"isolation: {isolation}",
             "models:", f"  - {{name: {model}, file: {ROOT}/build/models/{model}.onnx}}",
             "sensors:"]
    cams = 1 if shared_camera else tasks
    for i in range(cams):
        phase = int(period_ms * i / cams) if stagger else 0
        lines.append(f"  - {{name: cam{i}, kind: synthetic, width: {frame[0]}, "
                     f"height: {frame[1]}, phase: {phase}ms}}")
    lines.append("tasks:")
    for i in range(tasks):
        cam = 0 if shared_camera else i
        # fixed priority: the paper's baseline assigns distinct, static priorities
        lines.append(f"  - {{name: t{i}, model: {model}, sensor: cam{cam}, period: {period_ms}ms, "
                     f"deadline: {deadline_ms}ms, priority: {tasks - i}}}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_node(config, out_dir, tag, duration, profiles, extra=()):
    summary = os.path.join(out_dir, f"{tag}.summary.json")
    jobs = os.path.join(out_dir, f"{tag}.jobs.jsonl")
    cmd = [os.path.join(ROOT, "build/bin/coedge"), "node", "--config", config, "--duration",
           duration, "--profiles", profiles, "--summary", summary, "--jobs", jobs,
           "--run-dir", f"/var/tmp/coedge-bench-{tag}", *extra]
    log = os.path.join(out_dir, f"{tag}.log")
    t0 = time.time()
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stderr=f, stdout=f)
    if rc != 0:
        sys.exit(f"node_bench: {tag} failed (exit {rc}); see {log}")
    s = json.load(open(summary))
    print(f"  {tag}: {100 * s['totals']['miss_rate']:.2f}% missed of {s['totals']['released']} "
          f"({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    return s, jobs


def read_jobs(path):
    return [json.loads(line) for line in open(path)]


def batching(args):
    profiles = read_profiles(args.profiles)
    rows = []
    for model, tasks, period in [("yolov5s-160", 3, 68), ("yolov5s-160", 6, 120),
                                 ("resnet18-360", 3, 200), ("resnet18-360", 6, 400)]:
        single = profiles[model][0]
        deadline = round(4 * single)
        row = {"model": model, "tasks": tasks, "period": period, "deadline": deadline}
        for scheduler in ["coedge", "edf", "fixed"]:
            tag = f"batching-{model}-{tasks}-{scheduler}"
            config = os.path.join(args.out, tag + ".yaml")
            write_config(config, tag, model, tasks, period, deadline, args.isolation, scheduler,
                         (640, 360))
            s, _ = run_node(config, args.out, tag, args.duration, args.profiles)
            row[scheduler] = s["totals"]["miss_rate"]
            row[scheduler + "_batch"] = statistics.mean(t["mean_batch"] for t in s["tasks"])
            row[scheduler + "_released"] = s["totals"]["released"]
        rows.append(row)
    out = ["| model | tasks | period | deadline (4× batch-1) | coedge miss | edf miss | fixed miss "
           "| edf ÷ coedge | fixed ÷ coedge | coedge mean batch | jobs per run |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = lambda s: ("∞" if r["coedge"] == 0 and r[s] > 0 else
                           "—" if r["coedge"] == 0 else f"{r[s] / r['coedge']:.1f}×")
        out.append(f"| {r['model']} | {r['tasks']} | {r['period']} ms | {r['deadline']} ms "
                   f"| {100 * r['coedge']:.2f}% | {100 * r['edf']:.2f}% | {100 * r['fixed']:.2f}% "
                   f"| {ratio('edf')} | {ratio('fixed')} | {r['coedge_batch']:.2f} "
                   f"| {r['coedge_released']} |")
    return "\n".join(out)


def stage_gaps(job):
    """Time a job spent between stages (handed from one process or thread to the next),
    excluding the work itself: release->pre, pre->inference start (includes waiting for the
    accelerator), inference end->post, and e2e."""
    g = lambda a, b: (job[b] - job[a]) * 1000
    return {"e2e": job["latency_ms"], "to_pre": g("release_s", "pre_start_s"),
            "to_infer": g("pre_end_s", "infer_start_s"), "to_post": g("infer_end_s", "post_start_s"),
            "work": g("pre_start_s", "pre_end_s") + g("infer_start_s", "infer_end_s")
                    + g("post_start_s", "post_end_s")}


def overhead(args):
    profiles = read_profiles(args.profiles)
    out = ["| model | tasks | mode | jobs | mean e2e ms (± s.e.) | mean hand-off ms | of which release→pre | inference→post |",
           "|---|---|---|---|---|---|---|---|"]
    summary = ["| model | tasks | e2e: sandbox − none | hand-off: sandbox − none |", "|---|---|---|---|"]
    for model, frame in [("yolov5s-640", (640, 640)), ("resnet18-360", (640, 360))]:
        for tasks in [1, 3]:
            single = profiles[model][0]
            # Light load, cameras out of step: every job runs alone, so the difference
            # between the modes is the cost of isolation, not of scheduling luck.
            period = round(3 * tasks * single)
            stats = {}
            for mode in ["none", "sandbox"]:
                tag = f"overhead-{model}-{tasks}-{mode}"
                config = os.path.join(args.out, tag + ".yaml")
                write_config(config, tag, model, tasks, period, period, mode, "coedge", frame)
                _, jobs_path = run_node(config, args.out, tag, args.duration, args.profiles)
                done = [j for j in read_jobs(jobs_path) if j["outcome"] in ("met", "overdue")]
                gaps = [stage_gaps(j) for j in done]
                e2e = [g["e2e"] for g in gaps]
                hand = [g["e2e"] - g["work"] for g in gaps]
                se = statistics.stdev(e2e) / len(e2e) ** 0.5 if len(e2e) > 1 else 0
                stats[mode] = (statistics.mean(e2e), statistics.mean(hand))
                out.append(f"| {model} | {tasks} | {mode} | {len(done)} | {statistics.mean(e2e):.2f} ± {se:.2f} "
                           f"| {statistics.mean(hand):.3f} | {statistics.mean(g['to_pre'] for g in gaps):.3f} "
                           f"| {statistics.mean(g['to_post'] for g in gaps):.3f} |")
            summary.append(f"| {model} | {tasks} | {stats['sandbox'][0] - stats['none'][0]:+.2f} ms "
                           f"| {stats['sandbox'][1] - stats['none'][1]:+.3f} ms |")
    return "\n".join(summary) + "\n\n" + "\n".join(out)


def throughput(args):
    out = ["| model | batches run (mean size) | raw backend, same batches | server (img/s) | ratio | server busy in forward passes |",
           "|---|---|---|---|---|---|"]
    for model, frame in [("yolov5s-160", (160, 160)), ("resnet18-360", (360, 360))]:
        # Raw: the backend alone, every batch size, measured now (same machine, same minutes).
        raw_file = os.path.join(args.out, f"raw-{model}.yaml")
        subprocess.check_call([os.path.join(ROOT, "build/bin/coedge"), "profile",
                               f"{ROOT}/build/models/{model}.onnx", "--runs", "10", "--warmup", "2",
                               "-o", raw_file],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        raw_ms = read_profiles(raw_file)[model]
        # Saturated: ten tasks on one camera release ten jobs at once, a little faster than
        # a batch of ten runs, with deadlines of 20 batches; pre-processing kept small
        # (frames at the model's input size).
        exe10 = read_profiles(args.profiles)[model][9]
        tasks, period = 10, max(1, round(0.9 * exe10))
        tag = f"throughput-{model}"
        config = os.path.join(args.out, tag + ".yaml")
        write_config(config, tag, model, tasks, period, round(20 * exe10), args.isolation, "coedge",
                     frame, shared_camera=True)
        s, jobs_path = run_node(config, args.out, tag, args.duration, args.profiles)
        done = [j for j in read_jobs(jobs_path) if j["outcome"] in ("met", "overdue")]
        # The batches the server ran (a batch's jobs share its start), and what the raw
        # backend needs for exactly those batches.
        batches = {}
        for j in done:
            batches.setdefault(j["infer_start_s"], (j["infer_end_s"], j["batch"]))
        span = max(e for e, _ in batches.values()) - min(batches)
        raw_time = sum(raw_ms[b - 1] / 1000 for _, b in batches.values())
        forward = sum(e - st for st, (e, _) in batches.items())
        images = sum(b for _, b in batches.values())
        served = images / span
        raw_rate = images / raw_time
        out.append(f"| {model} | {len(batches)} ({images / len(batches):.2f}) | {raw_rate:.1f} img/s "
                   f"| {served:.1f} | {100 * served / raw_rate:.1f}% | {100 * forward / span:.1f}% |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", choices=["batching", "overhead", "throughput", "all"])
    p.add_argument("--duration", default="60s", help="each run (default 60s)")
    p.add_argument("--isolation", default="sandbox", help="batching/throughput runs (default sandbox)")
    p.add_argument("--profiles", default=os.path.join(ROOT, "examples/profiles/generated-models-cpu.yaml"))
    p.add_argument("--out", default=os.path.join(ROOT, "results/node-bench"))
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("node_bench: needs root (the node's sandbox and private /dev/shm)")
    os.makedirs(args.out, exist_ok=True)
    for name, fn in [("batching", batching), ("overhead", overhead), ("throughput", throughput)]:
        if args.bench in (name, "all"):
            print(f"{name}: running ...", file=sys.stderr, flush=True)
            table = fn(args)
            with open(os.path.join(args.out, f"{name}.md"), "w") as f:
                f.write(table + "\n")
            print(f"\n## {name}\n\n{table}\n", flush=True)


if __name__ == "__main__":
    main()
