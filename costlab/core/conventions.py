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

TRAINING = ("Training step: the forward in train mode, the loss, the backward traced through "
            "autograd (weight gradients for parameters that require grad, none for inputs) "
            "and the optimizer step (per-element formulas, `costlab formulas`), each phase "
            "counted by the same rules. Step peak: weights, fp32 masters and optimizer state "
            "plus the largest total of activations, temporaries and gradients alive at once.")

ALL = (MACS, FLOPS, MEMORY, PARAMS, PEAK)


def caption(training: bool = False) -> str:
    """Every convention in one paragraph; a training step's adds how the step is counted."""
    return " ".join(ALL + ((TRAINING,) if training else ()))

LATENCY = ("Latency: wall time of one forward pass (eval, inference mode) after warm-up, "
           "median of interleaved runs with a 95% bootstrap CI of the median; ms. "
           "Throughput = batch / median. Peak memory: peak RSS of a fresh process on the CPU, "
           "torch.cuda.max_memory_allocated on CUDA.")
