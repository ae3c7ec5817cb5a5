"""The latency benchmarker: what a network does cost on real hardware.

A sibling of the static analyzer (costlab.analysis), not a part of it: the analyzer says
what a network should cost, this package measures it. ``timing`` runs the loop, ``stats``
summarizes the samples, ``environment`` records where it ran.
"""
