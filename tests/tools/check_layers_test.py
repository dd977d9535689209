#!/usr/bin/python3
"""Tests of tools/check_layers.py. A check that never fails proves nothing, so the first
tests build a small fake tree in a temporary folder (two layers, each with a header and a
source, and a layers file like the one CMake writes) where the lower layer includes the
higher one's header, and expect exit status 1 and the violation line; the same tree
without that include must pass, and bad input must give status 2. The `tree` mode runs
the check on the real tree with the layers file of the current build (exit 0 expected).

Usage: check_layers_test.py fixture SCRIPT
       check_layers_test.py tree SCRIPT ROOT LAYERS
(ctest runs both: tests/tools/CMakeLists.txt.) Standard library only.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = None


def run(*args):
    """Runs the check with the same interpreter; returns (status, stdout, stderr)."""
    p = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                       timeout=50)
    return p.returncode, p.stdout, p.stderr


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class FixtureTest(unittest.TestCase):
    """src/low (target fake_low) must not include src/high (fake_high, which links low)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="check_layers_")
        self.root = self.tmp.name
        write(f"{self.root}/src/high/high.h", '#pragma once\n#include "low/low.h"\n')
        write(f"{self.root}/src/high/high.cc", '#include "high/high.h"\n')
        write(f"{self.root}/src/low/low.h", "#pragma once\nint low();\n")
        # The wrong include is on line 3, after a commented-out one that must not count.
        write(f"{self.root}/src/low/low.cc",
              '#include "low/low.h"\n// #include "high/high.h"\n#include "high/high.h"\n'
              "int low() { return 0; }\n")
        # As CMake writes it: sources relative to source_dir, lists ;-separated, link
        # items that are not our targets (m) and an unevaluated generator expression.
        self.layers = f"{self.root}/layers.json"
        with open(self.layers, "w", encoding="utf-8") as f:
            json.dump({"source_root": self.root, "targets": {
                "fake_low": {"type": "STATIC_LIBRARY", "source_dir": f"{self.root}/src/low",
                             "sources": "low.cc", "link_libraries": "m"},
                "fake_high": {"type": "STATIC_LIBRARY", "source_dir": f"{self.root}/src/high",
                              "sources": "high.cc;$<TARGET_OBJECTS:other>",
                              "link_libraries": "fake_low;m"},
            }}, f)

    def tearDown(self):
        self.tmp.cleanup()

    def check(self, *extra):
        return run("--root", self.root, "--layers", self.layers, "--dir", "src", *extra)

    def test_lower_layer_including_higher_fails(self):
        status, out, err = self.check()
        self.assertEqual(status, 1, out + err)
        self.assertIn('src/low/low.cc:3: includes "high/high.h" but target fake_low does '
                      "not link fake_high (fake_low links: nothing)", out)
        # Exactly one: the commented-out include and high -> low are fine.
        self.assertEqual(len([l for l in out.splitlines() if l.startswith("src/")]), 1, out)

    def test_clean_tree_passes(self):
        write(f"{self.root}/src/low/low.cc", '#include "low/low.h"\nint low() { return 0; }\n')
        status, out, err = self.check()
        self.assertEqual(status, 0, out + err)
        self.assertIn("no layering violations", out)

    def test_header_only_file_is_judged_as_its_folder_s_target(self):
        # low/extra.h has no .cc: it belongs to fake_low, so its include of high is wrong.
        write(f"{self.root}/src/low/low.cc", '#include "low/low.h"\nint low() { return 0; }\n')
        write(f"{self.root}/src/low/extra.h", '#pragma once\n#include "high/high.h"\n')
        status, out, err = self.check()
        self.assertEqual(status, 1, out + err)
        self.assertIn('src/low/extra.h:2: includes "high/high.h" but target fake_low', out)

    def test_missing_layers_file_is_bad_input(self):
        status, out, err = run("--root", self.root, "--layers", f"{self.root}/nope.json")
        self.assertEqual(status, 2, out + err)
        self.assertIn("nope.json: no such file", err)

    def test_malformed_layers_file_is_bad_input(self):
        write(self.layers, '{"targets": [')
        status, out, err = self.check()
        self.assertEqual(status, 2, out + err)
        self.assertIn("not valid JSON", err)

    def test_layers_file_of_another_tree_is_bad_input(self):
        with tempfile.TemporaryDirectory() as other:
            os.makedirs(f"{other}/src")
            status, out, err = run("--root", other, "--layers", self.layers, "--dir", "src")
        self.assertEqual(status, 2, out + err)
        self.assertIn("describes the tree", err)


def main():
    global SCRIPT
    if len(sys.argv) >= 3 and sys.argv[1] == "fixture":
        SCRIPT = sys.argv[2]
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(FixtureTest)
        ok = unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful()
        return 0 if ok else 1
    if len(sys.argv) == 5 and sys.argv[1] == "tree":
        SCRIPT, root, layers = sys.argv[2:5]
        status, out, err = run("--root", root, "--layers", layers)
        sys.stdout.write(out)
        sys.stderr.write(err)
        if status != 0:
            print(f"check_layers on the real tree: exit status {status}, expected 0",
                  file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
