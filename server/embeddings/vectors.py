"""Embedding vectors: stored as little-endian float32 blobs, ranked by cosine similarity.

numpy is imported only here, and only when a config turns embeddings on, so a
lexical-only setup never pays for it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np

Item = TypeVar("Item", bound=Hashable)


def pack(vector: Sequence[float]) -> bytes:
    """A unit-length float32 blob (normalised once here, so search is a dot product)."""
    import numpy as np

    array = np.asarray(vector, dtype="<f4")
    norm = float(np.linalg.norm(array))
    return (array / norm if norm else array).astype("<f4").tobytes()


def unpack(blob: bytes) -> np.ndarray:
    import numpy as np

    return np.frombuffer(blob, dtype="<f4")


class VectorMatrix:
    """Row ids and their unit vectors in one matrix, for a brute-force nearest search.

    Brute force over float32 is a few milliseconds at 10k passages of 768
    dimensions, and needs no index structure to keep in sync with SQLite.
    """

    def __init__(self, ids: list[int], blobs: list[bytes]) -> None:
        import numpy as np

        by_dims: dict[int, list[int]] = {}
        for index, blob in enumerate(blobs):
            by_dims.setdefault(len(blob) // 4, []).append(index)
        # Vectors from an earlier model may linger until re-embedded: keep the common size.
        dims = max(by_dims, key=lambda d: len(by_dims[d])) if by_dims else 0
        keep = by_dims.get(dims, [])
        self.ids = np.asarray([ids[i] for i in keep], dtype=np.int64)
        self.matrix = (
            np.vstack([unpack(blobs[i]) for i in keep])
            if keep
            else np.zeros((0, dims), dtype="<f4")
        )

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, query: Sequence[float], limit: int) -> list[tuple[int, float]]:
        """The ``limit`` closest rows as (id, cosine similarity), best first."""
        import numpy as np

        if not len(self.ids) or self.matrix.shape[1] != len(query):
            return []
        scores = self.matrix @ unpack(pack(query))
        limit = min(limit, len(scores))
        top = np.argpartition(-scores, limit - 1)[:limit]
        top = top[np.argsort(-scores[top])]
        return [(int(self.ids[i]), float(scores[i])) for i in top]


def fuse(rankings: Sequence[Sequence[Item]], k: int = 60) -> list[Item]:
    """Reciprocal rank fusion: one ranking from several, without comparing their scores.

    BM25 scores and cosine similarities live on different scales (and BM25 ones
    differ between indexes); ranks do not, which is why fusion uses only them.
    """
    scores: dict[Item, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=lambda item: -scores[item])
