"""Structure-safe translation of benchmarks: specs, segments, engines, checks, post-editing."""
