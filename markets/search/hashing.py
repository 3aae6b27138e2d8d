"""The lexical fallback embedder: feature hashing of words, word pairs and character n-grams.

It needs nothing beyond numpy and finds markets that share words (or word parts) with the
query; unlike the sentence model it knows nothing of meaning ("BTC" is not "bitcoin").
"""

from __future__ import annotations

import itertools
import re
import unicodedata
import zlib
from collections.abc import Iterator, Sequence

import numpy as np

from domain.ports import Vectors

WORD = re.compile(r"[a-z0-9]+")
# Thousands separators ("100,000") and possessives ("Musk's") would split or pad words.
THOUSANDS = re.compile(r"(?<=\d)[,_](?=\d{3})")
POSSESSIVE = re.compile(r"['’]s\b")
SUFFIXES = ("ing", "ed", "es", "s")
STOP_TEXT = (
    "a an the of in on at by to for from with and or is are be been will would this that these those it its as "
    "than then into over under before after again any each more most who what when which while his her their "
    "our your my do does did has have had not no yes if"
)
STOPWORDS = frozenset(STOP_TEXT.split(" "))
# (weight, n-gram sizes): whole words count most, pairs keep some word order, character
# n-grams let "election" meet "elections" and "elected".
WORD_WEIGHT, PAIR_WEIGHT, CHAR_WEIGHT = 1.0, 0.7, 0.25
CHAR_SIZES = (3, 4, 5)


def normalise(text: str) -> str:
    """Lower-case, accents off ("é" is "e"), thousands separators and possessives dropped."""
    folded = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return POSSESSIVE.sub("", THOUSANDS.sub("", plain))


def stem(word: str) -> str:
    """A crude suffix strip; enough for plurals and tenses to meet."""
    for suffix in SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The content words of a text, stemmed."""
    return [stem(w) for w in WORD.findall(normalise(text)) if w not in STOPWORDS]


def features(text: str) -> Iterator[tuple[str, float]]:
    """Each hashed feature of a text with its weight."""
    found = words(text)
    for word in found:
        yield "w:" + word, WORD_WEIGHT
        padded = f"<{word}>"
        for size in CHAR_SIZES:
            for start in range(len(padded) - size + 1):
                yield "c:" + padded[start : start + size], CHAR_WEIGHT
    for first, second in itertools.pairwise(found):
        yield f"p:{first} {second}", PAIR_WEIGHT


class HashingEncoder:
    """Signed feature hashing (CRC32: stable across processes, unlike `hash`) into unit vectors."""

    name = "hashing-v1"
    # Fewer buckets collide more: 512 lost a third of the hits of 1024 on the tests' set.
    dimension = 1024

    def encode(self, texts: Sequence[str]) -> Vectors:
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in features(text):
                digest = zlib.crc32(feature.encode())
                matrix[row, digest % self.dimension] += weight if digest & 0x80000000 else -weight
        # Sublinear counts: a word said five times is not five times the evidence.
        matrix = np.sign(matrix) * np.log1p(np.abs(matrix))
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)
