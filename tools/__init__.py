"""Developer tools: ``python -m tools.build`` builds and measures the installers."""
