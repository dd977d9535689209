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


def tiny_detector(rng):
    g = Graph(rng)
    x = g.conv("images", 3, 6, 4, 4, 0)  # [N, 6, 8, 8]: 64 rows of (cx, cy, w, h, obj, cls)
    x = g.op("Reshape", [x, g.const(np.array([-1, 6, 64], np.int64), "shape")])
    x = g.op("Sigmoid", [g.op("Transpose", [x], perm=[0, 2, 1])])
    g.rename_last("output0")
    return g.model("tiny_detector", [3, 32, 32], "output0", [64, 6])


FIXTURES = {
    "tiny-classifier": tiny_classifier,
    "tiny-fixed-batch": lambda rng: tiny_classifier(rng, batch=2),
    "tiny-unsupported": tiny_unsupported,
    "tiny-detector": tiny_detector,
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
        if name != "tiny-unsupported":
            onnx.checker.check_model(model)
        path = os.path.join(args.out_dir, name + ".onnx")
        tmp = path + ".tmp"
        onnx.save(model, tmp)
        os.replace(tmp, path)  # a half-written file never looks complete to make
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
