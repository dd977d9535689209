#!/usr/bin/python3
"""Rebuilds the seed corpora in fuzz/corpus/ (committed; run again when a format changes).

  fuzz/make_seeds.py BUILD_DIR FUZZ_BUILD_DIR

Seeds, small on purpose (the fuzzer grows its own corpus from them):
- fuzz_scenario: examples/*.yaml and the scenarios of tests/data;
- fuzz_profile_set: examples/profiles and tests/data/config/profiles;
- fuzz_node_config: examples/node/*.yaml;
- fuzz_node_config_wire: those node configs as the agent hands them to its server
  (written by FUZZ_BUILD_DIR/bin/write_wire_seeds; needs BUILD_DIR/models);
- fuzz_onnx_header: none (the fuzz build generates the tiny ONNX fixtures as its seeds);
- fuzz_torchscript_info: the tiny TorchScript fixtures (BUILD_DIR/models/fixtures/torch)
  and zips made here byte by byte: classic, zip64, zip64 with saturated central headers,
  a compressed entry, YOLOv5's config.txt.
The YAML and JSON dictionaries (fuzz/dict/) are rewritten from the readers' string literals.
Files already in a corpus folder (crash reproducers added by hand, named crash-*) stay.
"""
import os
import re
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def copy(target, files, prefix=""):
    out = os.path.join(CORPUS, target)
    os.makedirs(out, exist_ok=True)
    for f in files:
        shutil.copyfile(f, os.path.join(out, prefix + os.path.basename(f)))


def ls(folder, ext):
    folder = os.path.join(ROOT, folder) if not os.path.isabs(folder) else folder
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(ext))


def zip_archive(entries, zip64=False, saturate=False):
    """entries: (name, data, method, local_padding). Mirrors torchscript_info_test's build_zip."""
    b = bytearray()
    local_at = []
    for name, data, method, pad in entries:
        local_at.append(len(b))
        b += struct.pack("<IHHHIIIIHH", 0x04034B50, 20, 0, method, 0, 0, len(data), len(data), len(name), pad)
        b += name.encode() + b"F" * pad + data
    cd_at = len(b)
    sat = 0xFFFFFFFF
    for i, (name, data, method, _) in enumerate(entries):
        size = sat if saturate else len(data)
        b += struct.pack("<IHHHHIIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0, size, size, len(name),
                         28 if saturate else 0, 0, 0, 0, 0, sat if saturate else local_at[i])
        b += name.encode()
        if saturate:
            b += struct.pack("<HHQQQ", 1, 24, len(data), len(data), local_at[i])
    cd_size = len(b) - cd_at
    if zip64:
        end64_at = len(b)
        b += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), cd_size, cd_at)
        b += struct.pack("<IIQI", 0x07064B50, 0, end64_at, 1)
    n = 0xFFFF if zip64 else len(entries)
    b += struct.pack("<IIHHIIH", 0x06054B50, 0, n, n, sat if zip64 else cd_size, sat if zip64 else cd_at, 0)
    return bytes(b)


META = (b'{"coedge_model": 1, "input": {"name": "images", "shape": [-1, 3, 64, 48]}, '
        b'"output": {"name": "out", "shape": [-1, 5, 64, 48]}, "kind": "segmentation", "producer": "seed"}')
YOLO = b'{"shape": [1, 3, 160, 160], "stride": 32, "names": ["person", "car"]}'


def model_entries(meta_name="m/extra/coedge.json", meta=META, method=0):
    return [("m/data.pkl", b"p" * 40, 0, 0), (meta_name, meta, method, 17), ("m/data/0", b"w" * 64, 0, 50)]


YAML_TOKENS = ['": "', '"- "', '"{"', '"}"', '"["', '"]"', '", "', '"\\x0a"', '"\\x0a  "', '"\\x0a  - "', '"---"',
               '"..."', '"&a"', '"*a"', '"<<: "', '"!!str "', '"~"', '"null"', '"true"', '"false"', '"1.5s"',
               '"700ms"', '"250us"', '"2min"', '"1h"', '"1e308"', '"-1"', '"0x7fffffff"', '"\'"']
JSON_TOKENS = ['"{"', '"}"', '"["', '"]"', '":"', '","', '"null"', '"true"', '"false"', '"coedge-node-config"',
               '"1e400"', '"-9223372036854775808"', '"18446744073709551615"', '"\\\\u0000"']


def literals(files):
    out = set()
    for f in files:
        with open(os.path.join(ROOT, f)) as src:
            out.update(re.findall(r'"([a-z][a-z0-9_./-]{1,30})"', src.read()))
    return sorted(out)


def write_dict(target, header, sources, tokens):
    with open(os.path.join(ROOT, "fuzz", "dict", target + ".dict"), "w") as f:
        f.write(header)
        for t in tokens + ['"%s"' % k for k in literals(sources)]:
            f.write(t + "\n")


def dictionaries():
    scenario = ["src/config/scenario_loader.cc", "src/config/profile_reader.cc"]
    head = "# libFuzzer dictionary (fuzz/make_seeds.py): YAML syntax and the string literals of %s.\n"
    write_dict("fuzz_scenario", head % ", ".join(scenario), scenario, YAML_TOKENS)
    write_dict("fuzz_profile_set", head % ", ".join(scenario), scenario, YAML_TOKENS)
    node = ["src/config/node_config_loader.cc", "src/config/profile_reader.cc", "src/config/listen_address.cc",
            "src/config/model_backend.cc"]
    write_dict("fuzz_node_config", head % ", ".join(node) + "# and paths that exist relative to examples/node.\n", node,
               YAML_TOKENS + ['"../profiles/generated-models-cpu.yaml"', '"../../build/models/yolov5s-160.onnx"',
                              '"../../build/models/resnet18-360.pt"', '"coco.names"', '"frames"', '"stock"'])
    wire = ["src/config/node_config_wire.cc"]
    write_dict("fuzz_node_config_wire",
               "# libFuzzer dictionary (fuzz/make_seeds.py): JSON syntax and the string literals of %s.\n" % wire[0],
               wire, JSON_TOKENS)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    build, fuzz_build = sys.argv[1], sys.argv[2]
    dictionaries()
    copy("fuzz_scenario", ls("examples", ".yaml") + ["tests/data/explain/small-fleet.yaml"])
    copy("fuzz_scenario", ["tests/data/config/lamppost.yaml"], prefix="tests-")
    copy("fuzz_profile_set", ls("examples/profiles", ".yaml"))
    copy("fuzz_profile_set", ls("tests/data/config/profiles", ".yaml"), prefix="tests-")
    copy("fuzz_node_config", ls("examples/node", ".yaml"))
    wire = os.path.join(CORPUS, "fuzz_node_config_wire")
    os.makedirs(wire, exist_ok=True)
    subprocess.run([os.path.join(fuzz_build, "bin", "write_wire_seeds"), wire] + ls("examples/node", ".yaml"),
                   env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))  # a config whose worker is not built is skipped
    fixtures = os.path.join(build, "models", "fixtures")
    # fuzz_onnx_header: none here; the fuzz build generates its ONNX seeds (fuzz/CMakeLists.txt).
    copy("fuzz_torchscript_info", ls(os.path.join(fixtures, "torch"), ".pt"))
    ts = os.path.join(CORPUS, "fuzz_torchscript_info")
    made = {
        "zip-classic.pt": zip_archive(model_entries()),
        "zip-zip64.pt": zip_archive(model_entries(), zip64=True),
        "zip-zip64-saturated.pt": zip_archive(model_entries(), zip64=True, saturate=True),
        "zip-compressed-meta.pt": zip_archive(model_entries(method=8)),
        "zip-yolov5-config.pt": zip_archive(model_entries("m/extra/config.txt", YOLO)),
    }
    for name, data in made.items():
        with open(os.path.join(ts, name), "wb") as f:
            f.write(data)
    # fuzz_worker_messages: the first byte picks the message (0 event, 1 tensor, 2 ticket,
    # 3 output, 4 results); the rest is read by FuzzedDataProvider (numbers from the end,
    # structs from the front), so plain patterns are enough to start from.
    wm = os.path.join(CORPUS, "fuzz_worker_messages")
    os.makedirs(wm, exist_ok=True)
    modes = ["event", "tensor", "ticket", "output", "results"]
    for mode, name in enumerate(modes):
        for pattern, fill in (("zeros", b"\0"), ("ones", b"\x01"), ("ff", b"\xff")):
            with open(os.path.join(wm, "%d-%s-%s" % (mode, name, pattern)), "wb") as f:
                f.write(bytes([mode]) + fill * 600)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
