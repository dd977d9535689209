#!/usr/bin/python3
"""Run a command and report its peak memory and wall time.

Usage: tools/measure_run.py [--interval S] [--json FILE] -- COMMAND [ARG...]

Memory is sampled every --interval seconds (default 1) as the summed resident set of
every process descended from COMMAND, plus what the shared-memory tmpfs mounts hold.
A process's resident set is counted without its shared-memory pages (VmRSS - RssShmem):
those are counted once, as the used space of each /dev/shm the processes see (a node's
private one included: /proc/PID/root/dev/shm, one per mount), less what the host's held
at the start. Summing RSS still counts a library page or file page mapped by two
processes twice, so the figure is an upper bound of what the run needs, which is the
point when a device has a fixed budget. Descendants are found through
/proc/PID/task/*/children, so processes that moved into network namespaces or cgroups are
still counted; a daemonised grandchild that re-parents to init is not.

The same peak is also given by proportional set size (PSS less its shared-memory part,
plus the tmpfs usage): a page shared by n processes counts 1/n in each, so that sum is
what the processes really hold together.

Prints a summary to stderr and, with --json, writes
{"peak_bytes", "peak_rss_bytes", "peak_shm_bytes", "peak_at_s", "peak_pss_bytes",
 "wall_s", "exit_code", "samples", "top"}. Exits with COMMAND's exit code.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time


def children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids.extend(int(k) for k in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return kids


def tree(root):
    seen, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children(pid))
    return seen


def kib_fields(path, names):
    """The named "Name:  N kB" fields of a /proc file, in bytes (0 when absent or gone)."""
    found = dict.fromkeys(names, 0)
    try:
        with open(path) as f:
            for line in f:
                name = line.split(":", 1)[0]
                if name in found:
                    found[name] = int(line.split()[1]) * 1024
    except OSError:
        pass  # a kernel thread, or a process that just ended
    return found


def rss_bytes(pid):
    """VmRSS less RssShmem (shared memory is counted once, by shm_bytes)."""
    f = kib_fields(f"/proc/{pid}/status", ("VmRSS", "RssShmem"))
    return max(0, f["VmRSS"] - f["RssShmem"])


def pss_bytes(pid):
    """Proportional set size less its shared-memory part: a page shared by n processes
    counts 1/n in each, so the sum over processes is what they hold together."""
    f = kib_fields(f"/proc/{pid}/smaps_rollup", ("Pss", "Pss_Shmem"))
    return max(0, f["Pss"] - f["Pss_Shmem"])


def used_bytes(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def shm_bytes(pids, host_dev, host_base):
    """The used space of every distinct /dev/shm mount the processes see."""
    seen, total = set(), 0
    for pid in pids:
        path = f"/proc/{pid}/root/dev/shm"
        try:
            dev = os.stat(path).st_dev
            if dev in seen:
                continue
            seen.add(dev)
            used = used_bytes(path)
        except OSError:
            continue
        total += max(0, used - host_base) if dev == host_dev else used
    return total


def command_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return "?"
    if not argv:
        return "?"
    # "coedge node-server", "coedge-worker --role pre": the program and what it is. A
    # sandboxed worker runs under bwrap: name the program bwrap starts.
    if os.path.basename(argv[0]) == "bwrap" and "--" in argv[:-1]:
        argv = argv[argv.index("--") + 1:]
    words = [os.path.basename(argv[0])]
    if len(argv) > 1 and not argv[1].startswith("-"):
        words.append(argv[1])
    if "--role" in argv[:-1]:
        words += ["--role", argv[argv.index("--role") + 1]]
    return " ".join(words)


def largest(by_pid, n):
    """The n kinds of process (program, subcommand, worker role) holding the most RSS."""
    groups = {}
    for pid, rss in by_pid.items():
        key = command_of(pid)
        count, total = groups.get(key, (0, 0))
        groups[key] = (count + 1, total + rss)
    ranked = sorted(groups.items(), key=lambda kv: -kv[1][1])[:n]
    return [{"command": k, "processes": c, "rss_bytes": b} for k, (c, b) in ranked]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--top", type=int, default=0, metavar="N",
                        help="also list the N largest processes at the peak, by command")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given: measure_run.py -- COMMAND [ARG...]")
    if args.interval <= 0:
        parser.error(f"--interval must be positive, got {args.interval}")

    host_dev = os.stat("/dev/shm").st_dev
    host_base = used_bytes("/dev/shm")
    start = time.monotonic()
    proc = subprocess.Popen(command)
    # The child gets Ctrl-C from the terminal itself; we only wait for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    peak = {"peak_bytes": 0, "peak_rss_bytes": 0, "peak_shm_bytes": 0, "peak_at_s": 0.0}
    samples = 0
    peak_pss = 0
    while proc.poll() is None:
        pids = tree(proc.pid)
        by_pid = {p: rss_bytes(p) for p in pids}
        rss = sum(by_pid.values())
        shm = shm_bytes(pids, host_dev, host_base)
        pss = sum(pss_bytes(p) for p in pids)
        samples += 1
        peak_pss = max(peak_pss, pss + shm)
        if rss + shm > peak["peak_bytes"]:
            peak.update(peak_bytes=rss + shm, peak_rss_bytes=rss, peak_shm_bytes=shm,
                        peak_at_s=round(time.monotonic() - start, 1))
            if args.top > 0:
                peak["top"] = largest(by_pid, args.top)
        time.sleep(args.interval)
    wall = time.monotonic() - start
    result = dict(peak, peak_pss_bytes=peak_pss, wall_s=round(wall, 1), exit_code=proc.returncode, samples=samples)
    gib = 1024 ** 3
    print(f"measure_run: peak {peak['peak_bytes'] / gib:.2f} GiB (RSS {peak['peak_rss_bytes'] / gib:.2f} + "
          f"shm {peak['peak_shm_bytes'] / gib:.2f}) at {peak['peak_at_s']:.0f} s; by PSS {peak_pss / gib:.2f} GiB; wall {wall:.0f} s; "
          f"exit {proc.returncode}; {samples} samples", file=sys.stderr)
    for row in peak.get("top", []):
        print(f"  {row['rss_bytes'] / 1024 ** 2:8.0f} MiB  {row['processes']:3d} x {row['command']}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode


if __name__ == "__main__":
    sys.exit(main())
