#!/usr/bin/python3
"""Builds the paper's architectures in PyTorch with seeded weights and writes each model in
both formats CoEdge runs, from the very same module object:

  NAME.pt    TorchScript (torch.jit.trace of the eval module), for the `torch` backend, with
             the entry extra/coedge.json that declares its tensors (docs/MODELS.md)
  NAME.onnx  torch.onnx.export of the same module (opset 12, dynamic batch only), for the
             `opencv` backend. Written raw, as the exporter writes it: CoEdge's ONNX loader
             normalizes what OpenCV 4.6 cannot read (Identity nodes on initializers).

  resnet18-360    ResNet-18 (torchvision), N x 3 x 360 x 360, 10 classes   -> logits [N, 10]
  resnet18-224    ResNet-18 (torchvision), N x 3 x 224 x 224, 1000 classes -> logits [N, 1000]
  vgg19-160       VGG-19 with its 4096-4096 classifier sized for 5 x 5 x 512 (no adaptive
                  pooling), N x 3 x 160 x 160, 10 classes                  -> logits [N, 10]
  mobilenetv3-224 MobileNetV3-Large (torchvision), N x 3 x 224 x 224       -> logits [N, 1000]
  yolov5s-640     YOLOv5s v6.0, N x 3 x 640 x 640, 80 classes              -> output0 [N, 25200, 85]
  yolov5s-160     YOLOv5s v6.0, N x 3 x 160 x 160                          -> output0 [N, 1575, 85]

These weights carry NO accuracy (nothing can be downloaded here): they exist to measure
inference time and to exercise the pipeline. They are made so that the two formats can be
compared meaningfully: batch norms are kept in the module with seeded affine parameters and
running statistics calibrated on seeded input, so every output is O(1) (an untrained
torchvision model in eval mode gives outputs near 0, which any tolerance accepts). The
exporter folds those batch norms into the convolutions of the ONNX file; the torch backend
folds them when it freezes the TorchScript at load; a parity test compares the two.

YOLO outputs follow the YOLOv5 export layout (per anchor and cell: cx, cy, w, h in input
pixels, objectness, 80 class scores, all decoded in-graph), with the decode written
"per-channel": OpenCV 4.6's importer broadcasts a constant over the batch axis only as a
per-channel scale or shift, so each (anchor, cell, coordinate) is a channel while the grid
and anchor terms are applied. Every view uses -1 for the batch and constant sizes, which
the ONNX file carries as constant Reshape shapes.

Usage: gen_models_torch.py OUT_DIR [--only NAME ...] [--seed N]
Needs Debian's python3-torch and python3-torchvision (run with /usr/bin/python3).
"""
import argparse
import json
import os
import sys
import time
import zlib

import onnx
import torch
import torch.nn as nn
import torchvision

OPSET = 12
PRODUCER = "coedge gen_models_torch.py"


def model_seed(seed, name):
    """The seed of one model: the same whether it is generated alone (--only) or not."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31)


def randomize_batch_norms(module, gen):
    """Seeded affine parameters, so that folding a batch norm into its convolution is not
    the identity (parity then checks the folding too)."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def calibrate_batch_norms(module, make_input, passes=2):
    """Running statistics as the mean over a few seeded batches (momentum None = cumulative
    average), computed in train mode, then eval. Without this the defaults (mean 0, var 1)
    shrink activations layer after layer and outputs end near zero."""
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    with torch.no_grad():
        for i in range(passes):
            module(make_input(i))
    module.eval()


def kaiming(module, gen, bias=None):
    """He initialisation (fan in) for a network without batch norms, so that activations keep
    their scale through the depth. Biases: N(0, 0.01), or bias(shape, gen) when given."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(bias(m.bias.shape, gen) if bias else
                                 torch.randn(m.bias.shape, generator=gen) * 0.01)


# ---------------------------------------------------------------- classifiers

class VGG19(nn.Module):
    """VGG-19 (configuration E, no batch norm) whose classifier takes the 5 x 5 x 512 map of a
    160 x 160 input directly: no adaptive pooling, which the ONNX exporter cannot write for
    that size (docs/MODELS.md)."""

    def __init__(self, size, classes):
        super().__init__()
        layers, cin = [], 3
        for cout, repeats in ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)):
            for _ in range(repeats):
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
                cin = cout
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        spatial = size // 32
        self.classifier = nn.Sequential(
            nn.Linear(512 * spatial * spatial, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def build_resnet18(size, classes, gen):
    m = torchvision.models.resnet18(weights=None, num_classes=classes)
    randomize_batch_norms(m, gen)
    calibrate_batch_norms(m, lambda i: torch.randn(4, 3, size, size, generator=gen))
    return m


def build_mobilenetv3(size, classes, gen):
    m = torchvision.models.mobilenet_v3_large(weights=None, num_classes=classes)
    kaiming(m.classifier, gen)  # torchvision's N(0, 0.01) head gives logits near 0.05
    randomize_batch_norms(m, gen)
    calibrate_batch_norms(m, lambda i: torch.randn(4, 3, size, size, generator=gen))
    return m


def build_vgg19(size, classes, gen):
    m = VGG19(size, classes)
    kaiming(m, gen)
    return m.eval()


# ---------------------------------------------------------------- YOLOv5s v6.0

ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
STRIDES = [8, 16, 32]


class Conv(nn.Module):
    """YOLOv5's Conv: convolution without bias, batch norm, SiLU."""

    def __init__(self, cin, cout, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut):
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(c, c, 1), Conv(c, c, 3), shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    def __init__(self, cin, cout, n, shortcut=True):
        super().__init__()
        h = cout // 2
        self.cv1, self.cv2, self.cv3 = Conv(cin, h), Conv(cin, h), Conv(2 * h, cout)
        self.m = nn.Sequential(*(Bottleneck(h, shortcut) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], 1))


class SPPF(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        h = cin // 2
        self.cv1, self.cv2 = Conv(cin, h), Conv(4 * h, cout)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class DetectLevel(nn.Module):
    """One level of YOLOv5's Detect, decoded in the per-channel form (module docstring)."""

    def __init__(self, channels, size, level, classes):
        super().__init__()
        self.no, self.n = classes + 5, size // STRIDES[level]
        self.stride = STRIDES[level]
        self.conv = nn.Conv2d(channels, 3 * self.no, 1)
        n, stride = self.n, self.stride
        yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        grid = torch.stack([xx, yy], -1).reshape(1, n * n, 2).repeat(3, 1, 1).reshape(-1, 1, 1)
        anchor = torch.tensor(ANCHORS[level], dtype=torch.float32).reshape(3, 1, 2)
        anchor = anchor.repeat(1, n * n, 1).reshape(-1, 1, 1)
        self.register_buffer("grid_term", ((grid.float() - 0.5) * stride).contiguous())
        self.register_buffer("anchor_term", anchor.contiguous())

    def init_bias(self, classes):
        # YOLOv5's own Detect bias initialisation (_initialize_biases): objectness starts
        # near 8 objects per 640x640 image and classes near 0.6 / classes, so that, as with
        # trained weights, few rows pass the confidence filter and NMS stays cheap.
        bias = torch.zeros(3, self.no)
        bias[:, 4] = torch.log(torch.tensor(8 / (640 / self.stride) ** 2))
        bias[:, 5:] = torch.log(torch.tensor(0.6 / (classes - 0.99)))
        with torch.no_grad():
            self.conv.bias.copy_(bias.reshape(-1))

    def forward(self, x):
        no, nn_ = self.no, self.n * self.n
        # [N, 3*no, n, n] -> [N, 3, no, n*n] -> [N, 3, n*n, no] -> [N, 3*n*n, no]
        y = self.conv(x).reshape(-1, 3, no, nn_).permute(0, 1, 3, 2).reshape(-1, 3 * nn_, no)
        y = torch.sigmoid(y)
        # xy = (2 s - 0.5 + grid) * stride, wh = (2 s)^2 * anchor, one channel per value.
        xy = y[:, :, 0:2].reshape(-1, 6 * nn_, 1, 1) * (2.0 * self.stride) + self.grid_term
        wh2 = y[:, :, 2:4].reshape(-1, 6 * nn_, 1, 1) * 2.0
        wh = wh2 * wh2 * self.anchor_term
        return torch.cat([xy.reshape(-1, 3 * nn_, 2), wh.reshape(-1, 3 * nn_, 2), y[:, :, 4:no]], 2)


class YOLOv5s(nn.Module):
    """YOLOv5s v6.0 (depth 0.33, width 0.50): the layers of yolov5s.yaml, numbered."""

    def __init__(self, size, classes=80):
        super().__init__()
        self.b0, self.b1, self.b2 = Conv(3, 32, 6, 2, 2), Conv(32, 64, 3, 2), C3(64, 64, 1)
        self.b3, self.b4 = Conv(64, 128, 3, 2), C3(128, 128, 2)
        self.b5, self.b6 = Conv(128, 256, 3, 2), C3(256, 256, 3)
        self.b7, self.b8, self.b9 = Conv(256, 512, 3, 2), C3(512, 512, 1), SPPF(512, 512)
        self.h10, self.h13 = Conv(512, 256), C3(512, 256, 1, False)
        self.h14, self.h17 = Conv(256, 128), C3(256, 128, 1, False)
        self.h18, self.h20 = Conv(128, 128, 3, 2), C3(256, 256, 1, False)
        self.h21, self.h23 = Conv(256, 256, 3, 2), C3(512, 512, 1, False)
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.detect = nn.ModuleList(DetectLevel(c, size, i, classes) for i, c in enumerate((128, 256, 512)))

    def forward(self, x):
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        x10 = self.h10(self.b9(self.b8(self.b7(p4))))
        x14 = self.h14(self.h13(torch.cat([self.up(x10), p4], 1)))
        out3 = self.h17(torch.cat([self.up(x14), p3], 1))
        out4 = self.h20(torch.cat([self.h18(out3), x14], 1))
        out5 = self.h23(torch.cat([self.h21(out4), x10], 1))
        return torch.cat([d(f) for d, f in zip(self.detect, (out3, out4, out5))], 1)


def build_yolov5s(size, gen):
    m = YOLOv5s(size)
    for d in m.detect:
        d.init_bias(80)
    randomize_batch_norms(m, gen)
    calibrate_batch_norms(m, lambda i: torch.rand(4, 3, size, size, generator=gen))
    return m


# ---------------------------------------------------------------- the table and the writer

def classifier(build, size, classes):
    return dict(build=lambda gen: build(size, classes, gen), size=size, kind="classification",
                output="logits", out_shape=[classes], make_input=torch.randn)


def detector(size):
    rows = sum(3 * (size // s) ** 2 for s in STRIDES)
    return dict(build=lambda gen: build_yolov5s(size, gen), size=size, kind="detection",
                output="output0", out_shape=[rows, 85], make_input=torch.rand)


MODELS = {
    "resnet18-360": classifier(build_resnet18, 360, 10),
    "resnet18-224": classifier(build_resnet18, 224, 1000),
    "vgg19-160": classifier(build_vgg19, 160, 10),
    "mobilenetv3-224": classifier(build_mobilenetv3, 224, 1000),
    "yolov5s-640": detector(640),
    "yolov5s-160": detector(160),
}


def coedge_json(spec, seed):
    size = spec["size"]
    return json.dumps({
        "coedge_model": 1,
        "input": {"name": "images", "shape": [-1, 3, size, size]},
        "output": {"name": spec["output"], "shape": [-1, *spec["out_shape"]]},
        "kind": spec["kind"], "producer": PRODUCER, "seed": seed}, indent=1)


def check_close(name, what, got, want):
    err = (got - want).abs().max().item()
    tol = 1e-4 * want.abs().max().item() + 1e-5
    if err > tol:
        raise SystemExit(f"{name}: {what} differs from the eager module by {err:.3g} (> {tol:.3g})")


def declare_output_shape(path, shape):
    """torch 1.13's exporter cannot infer the sizes after a Reshape whose shape holds -1 when
    the batch is dynamic, so it declares the YOLO output as [N, sym, sym]. CoEdge reads the
    declared shape (without OpenCV) to pick the task kind and size shared memory, so the
    sizes the module produced are written into the output's declaration. Nodes and
    initializers stay as the exporter wrote them."""
    model = onnx.load(path)
    dims = model.graph.output[0].type.tensor_type.shape.dim
    if all(d.HasField("dim_value") for d in dims[1:]):
        return
    for d, size in zip(dims[1:], shape[1:]):
        d.Clear()
        d.dim_value = size
    onnx.save(model, path)


def write(name, spec, out_dir, seed):
    seed = model_seed(seed, name)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # torchvision initialises its layers from the global generator
    module = spec["build"](gen).eval()
    size = spec["size"]
    example = spec["make_input"](2, 3, size, size, generator=gen)
    check = spec["make_input"](3, 3, size, size, generator=gen)
    with torch.no_grad():
        want = module(check)
        peak = want.abs().max().item()
        if peak <= 1e-2:
            raise SystemExit(f"{name}: max|output| = {peak:.3g} at batch 3: the weights give "
                             "near-zero outputs, which no parity check can judge")
        if list(want.shape[1:]) != spec["out_shape"]:
            raise SystemExit(f"{name}: output shape {list(want.shape)}, expected [N, {spec['out_shape']}]")
        traced = torch.jit.trace(module, example)
        check_close(name, "the traced module at batch 3", traced(check), want)

    pt = os.path.join(out_dir, name + ".pt")
    tmp = os.path.join(out_dir, name + ".tmp.pt")
    torch.jit.save(traced, tmp, _extra_files={"coedge.json": coedge_json(spec, seed)})
    os.replace(tmp, pt)  # a half-written file never looks complete to make

    path = os.path.join(out_dir, name + ".onnx")
    tmp = path + ".tmp"
    out = spec["output"]
    with torch.no_grad():
        torch.onnx.export(module, example, tmp, opset_version=OPSET, do_constant_folding=True,
                          input_names=["images"], output_names=[out],
                          dynamic_axes={"images": {0: "N"}, out: {0: "N"}})
    declare_output_shape(tmp, [-1, *spec["out_shape"]])
    os.replace(tmp, path)
    print(f"wrote {pt} ({os.path.getsize(pt) / 1e6:.1f} MB) and {name}.onnx "
          f"({os.path.getsize(path) / 1e6:.1f} MB), max|output| {peak:.3g}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--only", nargs="*", choices=sorted(MODELS), help="models to write (default: all)")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out_dir, exist_ok=True)
    for name in args.only or sorted(MODELS):
        start = time.monotonic()
        write(name, MODELS[name], args.out_dir, args.seed)
        print(f"  {name}: {time.monotonic() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
