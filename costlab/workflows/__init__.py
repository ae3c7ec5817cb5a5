"""Everything that runs several analyses or joins static and measured numbers: analyze with
its CPU fallback, compare (with latency), sweep, profile, the empirical guidelines and the
papers' reports. Each returns a result that ``costlab.report`` turns into a document."""
