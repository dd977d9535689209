#!/usr/bin/python3
"""The Grafana dashboard and the alerting rules of deploy/prometheus/ name only metrics
that exist: every `coedge_...` name in a dashboard query or a rule expression is a
metric of docs/METRICS.md (or one of a histogram's _bucket/_sum/_count series), and the
dashboard has the panels the docs promise (per-task miss ratio, latency quantiles,
batch sizes, queue lengths, node liveliness, plan changes).

    deploy_dashboard_test.py SOURCE_DIR

The dashboard must be valid JSON with panels, each with at least one query. With promtool
on PATH (Debian prometheus), every dashboard query is also parsed as PromQL, through
`promtool check rules` on a generated rules file (Grafana's $__rate_interval as 1m).
No Grafana runs here. Before the real check, the checker is shown to catch an unknown
metric in a copy of the dashboard, so a checker that passes everything fails the test.
Exit 0 ok, 1 problems (one line each). Standard library only (/usr/bin/python3)."""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metrics_doc  # noqa: E402

NAME = re.compile(r"\b(coedge_[a-z0-9_]+)\b")
# Panels the docs promise, each as a metric some query of the dashboard must name.
REQUIRED = {
    "per-task miss ratio": "coedge_task_miss_ratio",
    "latency quantiles": "coedge_job_latency_seconds_bucket",
    "batch sizes": "coedge_batch_size_jobs_bucket",
    "queue lengths": "coedge_queue_jobs",
    "node liveliness": "coedge_master_node_up",
    "plan changes": "coedge_master_plan_version",
}


def queries(dashboard):
    """(panel title, expr) of every query; problems for a malformed dashboard."""
    out, problems = [], []
    panels = dashboard.get("panels") if isinstance(dashboard, dict) else None
    if not isinstance(panels, list) or not panels:
        return out, ["the dashboard has no panels"]
    for i, panel in enumerate(panels):
        title = panel.get("title", f"panel {i}") if isinstance(panel, dict) else f"panel {i}"
        targets = panel.get("targets") if isinstance(panel, dict) else None
        if not isinstance(targets, list) or not targets:
            problems.append(f"panel '{title}': no queries")
            continue
        for t in targets:
            expr = t.get("expr") if isinstance(t, dict) else None
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"panel '{title}': a query without an expr")
            else:
                out.append((title, expr))
    return out, problems


def check_names(where_exprs, known):
    problems = []
    for where, expr in where_exprs:
        for name in NAME.findall(expr):
            if name not in known:
                problems.append(f"{where}: '{name}' is not a metric of docs/METRICS.md (in: {expr})")
    return problems


def check_dashboard(dashboard, known):
    exprs, problems = queries(dashboard)
    problems += check_names([(f"dashboard panel '{t}'", e) for t, e in exprs], known)
    named = {n for _, e in exprs for n in NAME.findall(e)}
    for what, metric in REQUIRED.items():
        if metric not in named:
            problems.append(f"dashboard: no {what} panel (no query names {metric})")
    if not any("histogram_quantile" in e and "coedge_job_latency_seconds_bucket" in e for _, e in exprs):
        problems.append("dashboard: no latency quantile (histogram_quantile over coedge_job_latency_seconds_bucket)")
    return problems, exprs


def rule_exprs(path):
    """The `expr:` of every rule (a one-line YAML scalar each, as the file writes them)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"^\s*expr:\s*(.+?)\s*$", line)
            if m:
                out.append((f"{os.path.basename(path)}:{n}", m.group(1)))
    return out


def promql_problems(exprs):
    promtool = shutil.which("promtool")
    if promtool is None:
        print("deploy_dashboard_test: promtool not installed; PromQL syntax not checked")
        return []
    with tempfile.TemporaryDirectory() as tmp:
        rules = os.path.join(tmp, "dashboard-rules.yml")
        with open(rules, "w", encoding="utf-8") as f:
            f.write("groups:\n  - name: dashboard\n    rules:\n")
            for i, (_, expr) in enumerate(exprs):
                f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(expr.replace('$__rate_interval', '1m'))}\n")
        r = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True)
        if r.returncode != 0:
            return ["dashboard: a query is not valid PromQL: " + (r.stdout + r.stderr).strip()]
    return []


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    documented = metrics_doc.metrics(os.path.join(root, "docs", "METRICS.md"))
    if len(documented) < 10:
        print(f"docs/METRICS.md: only {len(documented)} metrics found in its tables; expected the full lists")
        return 1
    known = set(metrics_doc.sample_names(documented))
    path = os.path.join(root, "deploy", "prometheus", "grafana-dashboard.json")
    try:
        with open(path, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"{path}: not valid JSON: {e}")
        return 1

    # The checker catches a bad name (else it would pass anything).
    broken = copy.deepcopy(dashboard)
    broken["panels"][0]["targets"][0]["expr"] = "coedge_no_such_metric"
    if not any("coedge_no_such_metric" in p for p in check_dashboard(broken, known)[0]):
        print("deploy_dashboard_test: the checker missed an unknown metric in a broken copy")
        return 1

    problems, exprs = check_dashboard(dashboard, known)
    problems += check_names(rule_exprs(os.path.join(root, "deploy", "prometheus", "coedge-alerts.yml")), known)
    problems += promql_problems(exprs)
    for p in problems:
        print(p)
    if not problems:
        print(f"deploy_dashboard_test: {len(exprs)} dashboard queries, alert rules: every metric "
              f"named is one of the {len(documented)} in docs/METRICS.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
