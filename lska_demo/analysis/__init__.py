"""Analysis: cost (params, FLOPs, latency), effective receptive fields, attention maps, kernel views."""
