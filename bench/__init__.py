"""Benchmarks: Traymind against the loopback LLM stand-in called directly, in the same run."""
