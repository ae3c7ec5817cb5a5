"""Value types shared by every layer of costlab: records, counts, categories."""
