"""Chat completions: one agent turn per request, run, rendered and stored."""
