"""The metrics docs/METRICS.md lists, for the tests that hold names to it
(deploy_dashboard_test.py, tests/integration/prometheus_test.py).

metrics(path) -> {name: type}: every table row of the page whose first cell is a metric
name in backticks and whose second is its type (node, master and the HTTP server's own;
a name in two tables, coedge_build_info, once).
exported_names(name, type) -> the sample names a metric of that type exports
(a histogram: _bucket, _sum, _count)."""
import re

ROW = re.compile(r"^\|\s*`([a-z_][a-z0-9_]*)`\s*\|\s*(counter|gauge|histogram|summary)\s*\|")


def metrics(path):
    found = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ROW.match(line)
            if m:
                found[m.group(1)] = m.group(2)
    return found


def exported_names(name, kind):
    if kind == "histogram":
        return {name + "_bucket", name + "_sum", name + "_count"}
    if kind == "summary":
        return {name, name + "_sum", name + "_count"}
    return {name}


def sample_names(documented):
    """Every sample name the documented metrics export -> the metric it belongs to."""
    out = {}
    for name, kind in documented.items():
        for sample in exported_names(name, kind):
            out[sample] = name
    return out
