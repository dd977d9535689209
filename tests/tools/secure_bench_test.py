#!/usr/bin/python3
"""The verdict of bench/secure_bench.py on issue 15's criterion (a secure miss rate within
2 pp of the plain one): "yes" and "NO" only when the difference of the means is at least
two standard errors from 2 pp, "unresolved" otherwise; and --from-json re-tabulates an
earlier run, naming a bad file with exit code 2.

usage: secure_bench_test.py SOURCE_DIR PYTHON
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile


def main():
    source, python = sys.argv[1], sys.argv[2]
    path = os.path.join(source, "bench", "secure_bench.py")
    spec = importlib.util.spec_from_file_location("secure_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append(f"{what}: got {got!r}, want {want!r}")

    plain = [0.080, 0.082, 0.081, 0.079]
    expect("secure 0.5 pp above, tight runs", bench.miss_verdict(plain, [0.085, 0.086, 0.087, 0.084])[0], "yes")
    expect("secure 6 pp above, tight runs", bench.miss_verdict(plain, [0.140, 0.141, 0.142, 0.139])[0], "NO")
    # The bench's own runs of 2026-12-03: medians said yes/NO, the spread says neither.
    plain3 = [0.1352, 0.0816, 0.0331]
    expect("encrypt, 3 runs", bench.miss_verdict(plain3, [0.0664, 0.0816, 0.0539])[0], "unresolved")
    expect("sign, 3 runs", bench.miss_verdict(plain3, [0.1452, 0.0082, 0.1741])[0], "unresolved")
    expect("one run each", bench.miss_verdict([0.08], [0.08])[0], "unresolved")
    verdict, delta, se = bench.miss_verdict([0.10, 0.12], [0.13, 0.15])
    expect("mean difference in pp", round(delta, 6), 3.0)
    expect("standard error in pp: sqrt(2e-4 / 2 + 2e-4 / 2)", round(se, 6), 1.414214)
    expect("3.0 +- 1.4 pp", verdict, "unresolved")

    with tempfile.TemporaryDirectory() as tmp:
        runs = [{"mode": m, "fps": 2.0, "latency_median_ms": 100.0, "latency_p95_ms": 200.0, "miss_rate": r}
                for m, rates in (("plain", plain), ("encrypt", [0.085, 0.086, 0.087, 0.084])) for r in rates]
        good = os.path.join(tmp, "secure_bench.json")
        with open(good, "w") as f:
            json.dump({"runs": runs, "modes": ["plain", "encrypt"], "repeat": 4, "scenario": "s.yaml",
                       "duration": "120s"}, f)
        r = subprocess.run([python, path, "--from-json", good], capture_output=True, text=True)
        expect("--from-json exit code", r.returncode, 0)
        expect("--from-json's encrypt row says yes", any(l.startswith("| encrypt") and l.endswith("| yes |")
                                                        for l in r.stdout.splitlines()), True)
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write("{\"runs\": []}")
        for name, file in (("a file without modes", bad), ("a missing file", os.path.join(tmp, "none.json"))):
            r = subprocess.run([python, path, "--from-json", file], capture_output=True, text=True)
            expect(f"{name}: exit code", r.returncode, 2)
            expect(f"{name}: named", file in r.stderr, True)

    for f in failures:
        print("FAIL: " + f)
    if not failures:
        print("ok: secure_bench's verdict and --from-json")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
