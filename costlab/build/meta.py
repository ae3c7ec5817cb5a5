"""Construction on meta (placeholder until meta_kernels moves into build)."""

from costlab.analysis.meta_kernels import meta_construction  # noqa: F401
