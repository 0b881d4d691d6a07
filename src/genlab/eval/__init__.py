"""Offline evaluation: `evaluate()`, the metrics, and genlab's own feature networks."""
