#!/usr/bin/python3
"""The install test: `make install`'s tree works as a tool, from any folder.

    install_test.py SOURCE_DIR BUILD_DIR VERSION MODELS_INSTALLED(ON|OFF) C_COMPILER

Installs BUILD_DIR into a temporary prefix (`cmake --install BUILD --prefix TMP`, no
DESTDIR), then checks:
  - the layout (docs/ARCHITECTURE.md, "Installed layout"): the programs, the media plugin
    where the loader looks (bin/../lib/coedge), the SDK header, libraries and pkg-config
    file, the examples, the models (when COEDGE_INSTALL_MODELS is ON), the docs; the only
    executables are the programs, the plugin and the example worker: no test or benchmark
    binary; every model and worker path of the installed node configs resolves;
  - from another temporary folder, which holds a broken examples/profiles/jetson-tx2.yaml
    to catch a default read from the current folder: `coedge --version` prints "coedge
    VERSION (REVISION)", the revision being `git describe --always --dirty` of the source
    tree (or "unknown" without .git); `coedge city` writes a scenario; `coedge sim` runs it
    and an installed example; `coedge sweep` runs a small grid; help texts show the
    installed defaults; a path given on the command line is read from the current folder;
    a missing default is an error (exit 1) naming where it looked; with the models
    installed, the installed examples/node/detect-folder.yaml runs for 3 s (--isolation
    none: no root), its frames read through the installed media plugin;
  - the SDK: a C program including <coedge/worker.h> compiles with -Werror against the
    installed include folder, and the installed example worker builds and links with the
    flags of the installed coedge-worker.pc (pkg-config);
  - the build tree's own coedge resolves its defaults to SOURCE_DIR/examples and
    BUILD_DIR/models;
  - tools/write_revision.cmake gives the source tree's revision, and "unknown" for a folder
    with no .git of its own.
Fails with the command, its exit code and output.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

FAILURES = []


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what)
    return ok


def run(cmd, cwd, env, expect=0):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    check(p.returncode == expect,
          f"{' '.join(cmd)} (in {cwd}) exited {p.returncode}, expected {expect}\n"
          f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    return p


def git_revision(source):
    if not os.path.exists(os.path.join(source, ".git")) or shutil.which("git") is None:
        return "unknown"
    p = subprocess.run(["git", "-C", source, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else "unknown"


def check_layout(prefix, models_installed):
    expected = [
        "bin/coedge", "bin/coedge-worker", "bin/coedge-probe",
        "lib/coedge/coedge_media_opencv.so",
        "libexec/coedge/brightness-worker",
        "include/coedge/worker.h",
        "lib/libcoedge_worker_sdk.a", "lib/libcoedge_ipc.a", "lib/libcoedge_core.a",
        "lib/pkgconfig/coedge-worker.pc",
        "share/coedge/examples/lamppost.yaml", "share/coedge/examples/indoor-100m.yaml",
        "share/coedge/examples/batching-resnet-3.yaml",
        "share/coedge/examples/profiles/jetson-tx2.yaml",
        "share/coedge/examples/profiles/generated-models-cpu.yaml",
        "share/coedge/examples/node/resnet-3.yaml", "share/coedge/examples/node/coco.names",
        "share/coedge/examples/node/frames/frame-0.ppm",
        "share/coedge/examples/worker/brightness_worker.c",
        "share/doc/coedge/README.md", "share/doc/coedge/docs/ARCHITECTURE.md",
        "share/doc/coedge/docs/schema/result-line.schema.json",
    ]
    models = ["resnet18-360", "vgg19-160", "yolov5s-160", "yolov5s-640"]
    for m in models:
        path = f"share/coedge/models/{m}.onnx"
        if models_installed:
            expected.append(path)
        else:
            check(not os.path.exists(os.path.join(prefix, path)), f"{path} installed with COEDGE_INSTALL_MODELS=OFF")
    for rel in expected:
        check(os.path.isfile(os.path.join(prefix, rel)), f"installed tree lacks {rel}")

    allowed_executables = {"bin/coedge", "bin/coedge-worker", "bin/coedge-probe",
                           "libexec/coedge/brightness-worker", "lib/coedge/coedge_media_opencv.so"}
    files = []
    for root, _, names in os.walk(prefix):
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), prefix))
    check(len(files) >= len(expected), f"only {len(files)} files installed")
    for rel in files:
        path = os.path.join(prefix, rel)
        name = os.path.basename(rel)
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode) and mode & 0o111:
            check(rel in allowed_executables, f"unexpected executable installed: {rel}")
        check(not (name.endswith("_test") or name.startswith("coedge-test-") or "bench" in name
                   or "fixtures" in rel.split(os.sep)),
              f"a test, fixture or benchmark file installed: {rel}")

    # The installed node configs name the installed models, example worker, profile sets
    # and frames: every path in them resolves.
    node_dir = os.path.join(prefix, "share/coedge/examples/node")
    for name in sorted(os.listdir(node_dir)):
        if not name.endswith(".yaml"):
            continue
        text = open(os.path.join(node_dir, name)).read()
        check("build/" not in "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")),
              f"installed {name} still names the build tree")
        for line in text.splitlines():
            stripped = line.split("#", 1)[0]
            for key in ("file:", "worker:", "profiles:", "path:"):
                if key not in stripped:
                    continue
                value = stripped.split(key, 1)[1].strip().split(",")[0].strip().rstrip("}").strip()
                if not value or value.startswith("/"):
                    continue
                target = os.path.normpath(os.path.join(node_dir, value))
                if value.endswith(".onnx") and not models_installed:
                    continue
                check(os.path.exists(target), f"installed {name}: {key} {value} -> {target} does not exist")


def check_revision_script(source, tmp, env):
    """tools/write_revision.cmake: the source tree's revision; "unknown" for a folder with no
    .git of its own, even inside a repository (a tarball unpacked in one)."""
    script = os.path.join(source, "tools/write_revision.cmake")
    for tree, want in ((source, git_revision(source)), (os.path.join(source, "docs"), "unknown")):
        out = os.path.join(tmp, "coedge_revision.h")
        run(["cmake", f"-DSOURCE_DIR={tree}", f"-DOUTPUT={out}", "-P", script], cwd=tmp, env=env)
        text = open(out).read() if os.path.exists(out) else ""
        check(f'#define COEDGE_REVISION "{want}"' in text,
              f"write_revision.cmake for {tree} wrote {text!r}, expected the revision {want!r}")
        if os.path.exists(out):
            os.remove(out)


def main(argv):
    source, build, version, models_flag, c_compiler = argv[1:6]
    # The build's own linker flags ("link-flags=..."): a sanitizer build's SDK libraries are
    # instrumented, and a program linking them needs the sanitizer runtimes too.
    link_flags = argv[6].split("=", 1)[1].split() if len(argv) > 6 else []
    models_installed = models_flag.upper() in ("ON", "1", "TRUE", "YES")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DESTDIR", "COEDGE_PROBE_PROGRAM", "COEDGE_MEDIA_PLUGIN", "PKG_CONFIG_PATH")}
    with tempfile.TemporaryDirectory(prefix="coedge-install-") as tmp:
        prefix = os.path.join(tmp, "prefix")
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        run(["cmake", "--install", build, "--prefix", prefix], cwd=tmp, env=env)
        if FAILURES:
            return 1
        check_layout(prefix, models_installed)
        check_revision_script(source, tmp, env)

        # A decoy: a default read from the current folder would load this and fail.
        os.makedirs(os.path.join(work, "examples/profiles"))
        with open(os.path.join(work, "examples/profiles/jetson-tx2.yaml"), "w") as f:
            f.write("this: [is not a profile set\n")
        coedge = os.path.join(prefix, "bin/coedge")

        p = run([coedge, "--version"], cwd=work, env=env)
        want_rev = git_revision(source)
        got = p.stdout.strip()
        if got != f"coedge {version} ({want_rev})":
            # The tree may have been edited (or committed) after the build: then only the
            # -dirty mark differs, and a rebuild makes it equal.
            base = lambda r: r[:-len("-dirty")] if r.endswith("-dirty") else r
            check(got.startswith(f"coedge {version} (") and got.endswith(")") and
                  base(got[len(f"coedge {version} ("):-1]) == base(want_rev),
                  f"coedge --version printed {got!r}, expected 'coedge {version} ({want_rev})' (a commit since the build? rebuild first)")
            if not FAILURES:
                print(f"note: --version says {got!r}, the tree now {want_rev!r} (edited since the build)")

        data = os.path.join(prefix, "share/coedge")
        p = run([coedge, "city", "--help"], cwd=work, env=env)
        check(os.path.join(data, "examples/profiles/jetson-tx2.yaml") in p.stdout,
              f"coedge city --help does not show the installed profile set:\n{p.stdout}")
        p = run([coedge, "profile", "--help"], cwd=work, env=env)
        check(os.path.join(data, "models") in p.stdout,
              f"coedge profile --help does not show the installed models folder:\n{p.stdout}")

        run([coedge, "city", "--nodes", "5", "--duration", "30s", "-o", "city.yaml"], cwd=work, env=env)
        city = os.path.join(work, "city.yaml")
        if check(os.path.isfile(city), "coedge city wrote no city.yaml"):
            text = open(city).read()
            check("nodes:" in text and "tasks:" in text, f"city.yaml is not a scenario:\n{text[:500]}")
            # The scenario's outputs go to the current folder: results/<scenario name>/.
            p = run([coedge, "sim", "city.yaml", "-q"], cwd=work, env=env)
            check("miss" in p.stdout.lower(), f"coedge sim city.yaml printed no miss rates:\n{p.stdout}")
            results = os.path.join(work, "results")
            check(os.path.isdir(results) and any(os.scandir(results)),
                  "coedge sim city.yaml wrote no results/ in the current folder")
        p = run([coedge, "sim", os.path.join(data, "examples/lamppost.yaml"), "--duration", "20s", "-q",
                 "-o", "lamppost"], cwd=work, env=env)
        check(os.path.isdir(os.path.join(work, "lamppost")) and any(os.scandir(os.path.join(work, "lamppost"))),
              "coedge sim of the installed lamppost.yaml wrote nothing to -o lamppost")
        run([coedge, "sweep", "--nodes", "5", "--loads", "0.8", "--bandwidths", "100", "--seeds", "1",
             "--duration", "20s", "--pairs", "coedge+coedge", "local+edf", "-q", "-o", "sweep"], cwd=work, env=env)
        csv = os.path.join(work, "sweep/sweep.csv")
        if check(os.path.isfile(csv), "coedge sweep wrote no sweep/sweep.csv"):
            rows = [l for l in open(csv).read().splitlines() if l.strip()]
            check(len(rows) >= 3, f"sweep.csv has {len(rows)} lines, expected a header and a row per pair:\n"
                  + "\n".join(rows))

        # A path the user gives is taken as given, relative to the current folder: here the
        # decoy, which is not a profile set (bad input, exit 2, naming it).
        p = run([coedge, "city", "--nodes", "5", "--profiles", "examples/profiles/jetson-tx2.yaml"],
                cwd=work, env=env, expect=2)
        check("examples/profiles/jetson-tx2.yaml" in p.stderr and data not in p.stderr,
              f"coedge city --profiles RELATIVE did not read the current folder's file:\n{p.stderr}")

        # An installed node config runs as shipped: the installed models, and frames read
        # through the media plugin, found where an installed coedge looks (lib/coedge).
        # --isolation none needs no root; 3 s of real inference. No figure is checked, only
        # that jobs ran and were all accounted for.
        if models_installed:
            run_dir = os.path.join(work, "node-run")
            run([coedge, "node", "--config", os.path.join(data, "examples/node/detect-folder.yaml"),
                 "--isolation", "none", "--duration", "3s", "--metrics-port", "0", "--run-dir", run_dir],
                cwd=work, env=env)
            summary = os.path.join(run_dir, "summary.json")
            if check(os.path.isfile(summary), "the installed node wrote no summary.json"):
                totals = json.load(open(summary)).get("totals", {})
                check(totals.get("released", 0) > 0 and totals.get("accounted") is True and
                      totals["released"] == totals.get("met", 0) + totals.get("overdue", 0) + totals.get("dropped", 0),
                      f"the installed node's totals are not a run with every job accounted: {totals}")

        # A missing default is an I/O failure naming the place it looked.
        profiles = os.path.join(data, "examples/profiles")
        os.rename(profiles, profiles + ".aside")
        try:
            p = run([coedge, "city", "--nodes", "5"], cwd=work, env=env, expect=1)
            check(os.path.join(profiles, "jetson-tx2.yaml") in p.stderr and "--profiles" in p.stderr,
                  f"the missing default's error does not name where it looked:\n{p.stderr}")
        finally:
            os.rename(profiles + ".aside", profiles)

        # The SDK header compiles as C with the installed include folder; the installed
        # example worker builds against the installed library through pkg-config.
        probe_c = os.path.join(work, "sdk_probe.c")
        with open(probe_c, "w") as f:
            f.write("#include <coedge/worker.h>\n"
                    "int main(void) { return COEDGE_WORKER_ABI_VERSION > 0 ? 0 : 1; }\n")
        run([c_compiler, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I",
             os.path.join(prefix, "include"), "-c", probe_c, "-o", os.path.join(work, "sdk_probe.o")],
            cwd=work, env=env)
        pc_env = dict(env, PKG_CONFIG_PATH=os.path.join(prefix, "lib/pkgconfig"))
        p = run(["pkg-config", "--modversion", "coedge-worker"], cwd=work, env=pc_env)
        check(p.stdout.strip() == version, f"coedge-worker.pc says version {p.stdout.strip()!r}, expected {version}")
        cflags = run(["pkg-config", "--cflags", "coedge-worker"], cwd=work, env=pc_env).stdout.split()
        libs = run(["pkg-config", "--libs", "coedge-worker"], cwd=work, env=pc_env).stdout.split()
        worker_o = os.path.join(work, "brightness_worker.o")
        run([c_compiler, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", *cflags, "-c",
             os.path.join(data, "examples/worker/brightness_worker.c"), "-o", worker_o], cwd=work, env=env)
        worker = os.path.join(work, "brightness-worker")
        run([c_compiler, worker_o, *libs, *link_flags, "-o", worker], cwd=work, env=env)
        check(os.access(worker, os.X_OK), "the example worker did not link against the installed SDK")

        # The build tree's own coedge: defaults from the source tree and the build.
        built = os.path.join(build, "bin/coedge")
        p = run([built, "city", "--help"], cwd=work, env=env)
        check(os.path.join(os.path.normpath(source), "examples/profiles/jetson-tx2.yaml") in p.stdout,
              f"the build tree's coedge city --help does not show SOURCE/examples:\n{p.stdout}")
        p = run([built, "profile", "--help"], cwd=work, env=env)
        check(os.path.join(os.path.normpath(build), "models") in p.stdout,
              f"the build tree's coedge profile --help does not show BUILD/models:\n{p.stdout}")
        run([built, "city", "--nodes", "3", "-o", "city3.yaml"], cwd=work, env=env)

    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("install test: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
