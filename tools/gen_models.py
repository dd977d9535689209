#!/usr/bin/python3
"""Writes the small ONNX files the tests use (build/models/fixtures/NAME.onnx): graphs
written node by node with python3-onnx, because they are what no exporter writes on
purpose (an operator no backend has, a fixed batch size, a minimal detector layout, ...).

The paper's models (ResNet-18, VGG-19, YOLOv5s, MobileNetV3) come from
tools/gen_models_torch.py, which builds them in PyTorch and writes both formats, ONNX and
TorchScript, from the same weights (docs/MODELS.md).

Usage: gen_models.py OUT_DIR --fixtures [--only NAME ...] [--seed N]
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
    m = g.model("tiny_segmenter", [3, 32, 32], "out", [4, 32, 32])
    # How an ONNX file declares its task kind (docs/MODELS.md, "Segmentation"): a 4-D output
    # alone may as well be a heatmap that a worker of its own reads as floats.
    helper.set_model_props(m, {"coedge.kind": "segmentation"})
    return m


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

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--only", nargs="*", choices=sorted(FIXTURES), help="fixtures to write (default: all)")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--fixtures", action="store_true", required=True,
                        help="write the small test models (the paper's models: gen_models_torch.py)")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    table = FIXTURES
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
