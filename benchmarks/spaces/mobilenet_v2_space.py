"""A MobileNet-V2-style search space (OFA-like): width, expansion ratio, blocks per stage
and depthwise kernel of MobileNetV2's seven stages of inverted residuals (Sandler et al.
2018, Table 2), for ``costlab sweep benchmarks/spaces/mobilenet_v2_space.py:build``."""

from torch import nn

# MobileNetV2's stages: (output channels, blocks at depth 1.0, first stride)
STAGES = ((16, 1, 1), (24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1))


def _channels(c: float) -> int:
    return max(8, int(c + 4) // 8 * 8)  # the nearest multiple of 8, as MobileNets round


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int, kernel: int):
        super().__init__()
        hidden = c_in * expansion
        self.residual = stride == 1 and c_in == c_out
        self.body = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def build(width: float = 1.0, expansion: int = 6, depth: int = 1, kernel: int = 3,
          num_classes: int = 1000) -> nn.Module:
    """``depth`` adds that many blocks minus one to every stage but the first and last."""
    c = _channels(32 * width)
    layers = [nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU6()]
    for i, (out, blocks, stride) in enumerate(STAGES):
        out = _channels(out * width)
        count = blocks if i in (0, len(STAGES) - 1) else blocks + depth - 1
        for b in range(count):
            layers.append(InvertedResidual(c, out, stride if b == 0 else 1,
                                           1 if i == 0 else expansion, kernel))
            c = out
    last = _channels(1280 * max(1.0, width))
    layers += [nn.Conv2d(c, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(last, num_classes)]
    return nn.Sequential(*layers)
