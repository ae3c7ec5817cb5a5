"""The counting conventions, in the words every table caption and the README use."""

from __future__ import annotations

MACS = ("MACs: multiply-accumulates of conv, linear, matmul and attention "
        "(MobileNet's Mult-Adds, ShuffleNet's FLOPs).")
FLOPS = ("FLOPs: 2 x MACs + the documented per-element cost of element-wise, normalization, "
         "activation, pooling, softmax and reduction ops (`costlab formulas`).")
MEMORY = ("Memory access: bytes read (activations and weights) + bytes written (outputs) per "
          "op, by dtype; views are free. MB = 10^6 bytes.")
PARAMS = "Params: unique parameter tensors, frozen ones included; buffers counted separately."
PEAK = ("Peak activation: the largest total of activation bytes alive at once, each tensor "
        "alive from the op that writes it to the last op that reads it.")

ALL = (MACS, FLOPS, MEMORY, PARAMS, PEAK)


def caption() -> str:
    return " ".join(ALL)

LATENCY = ("Latency: wall time of one forward pass (eval, inference mode) after warm-up, "
           "median of interleaved runs with a 95% bootstrap CI of the median; ms. "
           "Throughput = batch / median. Peak memory: peak RSS of a fresh process on the CPU, "
           "torch.cuda.max_memory_allocated on CUDA.")
