"""The agent runtime: pydantic-ai agents built from config, their runs and their events."""
