"""Embeddings and vector maths shared by knowledge search and memory.

``client``: an OpenAI-compatible ``/v1/embeddings`` endpoint, built from one ``ModelConfig``;
``vectors``: packing, cosine ranking and rank fusion (numpy only when embeddings are on).
"""
