"""The serving side of ``costlab serve-bench``: one request's JSON in, one reply out.

A board over ssh gets a ``protocol.BenchRequest`` and runs ``runner.bench``; a local round
worker (``bench.rounds``) gets a ``protocol.RoundRequest`` and times its models
interleaved, one round, with ``runner.bench_models``. Apart from ``protocol`` so that the
runner can send round requests without importing what serves them.
"""

from __future__ import annotations

import json

from costlab.bench.protocol import (REQUEST_KIND, ROUND_REQUEST_KIND, BenchRequest,
                                    RoundRequest, json_object, report_envelope,
                                    round_envelope)
from costlab.core.errors import UsageError


def serve(request_text: str) -> str:
    """The worker's side: one request's JSON in, its report envelope's JSON out. A board
    gets bench requests; a local round worker gets round requests."""
    from costlab.bench.runner import bench, bench_models  # torch: only when serving

    data = json_object(request_text, REQUEST_KIND, UsageError)
    if data.get("kind") == ROUND_REQUEST_KIND:
        request = RoundRequest.from_dict(data)
        # one round, here; on CUDA the allocator's peak is read here too, where the model ran
        settings = {**request.bench.bench_settings(), "device": request.device, "rounds": 1}
        comparison = bench_models(request.models, request.bench.bench_options(), **settings)
        return json.dumps(round_envelope(comparison.reports)) + "\n"
    request = BenchRequest.from_dict(data)
    report = bench(request.model, request.bench_options(), **request.bench_settings())
    return json.dumps(report_envelope(report)) + "\n"
