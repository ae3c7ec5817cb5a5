#!/usr/bin/env bash
# Regenerates every checked-in report from the current code: bash reports/regenerate.sh
set -euo pipefail
# reports/torchvision_check.md needs torchvision: python benchmarks/torchvision_check.py > reports/torchvision_check.md
cd "$(dirname "$0")"
# the papers' tables (NAME.md and NAME.csv), CPU latency included: a few minutes
costlab report --all --out-dir . --threads 1  # one thread: steadier on a shared machine
costlab analyze mobilenet_v2 --depth 2 --no-layers -o mobilenet_v2_modules.md
costlab formulas -o formulas.md
for model in shufflenet_v1 shufflenet_v2 mobilenet_v2 nasnet_a_mobile; do
  costlab guidelines "$model" --top 5 -o "guidelines_$model.md"
done
