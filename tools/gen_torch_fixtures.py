#!/usr/bin/python3
"""Tiny test models for the torch backend, each written twice from the SAME seeded PyTorch
module: NAME.pt (TorchScript, torch.jit.save, with extra/coedge.json) and NAME.onnx
(torch.onnx.export, opset 12, dynamic batch), so that the parity test
(tests/unit/infer/parity_test.cc) runs one function on both backends.

    /usr/bin/python3 tools/gen_torch_fixtures.py OUT_DIR

writes into OUT_DIR (build/models/fixtures/torch):
  tiny-classifier  [N,3,32,32] -> logits [N,4]            conv, relu, global pool, linear
  tiny-detector    [N,3,32,32] -> output0 [N,64,6]        YOLO-style rows (cx,cy,w,h,obj,cls)
  tiny-segmenter   [N,3,32,32] -> out [N,4,32,32]         per-pixel class logits
  tiny-raises      [N,3,32,32] -> logits [N,4]            scripted; raises inside forward
                                                           when the batch is larger than 3
                                                           (its .onnx is the traced module,
                                                           without the check: ONNX has no raise)

Design rules, checked here (the script fails otherwise):
  - outputs are of order 1 on the seeded input (max|y| in [0.1, 100]): with outputs near 0,
    the parity tolerance 1e-3*max|a| + 1e-4 would accept anything (/work/spike-torch.md);
  - no Identity node in the exported ONNX and no shared parameter, so the files load in
    OpenCV 4.6 without the loader's normalizer;
  - the traced module equals the eager one at batch 3 (the trace was made at batch 2, so
    a batch size baked into the trace shows up here).

Needs only Debian's python3-torch and python3-onnx. Writes atomically (tmp + rename).
"""
import argparse
import json
import os
import sys
import warnings
import zlib

import torch
from torch import nn

import gen_models_torch as gm  # noqa: E402  (the He initialisation)

SEED = 20240613
H = W = 32
CLASSES = 4


def init_(module, gen):
    """Seeded He-normal weights (the generator's), biases U[-0.5, 0.5): outputs of order 1."""
    gm.kaiming(module, gen, bias=lambda shape, g: torch.rand(shape, generator=g) - 0.5)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(self.pool(x), 1)) * 4.0


class Detector(nn.Module):
    """64 rows (an 8x8 grid) of (cx, cy, w, h, objectness, class score), in input pixels
    for the box: sigmoid, then a per-channel scale (the form OpenCV 4.6 broadcasts)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 4, stride=4)
        self.register_buffer("scale", torch.tensor([W, H, W / 2, H / 2, 1.0, 1.0]).reshape(1, 6, 1, 1))

    def post_init(self):
        # Objectness and class score around sigmoid(1) = 0.73: about half the rows score
        # above the stock 0.25 threshold, so parity compares boxes, not two empty lists.
        with torch.no_grad():
            self.conv.bias[4:] += 1.0

    def forward(self, x):
        y = torch.sigmoid(self.conv(x)) * self.scale
        return y.reshape(-1, 6, 64).permute(0, 2, 1)


class Segmenter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, CLASSES, 1)

    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x)))


class Raises(nn.Module):
    """The classifier, refusing batches larger than 3: an exception inside the model."""

    def __init__(self):
        super().__init__()
        self.inner = Classifier()

    def forward(self, x):
        if x.size(0) > 3:
            raise RuntimeError("tiny-raises refuses batches larger than 3")
        return self.inner(x)


FIXTURES = {
    # name: (builder, output name, output item shape, kind, script instead of trace)
    "tiny-classifier": (Classifier, "logits", [CLASSES], "classification", False),
    "tiny-detector": (Detector, "output0", [64, 6], "detection", False),
    "tiny-segmenter": (Segmenter, "out", [CLASSES, H, W], "segmentation", False),
    "tiny-raises": (Raises, "logits", [CLASSES], "classification", True),
}


def atomic_write(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def seeded_input(batch, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((batch, 3, H, W), generator=gen)


def build(name, out_dir):
    builder, out_name, out_item, kind, script = FIXTURES[name]
    seed = SEED ^ zlib.crc32(name.encode())
    gen = torch.Generator().manual_seed(seed)
    module = builder().eval()
    init_(module, gen)
    if hasattr(module, "post_init"):
        module.post_init()
    names = [n for n, _ in module.named_parameters()]
    if len(set(id(p) for p in module.parameters())) != len(names):
        sys.exit(f"{name}: shared parameters (OpenCV 4.6 rejects the Identity nodes they export to)")

    x2, x3 = seeded_input(2, seed + 2), seeded_input(3, seed + 3)
    with torch.no_grad():
        eager3 = module(x3)
    peak = eager3.abs().max().item()
    if not 0.1 <= peak <= 100:
        sys.exit(f"{name}: max|output| = {peak:g} on the seeded input; the parity tolerance needs order 1")

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # tiny-raises' size check
        ts = torch.jit.script(module) if script else torch.jit.trace(module, x2)
        if not torch.allclose(ts(x3), eager3, rtol=1e-5, atol=1e-6):
            sys.exit(f"{name}: the TorchScript module differs from the eager one at batch 3")

    meta = {
        "coedge_model": 1,
        "input": {"name": "images", "shape": [-1, 3, H, W]},
        "output": {"name": out_name, "shape": [-1] + out_item},
        "kind": kind,
        "producer": "coedge-gen-torch-fixtures",
        "seed": seed,
    }
    pt = os.path.join(out_dir, name + ".pt")
    atomic_write(pt, lambda p: torch.jit.save(ts, p, _extra_files={"coedge.json": json.dumps(meta)}))

    onnx_path = os.path.join(out_dir, name + ".onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        atomic_write(onnx_path, lambda p: torch.onnx.export(
            module, x2, p, opset_version=12, input_names=["images"], output_names=[out_name],
            dynamic_axes={"images": {0: "N"}, out_name: {0: "N"}}, do_constant_folding=True))
    if kind == "segmentation":
        declare_kind(onnx_path, kind)
    check_onnx(name, onnx_path)


def declare_kind(path, kind):
    """The metadata prop coedge.kind, how an ONNX file declares a segmentation model
    (docs/MODELS.md, "Segmentation")."""
    import onnx
    model = onnx.load(path)
    onnx.helper.set_model_props(model, {"coedge.kind": kind})
    atomic_write(path, lambda p: onnx.save(model, p))


def check_onnx(name, path):
    try:
        import onnx
    except ImportError:
        return  # python3-onnx is in make setup; without it the check is skipped, not the files
    model = onnx.load(path)
    onnx.checker.check_model(model)
    identities = [n.name for n in model.graph.node if n.op_type == "Identity"]
    if identities:
        sys.exit(f"{name}: the ONNX export has Identity nodes {identities}; OpenCV 4.6 rejects them")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--only", choices=sorted(FIXTURES), action="append")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.only or sorted(FIXTURES):
        build(name, args.out_dir)


if __name__ == "__main__":
    main()
