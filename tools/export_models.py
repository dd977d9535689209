#!/usr/bin/python3
"""Exports a zoo of models the way users export them, to try CoEdge's loaders on what
PyTorch's exporters really write (docs/MODELS.md, "Exporting your own models").

  resnet18, mobilenet_v3_large, efficientnet_b0, vgg19   torchvision classifiers, 224 x 224
  deeplabv3_mobilenet_v3_large   torchvision segmentation, 21 classes, no aux head, wrapped
                                 to return model(x)["out"], 520 x 520
  vgg19-160                      torchvision VGG-19 at 160 x 160: its adaptive pooling
                                 (7 x 7 from 5 x 5) cannot be exported to ONNX; the
                                 exporter's message is written to vgg19-160.onnx.error
  yolov5s                        YOLOv5s v6.0 as the YOLOv5 repository builds it (Conv, C3,
                                 SPPF, Detect with grid and anchor_grid, Conv+BN fused,
                                 export=True, inplace=False) and exported as its export.py
                                 does, 640 x 640

Each model is written as NAME.onnx, raw as torch.onnx.export writes it (opset 12, dynamic
batch only, do_constant_folding=True; NOT normalized: CoEdge's loader does that), and as
NAME.pt, torch.jit.trace of the same module saved with extra/coedge.json (the tensors CoEdge
reads without libtorch). Weights are seeded (torch.manual_seed) and batch-norm statistics are
calibrated on seeded input so that outputs are O(1): untrained torchvision models give
outputs near 0 in eval mode, which no parity check can judge. Nothing is downloaded: every
torchvision builder gets weights=None (and weights_backbone=None), and torch.hub's download
functions are replaced by ones that raise.

  export_models.py [--out DIR] [--models a,b] [--size N] [--seed N]
  export_models.py --list
  export_models.py --add-metadata FILE.pt --input 3xHxW [--kind K] [--out FILE]

--size N sets the input size of every selected model except vgg19-160. --add-metadata loads
a TorchScript file written elsewhere, runs one batch to learn its output and re-saves it
(atomically, in place unless --out names a file) with extra/coedge.json.
Needs Debian's python3-torch, python3-torchvision and python3-onnx (run with /usr/bin/python3).
"""
import argparse
import json
import math
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_models_torch as gm  # noqa: E402  (seed and batch-norm helpers)
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402

OPSET = 12
PRODUCER = "coedge export_models.py"
DOWNLOADS = []  # every download attempted (there must be none)


def forbid_downloads():
    """Replaces torch.hub's download entry points (and torchvision's bound copies of them)
    with functions that record the attempt and raise."""
    def refuse(url, *args, **kwargs):
        DOWNLOADS.append(str(url))
        raise RuntimeError(f"download attempted: {url} (export_models.py never downloads)")
    torch.hub.load_state_dict_from_url = refuse
    torch.hub.download_url_to_file = refuse
    for module_name in ("torchvision._internally_replaced_utils", "torchvision.models._api",
                        "torchvision.models._utils"):
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, "load_state_dict_from_url"):
            module.load_state_dict_from_url = refuse


# ---------------------------------------------------------------- YOLOv5, as the repository builds it

def autopad(k, p=None):
    return k // 2 if p is None else p


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU() if act is True else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))

    def forward_fuse(self, x):
        return self.act(self.conv(x))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, g, e=1.0) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class Concat(nn.Module):
    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension

    def forward(self, x):
        return torch.cat(x, self.d)


class Detect(nn.Module):
    stride = None
    export = False
    dynamic = False

    def __init__(self, nc=80, anchors=(), ch=(), inplace=True):
        super().__init__()
        self.nc, self.no = nc, nc + 5
        self.nl, self.na = len(anchors), len(anchors[0]) // 2
        self.grid = [torch.empty(0) for _ in range(self.nl)]
        self.anchor_grid = [torch.empty(0) for _ in range(self.nl)]
        self.register_buffer("anchors", torch.tensor(anchors).float().view(self.nl, -1, 2))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.inplace = inplace

    def forward(self, x):
        z = []
        for i in range(self.nl):
            x[i] = self.m[i](x[i])
            bs, _, ny, nx = x[i].shape
            x[i] = x[i].view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            if not self.training:
                if self.dynamic or self.grid[i].shape[2:4] != x[i].shape[2:4]:
                    self.grid[i], self.anchor_grid[i] = self._make_grid(nx, ny, i)
                y = x[i].sigmoid()
                if self.inplace:
                    y[..., 0:2] = (y[..., 0:2] * 2 + self.grid[i]) * self.stride[i]
                    y[..., 2:4] = (y[..., 2:4] * 2) ** 2 * self.anchor_grid[i]
                else:
                    xy, wh, conf = y.split((2, 2, self.nc + 1), 4)
                    xy = (xy * 2 + self.grid[i]) * self.stride[i]
                    wh = (wh * 2) ** 2 * self.anchor_grid[i]
                    y = torch.cat((xy, wh, conf), 4)
                z.append(y.view(bs, self.na * nx * ny, self.no))
        return x if self.training else (torch.cat(z, 1),) if self.export else (torch.cat(z, 1), x)

    def _make_grid(self, nx=20, ny=20, i=0):
        d, t = self.anchors[i].device, self.anchors[i].dtype
        shape = 1, self.na, ny, nx, 2
        y, x = torch.arange(ny, device=d, dtype=t), torch.arange(nx, device=d, dtype=t)
        yv, xv = torch.meshgrid(y, x, indexing="ij")
        grid = torch.stack((xv, yv), 2).expand(shape) - 0.5
        anchor_grid = (self.anchors[i] * self.stride[i]).view((1, self.na, 1, 1, 2)).expand(shape)
        return grid, anchor_grid


# yolov5s.yaml (v6.0): [from, number, module, args] with depth 0.33 and width 0.50 applied.
YOLOV5S = [
    [-1, 1, Conv, [3, 32, 6, 2, 2]],       # 0-P1/2
    [-1, 1, Conv, [32, 64, 3, 2]],         # 1-P2/4
    [-1, 1, C3, [64, 64, 1]],
    [-1, 1, Conv, [64, 128, 3, 2]],        # 3-P3/8
    [-1, 1, C3, [128, 128, 2]],
    [-1, 1, Conv, [128, 256, 3, 2]],       # 5-P4/16
    [-1, 1, C3, [256, 256, 3]],
    [-1, 1, Conv, [256, 512, 3, 2]],       # 7-P5/32
    [-1, 1, C3, [512, 512, 1]],
    [-1, 1, SPPF, [512, 512, 5]],          # 9
    [-1, 1, Conv, [512, 256, 1, 1]],
    [-1, 1, nn.Upsample, [None, 2, "nearest"]],
    [[-1, 6], 1, Concat, [1]],             # cat backbone P4
    [-1, 1, C3, [512, 256, 1, False]],     # 13
    [-1, 1, Conv, [256, 128, 1, 1]],
    [-1, 1, nn.Upsample, [None, 2, "nearest"]],
    [[-1, 4], 1, Concat, [1]],             # cat backbone P3
    [-1, 1, C3, [256, 128, 1, False]],     # 17 (P3/8-small)
    [-1, 1, Conv, [128, 128, 3, 2]],
    [[-1, 14], 1, Concat, [1]],            # cat head P4
    [-1, 1, C3, [256, 256, 1, False]],     # 20 (P4/16-medium)
    [-1, 1, Conv, [256, 256, 3, 2]],
    [[-1, 10], 1, Concat, [1]],            # cat head P5
    [-1, 1, C3, [512, 512, 1, False]],     # 23 (P5/32-large)
    [[17, 20, 23], 1, Detect, [80, [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119],
                                    [116, 90, 156, 198, 373, 326]], [128, 256, 512]]],
]


class DetectionModel(nn.Module):
    """The repository's model: layers in a Sequential, each with `f` (from) and `i` (index),
    outputs kept where later layers read them."""

    def __init__(self, cfg=YOLOV5S):
        super().__init__()
        layers, self.save = [], []
        for i, (f, _, module, args) in enumerate(cfg):
            m = module(*args)
            m.f, m.i = f, i
            self.save.extend(x % i for x in ([f] if isinstance(f, int) else f) if x != -1)
            layers.append(m)
        self.model = nn.Sequential(*layers)
        detect = self.model[-1]
        s = 256  # strides from a forward pass, as the repository computes them
        detect.inplace = False
        detect.stride = torch.tensor([s / x.shape[-2] for x in self.forward(torch.zeros(1, 3, s, s))])
        detect.anchors /= detect.stride.view(-1, 1, 1)
        self.stride = detect.stride
        self._initialize_biases()

    def forward(self, x):
        y = []
        for m in self.model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x if m.i in self.save else None)
        return x

    def _initialize_biases(self):
        m = self.model[-1]
        for mi, s in zip(m.m, m.stride):
            b = mi.bias.view(m.na, -1).detach().clone()
            b[:, 4] += math.log(8 / (640 / float(s)) ** 2)
            b[:, 5:] += math.log(0.6 / (m.nc - 0.99))
            mi.bias = torch.nn.Parameter(b.view(-1), requires_grad=True)

    def fuse(self):
        """Conv+BN fusion as the repository's fuse_conv_and_bn does."""
        for m in self.model.modules():
            if isinstance(m, Conv) and hasattr(m, "bn"):
                m.conv = fuse_conv_and_bn(m.conv, m.bn)
                delattr(m, "bn")
                m.forward = m.forward_fuse
        return self


def fuse_conv_and_bn(conv, bn):
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=conv.kernel_size,
                      stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                      groups=conv.groups, bias=True).requires_grad_(False)
    w_conv = conv.weight.clone().view(conv.out_channels, -1)
    w_bn = torch.diag(bn.weight.div(torch.sqrt(bn.eps + bn.running_var)))
    fused.weight.copy_(torch.mm(w_bn, w_conv).view(fused.weight.shape))
    b_conv = torch.zeros(conv.weight.size(0)) if conv.bias is None else conv.bias
    b_bn = bn.bias - bn.weight.mul(bn.running_mean).div(torch.sqrt(bn.running_var + bn.eps))
    fused.bias.copy_(torch.mm(w_bn, b_conv.reshape(-1, 1)).reshape(-1) + b_bn)
    return fused


def build_yolov5s(size, gen):
    model = DetectionModel()
    gm.randomize_batch_norms(model, gen)
    gm.calibrate_batch_norms(model, lambda i: torch.rand(2, 3, size, size, generator=gen))
    model = model.fuse().eval()
    detect = model.model[-1]
    detect.inplace, detect.export, detect.dynamic = False, True, False  # export.py's settings
    im = torch.zeros(1, 3, size, size)
    for _ in range(2):  # export.py's dry runs (they build the grids)
        model(im)
    return model


# ---------------------------------------------------------------- the zoo

class Segmentation(nn.Module):
    """torchvision segmentation models return a dict; the exported function returns "out"."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def torchvision_model(builder, **kwargs):
    def build(size, gen):
        m = builder(weights=None, **kwargs)
        gm.calibrate_batch_norms(m, lambda i: torch.randn(2, 3, size, size, generator=gen))
        if not any(isinstance(x, nn.BatchNorm2d) for x in m.modules()):
            gm.kaiming(m, gen)  # VGG: no batch norm to calibrate, He init keeps the scale
        return m.eval()
    return build


def deeplab(size, gen):
    m = torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=21, aux_loss=False)
    m = Segmentation(m)
    gm.calibrate_batch_norms(m, lambda i: torch.randn(2, 3, size, size, generator=gen))
    return m.eval()


ZOO = {  # name: (builder, default size, kind, resizable by --size)
    "resnet18": (torchvision_model(torchvision.models.resnet18), 224, "classification", True),
    "mobilenet_v3_large": (torchvision_model(torchvision.models.mobilenet_v3_large), 224, "classification", True),
    "efficientnet_b0": (torchvision_model(torchvision.models.efficientnet_b0), 224, "classification", True),
    "vgg19": (torchvision_model(torchvision.models.vgg19), 224, "classification", True),
    "deeplabv3_mobilenet_v3_large": (deeplab, 520, "segmentation", True),
    "vgg19-160": (torchvision_model(torchvision.models.vgg19), 160, "classification", False),
    "yolov5s": (build_yolov5s, 640, "detection", True),
}


def first_tensor(out):
    """The tensor a model returns, also from YOLOv5's 1-tuple or a segmentation dict."""
    if isinstance(out, (tuple, list)):
        return first_tensor(out[0])
    if isinstance(out, dict):
        return out["out"] if "out" in out else first_tensor(next(iter(out.values())))
    return out


def metadata(input_name, size_chw, output_name, out_item_shape, kind, seed=None, producer=PRODUCER):
    doc = {"coedge_model": 1,
           "input": {"name": input_name, "shape": [-1, *size_chw]},
           "output": {"name": output_name, "shape": [-1, *out_item_shape]},
           "kind": kind, "producer": producer}
    if seed is not None:
        doc["seed"] = seed
    return json.dumps(doc, indent=1)


def identity_counts(path):
    model = onnx.load(path, load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    ids = [n for n in model.graph.node if n.op_type == "Identity"]
    return sum(1 for n in ids if n.input and n.input[0] in inits), len(ids), len(model.graph.node)


def progress(text):
    if sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)


def export_one(name, out_dir, size, seed):
    build, default_size, kind, resizable = ZOO[name]
    size = size if (size and resizable) else default_size
    seed = gm.model_seed(seed, name)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    row = {"model": name, "input": f"3x{size}x{size}", "kind": kind, "onnx": None, "pt": None,
           "identity": None, "error": None, "max_out": None}
    progress(f"{name}: building at {size}x{size}")
    module = build(size, gen)
    example = (torch.rand if kind == "detection" else torch.randn)(2, 3, size, size, generator=gen)
    with torch.no_grad():
        out = first_tensor(module(example))
    row["max_out"] = out.abs().max().item()
    if row["max_out"] <= 1e-2:
        row["error"] = f"max|output| = {row['max_out']:.3g}: outputs near zero, not written"
        return row
    output_name = "output0" if kind == "detection" else "output"

    progress(f"{name}: TorchScript")
    pt = os.path.join(out_dir, name + ".pt")
    with torch.no_grad():
        traced = torch.jit.trace(module, example, strict=False)
    extra = {"coedge.json": metadata("images", [3, size, size], output_name, list(out.shape[1:]), kind, seed)}
    if kind == "detection":  # what YOLOv5's export.py writes beside the model
        extra["config.txt"] = json.dumps({"shape": [1, 3, size, size], "stride": 32,
                                          "names": {i: f"class{i}" for i in range(80)}})
    tmp = os.path.join(out_dir, name + ".tmp.pt")
    torch.jit.save(traced, tmp, _extra_files=extra)
    os.replace(tmp, pt)
    row["pt"] = os.path.getsize(pt)

    progress(f"{name}: ONNX")
    path = os.path.join(out_dir, name + ".onnx")
    error_path = path + ".error"
    tmp = path + ".tmp"
    try:
        with torch.no_grad():
            torch.onnx.export(module, example, tmp, opset_version=OPSET, do_constant_folding=True,
                              input_names=["images"], output_names=[output_name],
                              dynamic_axes={"images": {0: "batch"}, output_name: {0: "batch"}})
        if kind == "segmentation":
            # The one thing a user adds to the exporter's file: CoEdge treats a 4-D output as
            # per-pixel classes only when the file says so (docs/MODELS.md, "Segmentation").
            model = onnx.load(tmp)
            onnx.helper.set_model_props(model, {"coedge.kind": "segmentation"})
            onnx.save(model, tmp)
        os.replace(tmp, path)
        row["onnx"] = os.path.getsize(path)
        row["identity"] = identity_counts(path)
        if os.path.exists(error_path):
            os.remove(error_path)
    except Exception as e:  # the exporter's own failure is a result, recorded beside the file
        message = f"{type(e).__name__}: {e}".strip()
        row["error"] = message.splitlines()[0][:200]
        with open(error_path, "w") as f:
            f.write(f"torch {torch.__version__} torch.onnx.export (opset {OPSET}) of {name} "
                    f"at {size}x{size} failed:\n{message}\n")
        for stale in (tmp, path):
            if os.path.exists(stale):
                os.remove(stale)
    return row


def summary(rows, out_dir):
    def mb(n):
        return "-" if n is None else f"{n / 1e6:.1f}"
    lines = [f"Exported into {out_dir} (downloads attempted: {len(DOWNLOADS)})",
             f"{'model':30} {'input':10} {'kind':15} {'onnx MB':>8} {'pt MB':>8} "
             f"{'Identity on init/all/nodes':>27} {'max|out|':>9}  error"]
    for r in rows:
        ids = "-" if r["identity"] is None else "%d/%d/%d" % r["identity"]
        peak = "-" if r["max_out"] is None else f"{r['max_out']:.3g}"
        lines.append(f"{r['model']:30} {r['input']:10} {r['kind']:15} {mb(r['onnx']):>8} {mb(r['pt']):>8} "
                     f"{ids:>27} {peak:>9}  {r['error'] or ''}")
    print("\n".join(lines))


# ---------------------------------------------------------------- --add-metadata

def parse_chw(text):
    try:
        c, h, w = (int(v) for v in text.lower().split("x"))
        if min(c, h, w) <= 0:
            raise ValueError
        return [c, h, w]
    except ValueError:
        raise SystemExit(f"--input {text!r}: expected CxHxW with positive integers, e.g. 3x224x224")


def add_metadata(path, chw, kind, out_path):
    if not os.path.isfile(path):
        raise SystemExit(f"--add-metadata {path}: no such file")
    extra = {"config.txt": ""}
    try:
        module = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    except Exception as e:
        raise SystemExit(f"--add-metadata {path}: not a TorchScript file torch.jit.load can read: "
                         f"{str(e).splitlines()[0]}")
    module.eval()
    shapes = []
    with torch.no_grad():
        for batch in (1, 2):
            try:
                out = first_tensor(module(torch.rand(batch, *chw)))
            except Exception as e:
                raise SystemExit(f"--add-metadata {path}: a batch of {batch} x {'x'.join(map(str, chw))} "
                                 f"failed in the model: {str(e).splitlines()[0]} (check --input)")
            if not isinstance(out, torch.Tensor) or out.shape[0] != batch:
                raise SystemExit(f"--add-metadata {path}: the output of a batch of {batch} is not a tensor "
                                 "with the batch as its first axis")
            shapes.append(list(out.shape[1:]))
    if shapes[0] != shapes[1]:
        raise SystemExit(f"--add-metadata {path}: the output's item shape changes with the batch "
                         f"({shapes[0]} at 1, {shapes[1]} at 2)")
    item = shapes[0]
    if kind is None:
        kind = {1: "classification", 2: "detection", 3: "segmentation"}.get(len(item))
        if kind is None:
            raise SystemExit(f"--add-metadata {path}: output [N, {item}] fits no kind; give --kind")
    files = {"coedge.json": metadata("images", chw, "output", item, kind,
                                     producer="coedge export_models.py --add-metadata")}
    if extra["config.txt"]:
        files["config.txt"] = extra["config.txt"]
    out_path = out_path or path
    tmp = out_path + ".tmp"
    torch.jit.save(module, tmp, _extra_files=files)
    os.replace(tmp, out_path)
    print(f"wrote {out_path}: input [N, {', '.join(map(str, chw))}], output [N, "
          f"{', '.join(map(str, item))}], kind {kind}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="output folder (default build/zoo), or with --add-metadata the file to write")
    parser.add_argument("--models", help="comma-separated names (default: all; --list shows them)")
    parser.add_argument("--size", type=int, help="input size of every model but vgg19-160")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--list", action="store_true", help="list the models and exit")
    parser.add_argument("--add-metadata", metavar="FILE.pt", help="re-save a TorchScript file with extra/coedge.json")
    parser.add_argument("--input", help="with --add-metadata: the input item shape CxHxW")
    parser.add_argument("--kind", choices=["classification", "detection", "segmentation"],
                        help="with --add-metadata: the kind (default: from the output's rank)")
    args = parser.parse_args(argv)
    forbid_downloads()
    # As YOLOv5's export.py does: the tracer's notes on Python values are expected here.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.list:
        for name, (_, size, kind, _) in ZOO.items():
            print(f"{name:30} {size}x{size} {kind}")
        return 0
    if args.add_metadata:
        if not args.input:
            parser.error("--add-metadata needs --input CxHxW")
        add_metadata(args.add_metadata, parse_chw(args.input), args.kind, args.out)
        return 0
    names = args.models.split(",") if args.models else list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)} (known: {', '.join(ZOO)})")
    if args.size is not None and args.size < 32:
        parser.error(f"--size {args.size}: at least 32")
    out_dir = args.out or "build/zoo"
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for name in names:
        start = time.monotonic()
        rows.append(export_one(name, out_dir, args.size, args.seed))
        progress(f"{name}: done in {time.monotonic() - start:.1f} s")
    summary(rows, out_dir)
    if DOWNLOADS:
        print(f"error: {len(DOWNLOADS)} download(s) attempted: {DOWNLOADS}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
