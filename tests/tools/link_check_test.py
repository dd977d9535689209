#!/usr/bin/python3
"""`coedge sim` does not link libtorch (issue 13): libtorch, with libc10 and libgomp, lives
in the torch backend's plugin lib/coedge/coedge_infer_torch.so, dlopen'ed by the inference
server on its first TorchScript model, and nowhere else.

    link_check_test.py BUILD_DIR SOURCE_DIR TORCH(ON|OFF)

Checks:
  1. `readelf -d BUILD/bin/coedge` has no NEEDED entry matching libtorch, libc10 or libgomp;
  2. `LD_DEBUG=libs coedge sim examples/lamppost.yaml --duration 20s --no-files` never
     loads (nor even looks for) libtorch or libc10. Not libgomp at run time: OpenCV's media
     plugin brings it in through FFmpeg's libsoxr when a command reads an image (measured:
     `coedge profile` does, for its pre-processing timings), which is not libtorch's;
  3. the same for `coedge profile` of an ONNX model on OpenCV DNN (tiny-classifier, batch 1-2).
So that the checks cannot pass vacuously, with the plugin built (TORCH=ON) the same two
probes must FIND libtorch where it is: in the plugin's NEEDED entries, and in the
LD_DEBUG trace of a program that loads a TorchScript model (the torch backend's unit test).
Exit status 0 pass, 1 fail (each failure on one line). Needs binutils' readelf.
"""
import os
import re
import subprocess
import sys

TORCH_RE = re.compile(r"lib(torch|c10|gomp)[^ /]*\.so")  # linked by coedge: none of them
LOADED_RE = re.compile(r"lib(torch|c10)[^ /]*\.so")      # loaded at run time (see 2. above)


def needed(path):
    out = subprocess.run(["readelf", "-d", path], check=True, capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def loaded_torch_libs(cmd, cwd):
    """Runs `cmd` under LD_DEBUG=libs; returns (exit code, torch-like libraries it named)."""
    env = dict(os.environ, LD_DEBUG="libs")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, sorted(set(m.group(0) for m in LOADED_RE.finditer(proc.stderr + proc.stdout)))


def main():
    build, source, torch = sys.argv[1], sys.argv[2], sys.argv[3] == "ON"
    coedge = os.path.join(build, "bin", "coedge")
    failures = []

    bad = [n for n in needed(coedge) if TORCH_RE.search(n)]
    if bad:
        failures.append(f"{coedge} links {', '.join(bad)} (readelf -d NEEDED): libtorch belongs in the plugin")

    runs = {
        "coedge sim": [coedge, "sim", os.path.join(source, "examples", "lamppost.yaml"), "--duration", "20s",
                       "--no-files"],
        "coedge profile (opencv)": [coedge, "profile",
                                    os.path.join(build, "models", "fixtures", "tiny-classifier.onnx"),
                                    "--batch", "1-2", "--runs", "1"],
    }
    tmp = os.path.join(build, "link_check_tmp")
    os.makedirs(tmp, exist_ok=True)
    for what, cmd in runs.items():
        code, libs = loaded_torch_libs(cmd, tmp)
        if code != 0:
            failures.append(f"{what}: exited {code}: {' '.join(cmd)}")
        if libs:
            failures.append(f"{what} loaded or looked for {', '.join(libs)} (LD_DEBUG=libs)")

    if torch:  # the probes work: they find libtorch where it is
        plugin = os.path.join(build, "lib", "coedge", "coedge_infer_torch.so")
        if not any(TORCH_RE.search(n) for n in needed(plugin)):
            failures.append(f"control: readelf finds no libtorch in {plugin}'s NEEDED; the check is blind")
        test = os.path.join(build, "tests", "unit", "infer", "torch_backend_tests")
        code, libs = loaded_torch_libs([test, "--gtest_filter=TorchBackend.RunsABatchThroughTheFrozenOptimizedModule"],
                                       tmp)
        if code != 0 or not any("libtorch" in l for l in libs):
            failures.append(f"control: LD_DEBUG=libs shows no libtorch for {test} (exit {code}); the check is blind")
        if any("libtorch" in n for n in needed(test)):
            failures.append(f"{test} links libtorch itself; only the plugin may")
    else:
        print("COEDGE_TORCH=OFF: no plugin, the controls are skipped; coedge is checked all the same")

    for f in failures:
        print(f"link_check: FAIL: {f}")
    if failures:
        return 1
    print("link_check: coedge links no libtorch, libc10 or libgomp; sim and an OpenCV profile load none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
