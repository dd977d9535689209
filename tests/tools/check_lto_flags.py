#!/usr/bin/python3
"""Proves that the flags of the `lto` build (CMakePresets.json, which CI runs as
`make lto`) turn an ODR violation into a failed build. It compiles a fixture with two
different definitions of one class (odr_fixture/) with exactly those flags and expects
the link to fail with GCC's -Wodr report; then compiles one half alone, which must
succeed, so that a broken compiler or missing flag is not mistaken for the check working.

usage: check_lto_flags.py PRESETS_JSON FIXTURE_DIR CXX
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile


def lto_flags(presets_path):
    with open(presets_path) as f:
        presets = json.load(f)
    for p in presets.get("configurePresets", []):
        if p.get("name") == "lto":
            variables = p.get("cacheVariables", {})
            return shlex.split(variables.get("CMAKE_CXX_FLAGS", "")), shlex.split(
                variables.get("CMAKE_EXE_LINKER_FLAGS", ""))
    sys.exit(f"{presets_path}: no configure preset named 'lto'")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    presets, fixture, cxx = sys.argv[1:]
    compile_flags, link_flags = lto_flags(presets)
    if "-Werror=odr" not in compile_flags + link_flags:
        print("FAIL: the lto preset does not make ODR violations errors (-Werror=odr)")
        return 1
    a = os.path.join(fixture, "record_a.cc")
    b = os.path.join(fixture, "record_b.cc")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "odr")
        bad = subprocess.run([cxx, "-O1", *compile_flags, *link_flags, a, b, "-o", out],
                             capture_output=True, text=True)
        if bad.returncode == 0:
            print("FAIL: two definitions of JobRecord linked without an error under the lto flags")
            return 1
        if "-Wodr" not in bad.stderr and "odr" not in bad.stderr:
            print("FAIL: the build failed, but not with an ODR report:\n" + bad.stderr)
            return 1
        good = subprocess.run([cxx, "-O1", *compile_flags, "-c", a, "-o", out + ".o"],
                              capture_output=True, text=True)
        if good.returncode != 0:
            print("FAIL: one definition alone does not compile under the lto flags:\n" + good.stderr)
            return 1
    print("ok: the lto flags reject the fixture's ODR violation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
