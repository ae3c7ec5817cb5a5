"""The bottom layer: records and results, vocabulary, errors, versions. Imports nothing else
of costlab, so every other layer may import it."""
