#!/usr/bin/python3
"""A real Prometheus scrapes CoEdge: the Debian `prometheus` server, with a 1 s scrape
interval and deploy/prometheus/coedge-alerts.yml, scrapes

  - a `coedge node` of its own (--isolation none: no root), two tasks on one camera, and
  - a `coedge master` with one cluster node and its `coedge camera`, all on loopback
    (DDS over 127.0.0.1 with a unicast peer: no network namespace, no root).

Each run lingers (--metrics-linger) after writing its summary.json, so that a scrape takes
its final state. The test waits for a scrape of each target taken after its summary was
written, then queries Prometheus's HTTP API at that scrape's time and checks:

  - node, per task: released, met, overdue and dropped (summed over reasons) equal the
    summary's; dropped by reason equal `dropped_by_cause`; the latency histogram's count
    is met + overdue, its mean the summary's mean; the p95 from histogram_quantile lies in
    the bucket that holds the summary's exact p95; the rolling miss ratio is the summary's
    miss rate (the node's window, 60 s, is longer than its run); the ε and the model are
    the config's;
  - cluster node: the same counters against its own summary;
  - master, per task: released, met, overdue and dropped (lost included) equal its
    summary's, the plan version its `plan_versions`, and one node was up;
  - every alerting rule loaded and evaluated without error;
  - `promtool check metrics` passes on the three expositions and the nodes' metrics.prom,
    and the node's metrics.prom existed before its run ended (it is written during the
    run, not only at exit);
  - the metric names exported (but Prometheus's own `up`, `scrape_*` and `ALERTS*`) are exactly the
    ones docs/METRICS.md lists.

    prometheus_test.py SOURCE_DIR BUILD_DIR

Exit 0 pass, 1 fail (each problem on a line), 77 skip: only when prometheus or promtool
is not installed (`make setup` installs them, so CI runs it). Prints what it saw.
Standard library only (/usr/bin/python3)."""
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SKIP = 77
# The node's latency buckets (src/node/core/metrics.cc), to place a quantile estimate.
BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
WAIT_RUN_S = 300       # for every run to write its summary (the master waits up to 120 s for nodes)
WAIT_SCRAPE_S = 30     # for a scrape after a summary (1 s interval; the runs linger 180 s)

problems = []


def fail(text):
    problems.append(text)
    print("FAIL: " + text)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8")


class Prometheus:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def query(self, expr, at=None):
        """The instant vector of expr (at time `at`), as [(labels, value)]."""
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        body = json.loads(http_get(self.base + "/api/v1/query?" + urllib.parse.urlencode(params)))
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr}: {body}")
        data = body["data"]
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def one(self, expr, at):
        """The single value of expr at `at`, or NaN (with a failure) when not exactly one."""
        result = self.query(expr, at)
        if len(result) != 1:
            fail(f"query {expr}: expected one series, got {len(result)}: {result}")
            return math.nan
        return result[0][1]


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    fail(f"timed out after {timeout} s waiting for {what}")
    return None


def final_scrape(prom, instance, summary_path):
    """The time of the first scrape of `instance` taken over a second after summary_path was
    written. The margin: a file's mtime comes from the kernel's coarse clock (a tick behind),
    and the program updates its metrics just before it writes the summary; a scrape that
    began in between would read the last state but one."""
    written = os.path.getmtime(summary_path) + 1.0

    def after():
        try:
            r = prom.query(f'timestamp(up{{instance="{instance}"}} == 1)')
        except (OSError, RuntimeError):
            return None
        return r[0][1] if r and r[0][1] > written else None

    return wait_for(f"a scrape of {instance} after {summary_path} was written", after, WAIT_SCRAPE_S)


def equal(what, got, want, tolerance=0.0):
    ok = not math.isnan(got) and abs(got - want) <= tolerance
    print(f"  {what}: prometheus {got:g}, summary {want:g} {'ok' if ok else 'MISMATCH'}")
    if not ok:
        fail(f"{what}: Prometheus says {got}, the summary {want}")


def check_counters(prom, instance, at, summary, label):
    print(f"{label} ({instance}):")
    sel = f'instance="{instance}"'
    for t in summary["tasks"]:
        task = t["task"]
        ts = f'{sel},task="{task}"'
        equal(f"{task} released", prom.one(f"sum(coedge_jobs_released_total{{{ts}}})", at), t["released"])
        for outcome in ("met", "overdue", "dropped"):
            equal(f"{task} {outcome}",
                  prom.one(f'sum(coedge_jobs_finished_total{{{ts},outcome="{outcome}"}}) or vector(0)', at),
                  t[outcome])
    by_reason = {m.get("reason", "?"): v for m, v in prom.query(
        f'sum by (reason) (coedge_jobs_finished_total{{{sel},outcome="dropped"}}) > 0', at)}
    want = {k: float(v) for k, v in summary.get("dropped_by_cause", {}).items()}
    print(f"  dropped by reason: prometheus {by_reason}, summary {want}")
    if by_reason != want:
        fail(f"{label}: dropped by reason {by_reason}, summary dropped_by_cause {want}")


def check_latency(prom, instance, at, summary):
    for t in summary["tasks"]:
        task = t["task"]
        ts = f'instance="{instance}",task="{task}"'
        finished = t["met"] + t["overdue"]
        equal(f"{task} latency count", prom.one(f"coedge_job_latency_seconds_count{{{ts}}}", at), finished)
        if finished == 0:
            print(f"  {task}: no met or overdue job; no latency to compare")
            continue
        mean = prom.one(f"coedge_job_latency_seconds_sum{{{ts}}} / coedge_job_latency_seconds_count{{{ts}}}", at)
        equal(f"{task} mean latency (s)", mean, t["latency_ms"]["mean"] / 1000, 1e-6)
        p95 = prom.one(f"histogram_quantile(0.95, sum by (le) (coedge_job_latency_seconds_bucket{{{ts}}}))", at)
        exact = t["latency_ms"]["p95"] / 1000
        hi = next((b for b in BUCKETS if b >= p95 - 1e-12), math.inf)
        lo = max([b for b in BUCKETS if b < hi] or [0.0])
        ok = lo - 1e-9 <= exact <= hi + 1e-9
        print(f"  {task} p95 latency: histogram_quantile {p95:.4f} s in bucket ({lo}, {hi}], "
              f"summary {exact:.4f} s {'ok' if ok else 'MISMATCH'}")
        if not ok:
            fail(f"{task}: histogram_quantile p95 {p95} is in bucket ({lo}, {hi}], the exact p95 {exact} is not")


def check_exposition(name, text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    ok = r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip()
    print(f"promtool check metrics {name}: {'ok' if ok else 'FAILED'} ({len(text.splitlines())} lines)")
    if not ok:
        fail(f"promtool check metrics {name}: exit {r.returncode}: {r.stdout}{r.stderr}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    source, build = (os.path.abspath(a) for a in sys.argv[1:])
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is not installed (make setup installs Debian's prometheus)")
            return SKIP
    sys.path.insert(0, os.path.join(source, "tests", "tools"))
    import metrics_doc  # noqa: E402

    coedge = os.path.join(build, "bin", "coedge")
    models = os.path.join(build, "models")
    profiles = os.path.join(source, "examples", "profiles", "generated-models-cpu.yaml")
    tmp = tempfile.mkdtemp(prefix="coedge-prometheus-test-")
    prom_port, node_port, master_port, cnode_port, probe_port = (free_port() for _ in range(5))
    domain = str(180 + os.getpid() % 50)
    node_i, master_i, cnode_i = (f"127.0.0.1:{p}" for p in (node_port, master_port, cnode_port))
    procs = {}

    def start(name, argv):
        log = open(os.path.join(tmp, name + ".log"), "w")
        procs[name] = (subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=tmp), log)

    try:
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{os.path.join(source, "deploy", "prometheus", "coedge-alerts.yml")}]
scrape_configs:
  - job_name: coedge-node
    static_configs: [{{targets: ['{node_i}', '{cnode_i}']}}]
  - job_name: coedge-master
    static_configs: [{{targets: ['{master_i}']}}]
""")
        start("prometheus", ["prometheus", "--config.file=" + os.path.join(tmp, "prometheus.yml"),
                             "--storage.tsdb.path=" + os.path.join(tmp, "data"),
                             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"])
        prom = Prometheus(prom_port)

        def ready():
            try:
                return http_get(prom.base + "/-/ready") is not None
            except OSError:
                return False

        if not wait_for("prometheus to be ready", ready, 60):
            return 1

        # A node of its own: two tasks on one camera, a window longer than the run.
        with open(os.path.join(tmp, "node.yaml"), "w") as f:
            f.write(f"""node: promnode
isolation: none
scheduler: coedge
window: 60s
duration: 8s
run_dir: {tmp}/run
profiles: {profiles}
models:
  - {{name: resnet18-360, file: {models}/resnet18-360.onnx}}
sensors:
  - {{name: cam0, kind: synthetic, width: 640, height: 360}}
tasks:
  - {{name: cls0, model: resnet18-360, sensor: cam0, period: 200ms, deadline: 150ms, epsilon: 0.2}}
  - {{name: cls1, model: resnet18-360, sensor: cam0, period: 400ms, epsilon: 0.05}}
""")
        start("node", [coedge, "node", "--config", "node.yaml", "--metrics-port", str(node_port),
                       "--metrics-linger", "180s"])
        # A master, one cluster node and its camera, on loopback.
        with open(os.path.join(tmp, "cluster.yaml"), "w") as f:
            f.write(f"""name: promcluster
profiles: {profiles}
run: {{duration: 8s, window: 2s, seed: 1}}
nodes:
  - {{name: n1, cpu_cores: 2}}
tasks:
  - {{name: cls, source: n1, model: resnet18-360, period: 400ms, priority: 1}}
""")
        dds = ["--domain", domain, "--dds-interface", "127.0.0.1", "--dds-peer", "127.0.0.1"]
        start("master", [coedge, "master", "--scenario", "cluster.yaml", "--duration", "8s", "--window", "2s",
                         "--wait-for-nodes", "120s", "--out", os.path.join(tmp, "master"),
                         "--metrics-port", str(master_port), "--metrics-linger", "180s"] + dds)
        start("cnode", [coedge, "node", "--scenario", "cluster.yaml", "--name", "n1", "--models-dir", models,
                        "--run-dir", os.path.join(tmp, "n1"), "--isolation", "none",
                        "--probe-port", str(probe_port), "--metrics-port", str(cnode_port),
                        "--metrics-linger", "180s"] + dds)
        start("camera", [coedge, "camera", "--scenario", "cluster.yaml", "--node", "n1"] + dds)

        summaries = {"node": os.path.join(tmp, "run", "summary.json"),
                     "cnode": os.path.join(tmp, "n1", "summary.json"),
                     "master": os.path.join(tmp, "master", "summary.json")}
        prom_file = os.path.join(tmp, "run", "metrics.prom")
        prom_file_during_run = False
        deadline = time.monotonic() + WAIT_RUN_S
        while time.monotonic() < deadline and not all(os.path.exists(p) for p in summaries.values()):
            if not os.path.exists(summaries["node"]) and os.path.exists(prom_file):
                prom_file_during_run = True
            for name, (p, _) in procs.items():
                # A run that ends lingers (180 s, ended by our SIGTERM): an exit now is a failure,
                # but the camera's, which stops when the master says so.
                if p.poll() is not None and not (name == "camera" and p.returncode == 0):
                    fail(f"{name} exited early with {p.returncode}")
            if problems:
                return 1
            time.sleep(0.2)
        missing = [p for p in summaries.values() if not os.path.exists(p)]
        if missing:
            fail(f"no summary after {WAIT_RUN_S} s: {missing}")
            return 1
        time.sleep(0.5)  # the files are written whole before the linger starts; be sure
        print(f"metrics.prom written during the node's run: {prom_file_during_run}")
        if not prom_file_during_run:
            fail("the node's metrics.prom did not exist before its run ended")

        loaded = {k: json.load(open(p)) for k, p in summaries.items()}
        at = {k: final_scrape(prom, i, summaries[k]) for k, i in
              (("node", node_i), ("cnode", cnode_i), ("master", master_i))}
        if None in at.values():
            return 1

        # The node of its own.
        node = loaded["node"]
        check_counters(prom, node_i, at["node"], node, "node promnode")
        check_latency(prom, node_i, at["node"], node)
        epsilon = {"cls0": 0.2, "cls1": 0.05}
        for t in node["tasks"]:
            sel = f'instance="{node_i}",task="{t["task"]}"'
            equal(f'{t["task"]} rolling miss ratio', prom.one(f"coedge_task_miss_ratio{{{sel}}}", at["node"]),
                  t["miss_rate"], 1e-9)
            equal(f'{t["task"]} miss ratio target', prom.one(f"coedge_task_miss_ratio_target{{{sel}}}", at["node"]),
                  epsilon[t["task"]], 1e-12)
            info = prom.query(f"coedge_task_info{{{sel}}}", at["node"])
            if [m.get("model") for m, _ in info] != [t["model"]]:
                fail(f'coedge_task_info of {t["task"]}: {info}, want model {t["model"]}')
        # The cluster node.
        check_counters(prom, cnode_i, at["cnode"], loaded["cnode"], "cluster node n1")
        # The master.
        master = loaded["master"]
        print(f"master ({master_i}):")
        for t in master["tasks"]:
            sel = f'instance="{master_i}",task="{t["task"]}"'
            equal(f'{t["task"]} released', prom.one(f"coedge_cluster_jobs_released_total{{{sel}}}", at["master"]),
                  t["released"])
            for outcome in ("met", "overdue", "dropped"):
                equal(f'{t["task"]} {outcome}',
                      prom.one(f'coedge_cluster_jobs_finished_total{{{sel},outcome="{outcome}"}}', at["master"]),
                      t[outcome])
        equal("plan version", prom.one(f'coedge_master_plan_version{{instance="{master_i}"}}', at["master"]),
              master["plan_versions"])
        equal("plans published", prom.one(f'coedge_master_plans_published_total{{instance="{master_i}"}}',
                                          at["master"]), master["plan_versions"])
        equal("most nodes up during the run",
              prom.one(f'max_over_time(coedge_master_nodes_up{{instance="{master_i}"}}[5m])', at["master"]), 1)
        equal("phase done", prom.one(f'coedge_master_phase{{instance="{master_i}",phase="done"}}', at["master"]), 1)

        # The alerting rules: loaded, and evaluated without error.
        rules = json.loads(http_get(prom.base + "/api/v1/rules"))["data"]["groups"]
        evaluated = [(r["name"], r.get("health"), r.get("lastError", "")) for g in rules for r in g["rules"]]
        print(f"alert rules: {[(n, h) for n, h, _ in evaluated]}")
        if len(evaluated) < 5 or any(h != "ok" for _, h, _ in evaluated):
            fail(f"alert rules not all loaded and healthy: {evaluated}")

        # promtool on every exposition and file, while the runs linger.
        for name, instance in (("node", node_i), ("cluster node", cnode_i), ("master", master_i)):
            check_exposition(f"{name} /metrics", http_get(f"http://{instance}/metrics"))
        for path in (prom_file, os.path.join(tmp, "n1", "metrics.prom")):
            check_exposition(os.path.relpath(path, tmp), open(path).read())

        # The names exported are the documented ones, no more and no fewer.
        documented = metrics_doc.metrics(os.path.join(source, "docs", "METRICS.md"))
        samples = metrics_doc.sample_names(documented)
        exported = set()
        # The cluster node too: coedge_node_rejected_samples_total is a cluster node's (its
        # feed declares the series of the control topics it reads, at zero).
        for k, instance in (("node", node_i), ("cnode", cnode_i), ("master", master_i)):
            exported |= {m["__name__"] for m, _ in prom.query(
                f'group by (__name__) ({{instance="{instance}",__name__!~"up|scrape_.+|ALERTS.*"}})', at[k])}
        undocumented = sorted(exported - set(samples))
        # Exported only by a node with a stream sensor (docs/METRICS.md, "Sensors"); this
        # node's camera is synthetic. stream_node_test checks them.
        stream_only = {"coedge_sensor_stalls_total", "coedge_sensor_reconnects_total", "coedge_sensor_connected"}
        # Exported only by a node with a topic sensor (NODE_CONFIG.md, "Topic sensors");
        # topic_node_test checks them.
        topic_only = {"coedge_sensor_frames_rejected_total", "coedge_task_frames_skipped_total"}
        unexported = sorted(set(samples) - exported - stream_only - topic_only)
        print(f"metric names: {len(exported)} exported series names, {len(documented)} documented metrics")
        if undocumented:
            fail(f"exported but not in docs/METRICS.md: {undocumented}")
        if unexported:
            fail(f"in docs/METRICS.md but exported by neither the nodes nor the master: {unexported}")
    finally:
        for name, (p, log) in procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, (p, log) in procs.items():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()
        if problems:
            for name in procs:
                path = os.path.join(tmp, name + ".log")
                print(f"---- {name}.log (last 30 lines)")
                print("".join(open(path).readlines()[-30:]))
        shutil.rmtree(tmp, ignore_errors=True)
    print("FAILED" if problems else "PASSED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
