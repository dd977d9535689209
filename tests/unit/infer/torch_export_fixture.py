#!/usr/bin/python3
"""Writes what a user gets from PyTorch's exporter, for torch_export_test.cc: torchvision
MobileNetV3-Small (random weights, nothing downloaded) at 64x64, exported raw with
torch.onnx.export (opset 12, dynamic batch), plus a seeded batch of 4 inputs and PyTorch's
outputs for it.

Usage: torch_export_fixture.py OUT_DIR  (writes model.onnx, input.f32, output.f32)
The batch norms are calibrated on random data first: with torchvision's initialisation
alone the outputs are ~1e-10, which no comparison can tell from zero.
"""
import os
import sys

import torch
import torchvision


def main():
    out = sys.argv[1]
    torch.hub.load_state_dict_from_url = None  # a download would fail loudly
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(weights=None, num_classes=10)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, 3, 64, 64))
    model.eval()
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        y = model(x)
    assert y.abs().max() > 1e-2, f"outputs too small to compare: {y.abs().max()}"
    torch.onnx.export(model, x[:1], os.path.join(out, "model.onnx"), opset_version=12,
                      input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    x.numpy().tofile(os.path.join(out, "input.f32"))
    y.numpy().tofile(os.path.join(out, "output.f32"))


if __name__ == "__main__":
    main()
