#!/usr/bin/python3
"""Writes ONNX files with the real architectures of the paper's Table 1 and seeded random
weights (no weights can be downloaded here, so these carry NO accuracy: they exist to
measure inference time and to exercise the pipeline; see docs/MODELS.md for using real
pretrained ONNX files instead).

  resnet18-360   ResNet-18, input N x 3 x 360 x 360, 10 classes       -> [N, 10]
  vgg19-160      VGG-19 (with its 4096-wide classifier), N x 3 x 160 x 160, 10 classes
  yolov5s-640    YOLOv5s v6.0, N x 3 x 640 x 640, 80 classes           -> [N, 25200, 85]
  yolov5s-160    YOLOv5s v6.0, N x 3 x 160 x 160                       -> [N, 1575, 85]

The batch dimension is dynamic ("N"). Batch norms are folded into the convolutions, as
an exporter for inference does. YOLO outputs follow the YOLOv5 export layout: per anchor
(cx, cy, w, h) in input pixels, objectness, then 80 class scores, all decoded in-graph.

Usage: gen_models.py OUT_DIR [--only NAME ...] [--seed N] [--fixtures]
(--fixtures writes the small models the tests use instead.)
Needs Debian's python3-onnx and python3-numpy (run with /usr/bin/python3).
"""
import argparse
import os
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 12


class Graph:
    """Accumulates nodes and initializers; names are unique by counter."""

    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.counter = [], [], 0

    def name(self, prefix):
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def const(self, array, prefix="c"):
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def conv(self, x, cin, cout, k, s=1, p=None, bias=True):
        p = k // 2 if p is None else p
        fan_in = cin * k * k
        w = (self.rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        inputs = [x, self.const(w, "w")]
        if bias:
            inputs.append(self.const((self.rng.standard_normal(cout) * 0.01).astype(np.float32), "b"))
        return self.op("Conv", inputs, kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])

    def gemm(self, x, cin, cout):
        w = (self.rng.standard_normal((cout, cin)) * np.sqrt(2.0 / cin)).astype(np.float32)
        b = np.zeros(cout, np.float32)
        return self.op("Gemm", [x, self.const(w, "w"), self.const(b, "b")], transB=1)

    def relu(self, x):
        return self.op("Relu", [x])

    def silu(self, x):
        return self.op("Mul", [x, self.op("Sigmoid", [x])])

    def model(self, name, input_shape, output_name, output_shape):
        inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", *input_shape])
        out = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", *output_shape])
        graph = helper.make_graph(self.nodes, name, [inp], [out], self.inits)
        m = helper.make_model(graph, producer_name="coedge-gen-models",
                              opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = 7
        return m

    def rename_last(self, new_name):
        self.nodes[-1].output[0] = new_name


def resnet18(rng, size=360, classes=10):
    g = Graph(rng)
    x = g.relu(g.conv("images", 3, 64, 7, 2, 3))
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            s = stride if block == 0 else 1
            y = g.relu(g.conv(x, cin, cout, 3, s))
            y = g.conv(y, cout, cout, 3, 1)
            shortcut = x if (s == 1 and cin == cout) else g.conv(x, cin, cout, 1, s, 0)
            x = g.relu(g.op("Add", [y, shortcut]))
            cin = cout
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x], axis=1)
    g.gemm(x, 512, classes)
    g.rename_last("logits")
    return g.model("resnet18", [3, size, size], "logits", [classes])


def vgg19(rng, size=160, classes=10):
    g = Graph(rng)
    x, cin = "images", 3
    for cout, repeats in ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)):
        for _ in range(repeats):
            x = g.relu(g.conv(x, cin, cout, 3))
            cin = cout
        x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = g.op("Flatten", [x], axis=1)
    spatial = size // 32
    x = g.relu(g.gemm(x, 512 * spatial * spatial, 4096))
    x = g.relu(g.gemm(x, 4096, 4096))
    g.gemm(x, 4096, classes)
    g.rename_last("logits")
    return g.model("vgg19", [3, size, size], "logits", [classes])


# YOLOv5s v6.0 (depth 0.33, width 0.50).
ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
STRIDES = [8, 16, 32]


def yolov5s(rng, size, classes=80):
    g = Graph(rng)

    def cbs(x, cin, cout, k=1, s=1, p=None):
        return g.silu(g.conv(x, cin, cout, k, s, p))

    def bottleneck(x, c, shortcut):
        y = cbs(cbs(x, c, c, 1), c, c, 3)
        return g.op("Add", [x, y]) if shortcut else y

    def c3(x, cin, cout, n, shortcut=True):
        h = cout // 2
        a = cbs(x, cin, h, 1)
        for _ in range(n):
            a = bottleneck(a, h, shortcut)
        b = cbs(x, cin, h, 1)
        return cbs(g.op("Concat", [a, b], axis=1), 2 * h, cout, 1)

    def sppf(x, cin, cout):
        h = cin // 2
        x = cbs(x, cin, h, 1)
        pools = [x]
        for _ in range(3):
            pools.append(g.op("MaxPool", [pools[-1]], kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2]))
        return cbs(g.op("Concat", pools, axis=1), 4 * h, cout, 1)

    def upsample(x):
        scales = g.const(np.array([1, 1, 2, 2], np.float32), "scales")
        roi = g.const(np.array([], np.float32), "roi")
        return g.op("Resize", [x, roi, scales], mode="nearest")

    x = cbs("images", 3, 32, 6, 2, 2)      # 0  P1/2
    x = cbs(x, 32, 64, 3, 2)               # 1  P2/4
    x = c3(x, 64, 64, 1)                   # 2
    x = cbs(x, 64, 128, 3, 2)              # 3  P3/8
    p3 = c3(x, 128, 128, 2)                # 4
    x = cbs(p3, 128, 256, 3, 2)            # 5  P4/16
    p4 = c3(x, 256, 256, 3)                # 6
    x = cbs(p4, 256, 512, 3, 2)            # 7  P5/32
    x = c3(x, 512, 512, 1)                 # 8
    x = sppf(x, 512, 512)                  # 9
    h10 = cbs(x, 512, 256, 1)              # 10
    x = g.op("Concat", [upsample(h10), p4], axis=1)
    x = c3(x, 512, 256, 1, False)          # 13
    h14 = cbs(x, 256, 128, 1)              # 14
    x = g.op("Concat", [upsample(h14), p3], axis=1)
    out3 = c3(x, 256, 128, 1, False)       # 17 (P3/8-small)
    x = g.op("Concat", [cbs(out3, 128, 128, 3, 2), h14], axis=1)
    out4 = c3(x, 256, 256, 1, False)       # 20 (P4/16-medium)
    x = g.op("Concat", [cbs(out4, 256, 256, 3, 2), h10], axis=1)
    out5 = c3(x, 512, 512, 1, False)       # 23 (P5/32-large)

    no = classes + 5
    rows = []
    for level, (feature, channels) in enumerate(((out3, 128), (out4, 256), (out5, 512))):
        stride = STRIDES[level]
        n = size // stride
        # YOLOv5's own Detect bias initialisation (_initialize_biases): objectness starts
        # near 8 objects per 640x640 image and classes near 0.6 / classes, so that, as with
        # trained weights, few rows pass the confidence filter and NMS stays cheap.
        bias = np.zeros((3, no), np.float32)
        bias[:, 4] = np.log(8 / (640 / stride) ** 2)
        bias[:, 5:] = np.log(0.6 / (classes - 0.99))
        y = g.conv(feature, channels, 3 * no, 1, bias=False)
        y = g.op("Add", [y, g.const(bias.reshape(-1, 1, 1), "detect_bias")])
        # [N, 3*no, n, n] -> [N, 3, no, n*n] -> [N, 3, n*n, no] -> [N, 3*n*n, no]
        y = g.op("Reshape", [y, g.const(np.array([-1, 3, no, n * n], np.int64), "shape")])
        y = g.op("Transpose", [y], perm=[0, 1, 3, 2])
        y = g.op("Reshape", [y, g.const(np.array([-1, 3 * n * n, no], np.int64), "shape")])
        y = g.op("Sigmoid", [y])
        # Decode as YOLOv5's Detect layer: xy = (2 s - 0.5 + grid) * stride, wh = (2 s)^2 * anchor.
        yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        grid = np.stack([xx, yy], -1).reshape(1, 1, n * n, 2).repeat(3, 1).reshape(1, 3 * n * n, 2)
        anchor = np.array(ANCHORS[level], np.float32).reshape(3, 1, 2).repeat(n * n, 1).reshape(1, 3 * n * n, 2)
        xy = g.op("Slice", [y, g.const(np.array([0], np.int64)), g.const(np.array([2], np.int64)),
                            g.const(np.array([2], np.int64))])
        wh = g.op("Slice", [y, g.const(np.array([2], np.int64)), g.const(np.array([4], np.int64)),
                            g.const(np.array([2], np.int64))])
        rest = g.op("Slice", [y, g.const(np.array([4], np.int64)), g.const(np.array([no], np.int64)),
                              g.const(np.array([2], np.int64))])
        # OpenCV's importer broadcasts a constant over the batch only as a per-channel scale
        # or shift, so the decode runs with each (anchor, cell, coordinate) as a channel.
        flat = g.const(np.array([-1, 6 * n * n, 1, 1], np.int64), "shape")
        back = g.const(np.array([-1, 3 * n * n, 2], np.int64), "shape")
        xy = g.op("Reshape", [xy, flat])
        xy = g.op("Mul", [xy, g.const(np.array(2.0 * stride, np.float32))])
        xy = g.op("Add", [xy, g.const(((grid - 0.5) * stride).astype(np.float32).reshape(-1, 1, 1))])
        xy = g.op("Reshape", [xy, back])
        wh = g.op("Reshape", [wh, flat])
        wh2 = g.op("Mul", [wh, g.const(np.array(2.0, np.float32))])
        wh = g.op("Mul", [g.op("Mul", [wh2, wh2]), g.const(anchor.reshape(-1, 1, 1))])
        wh = g.op("Reshape", [wh, back])
        rows.append(g.op("Concat", [xy, wh, rest], axis=2))
    g.op("Concat", rows, axis=1)
    g.rename_last("output0")
    total = sum(3 * (size // s) ** 2 for s in STRIDES)
    return g.model("yolov5s", [3, size, size], "output0", [total, no])


def tiny_classifier(rng, batch="N"):
    g = Graph(rng)
    x = g.relu(g.conv("images", 3, 8, 3))
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    g.gemm(x, 8, 4)
    g.rename_last("logits")
    m = g.model("tiny_classifier", [3, 32, 32], "logits", [4])
    if batch != "N":  # a file that fixes the batch size
        for v in (m.graph.input[0], m.graph.output[0]):
            v.type.tensor_type.shape.dim[0].dim_value = batch
    return m


def tiny_unsupported(rng):
    m = tiny_classifier(rng)
    m.graph.node.insert(0, helper.make_node("NoSuchOperator", ["images"], ["images_x"]))
    m.graph.node[1].input[0] = "images_x"
    return m  # deliberately invalid: checked by no checker


def tiny_identity(rng, output_identity=True):
    """tiny-classifier's graph and weights (drawn from tiny-classifier's seed with the
    default --seed, so the two compute the same function) as torch.onnx.export writes
    shared parameters: Identity nodes on initializers, one chain of two, and (unless
    output_identity is False) one whose output is a second graph output."""
    m = tiny_classifier(np.random.default_rng([2023, zlib.crc32(b"tiny-classifier")]))
    g = m.graph
    conv = next(n for n in g.node if n.op_type == "Conv")
    gemm = next(n for n in g.node if n.op_type == "Gemm")
    chain = [helper.make_node("Identity", [conv.input[1]], ["conv_w_id1"], name="Identity_0"),
             helper.make_node("Identity", ["conv_w_id1"], ["conv_w_id2"], name="Identity_1"),
             helper.make_node("Identity", [gemm.input[1]], ["gemm_w_id"], name="Identity_2")]
    conv.input[1], gemm.input[1] = "conv_w_id2", "gemm_w_id"
    g.value_info.append(helper.make_tensor_value_info("conv_w_id2", TensorProto.FLOAT, [8, 3, 3, 3]))
    for i, n in enumerate(chain):
        g.node.insert(i, n)
    if output_identity:
        g.node.append(helper.make_node("Identity", [gemm.input[2]], ["gemm_bias"], name="Identity_3"))
        g.output.append(helper.make_tensor_value_info("gemm_bias", TensorProto.FLOAT, [4]))
    return m


def tiny_subgraph(rng):
    """tiny-identity's Identity nodes plus an If node (a GRAPH attribute): a graph the
    normalizer must leave as it is."""
    m = tiny_identity(rng, output_identity=False)
    g = m.graph
    cond = numpy_helper.from_array(np.array(True), "cond")
    branch = lambda name: helper.make_graph(
        [helper.make_node("Identity", ["logits_pre"], [name + "_out"])], name, [],
        [helper.make_tensor_value_info(name + "_out", TensorProto.FLOAT, ["N", 4])])
    g.initializer.append(cond)
    g.node[-1].output[0] = "logits_pre"
    g.node.append(helper.make_node("If", ["cond"], ["logits"], then_branch=branch("then"),
                                   else_branch=branch("else")))
    return m


def tiny_se(rng):
    """A squeeze-and-excitation block (MobileNetV3's and EfficientNet's): x * HardSigmoid(
    Conv(Relu(Conv(GlobalAveragePool(x))))), a Mul of [N,C,H,W] by [N,C,1,1], which OpenCV
    4.6 imports with a dynamic batch as a Scale layer that fails at batch > 1."""
    g = Graph(rng)
    x = g.relu(g.conv("images", 3, 8, 3))
    s = g.relu(g.conv(g.op("GlobalAveragePool", [x]), 8, 4, 1, p=0))
    s = g.op("HardSigmoid", [g.conv(s, 4, 8, 1, p=0)], alpha=1.0 / 6, beta=0.5)
    x = g.op("Mul", [s, x])
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    g.gemm(x, 8, 4)
    g.rename_last("logits")
    return g.model("tiny_se", [3, 32, 32], "logits", [4])


def tiny_bad_gemm(rng):
    """tiny-classifier with a Gemm whose weights expect 9 inputs where there are 8: loads in
    OpenCV, fails in its first forward pass (a layer the load-time probe must name)."""
    m = tiny_classifier(rng)
    w = next(t for t in m.graph.initializer if list(t.dims) == [4, 8])
    w.CopyFrom(numpy_helper.from_array(np.ones((4, 9), np.float32), w.name))
    return m  # deliberately inconsistent: not checked


def tiny_detector(rng):
    g = Graph(rng)
    x = g.conv("images", 3, 6, 4, 4, 0)  # [N, 6, 8, 8]: 64 rows of (cx, cy, w, h, obj, cls)
    x = g.op("Reshape", [x, g.const(np.array([-1, 6, 64], np.int64), "shape")])
    x = g.op("Sigmoid", [g.op("Transpose", [x], perm=[0, 2, 1])])
    g.rename_last("output0")
    return g.model("tiny_detector", [3, 32, 32], "output0", [64, 6])


def tiny_segmenter(rng):
    # Per-pixel logits of 4 classes at the input's resolution, like DeepLabV3's "out" in
    # miniature; He-initialised convolutions keep the logits of order 1, so every class
    # wins somewhere on a textured frame.
    g = Graph(rng)
    x = g.relu(g.conv("images", 3, 8, 3))
    x = g.relu(g.conv(x, 8, 8, 3))
    g.conv(x, 8, 4, 1)
    g.rename_last("out")
    return g.model("tiny_segmenter", [3, 32, 32], "out", [4, 32, 32])


FIXTURES = {
    "tiny-classifier": tiny_classifier,
    "tiny-fixed-batch": lambda rng: tiny_classifier(rng, batch=2),
    "tiny-unsupported": tiny_unsupported,
    "tiny-detector": tiny_detector,
    "tiny-identity": tiny_identity,
    "tiny-subgraph": tiny_subgraph,
    "tiny-se": tiny_se,
    "tiny-bad-gemm": tiny_bad_gemm,
    "tiny-segmenter": tiny_segmenter,
}

MODELS = {
    "resnet18-360": lambda rng: resnet18(rng, 360),
    "vgg19-160": lambda rng: vgg19(rng, 160),
    "yolov5s-640": lambda rng: yolov5s(rng, 640),
    "yolov5s-160": lambda rng: yolov5s(rng, 160),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--only", nargs="*", choices=sorted(MODELS), help="models to write (default: all)")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--fixtures", action="store_true", help="write the small test models instead")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    table = FIXTURES if args.fixtures else MODELS
    for name in args.only or sorted(table):
        rng = np.random.default_rng([args.seed, zlib.crc32(name.encode())])  # same with --only
        model = table[name](rng)
        if name not in ("tiny-unsupported", "tiny-bad-gemm"):
            onnx.checker.check_model(model)
        path = os.path.join(args.out_dir, name + ".onnx")
        tmp = path + ".tmp"
        onnx.save(model, tmp)
        os.replace(tmp, path)  # a half-written file never looks complete to make
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
