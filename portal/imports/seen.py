"""Which natural keys a job's earlier batches claimed, and the row that claimed each: for "duplicate of
row N" across a whole file, in little memory.

A Python dict of key hashes to row numbers is fast but costs about 70 bytes a key (two boxed ints and
the entry; tracemalloc), 70 MB for a million rows. So the dict holds at most DICT_KEYS keys; beyond, they
move to a compact store of under 20 bytes a key: each 64-bit hash packed as 8 bytes into one of 4,096
`bytearray`s (chosen by the hash's top bits), its row in a parallel `array`, found with one
`bytearray.find` over a few hundred bytes (a match must sit on an 8-byte boundary). Files up to DICT_KEYS rows never pay for the compact store's slower
lookups. Two different keys sharing a 64-bit hash are vanishingly unlikely (about 1 in 10^7 for a million).
"""
from array import array

DICT_KEYS = 250_000
BUCKET_BITS = 12
MASK = (1 << 64) - 1


class SeenKeys:
    def __init__(self, dict_keys=DICT_KEYS):
        self.dict_keys = dict_keys
        self._recent = {}  # digest -> first row
        self._digests = None  # the compact store, made when the dict first fills
        self._rows = None

    def first_rows(self, digests):
        """{digest: first row} of those `digests` already claimed."""
        recent = self._recent
        found = {digest: recent[digest] for digest in digests if digest in recent}
        if self._digests is not None:
            for digest in digests:
                if digest not in found:
                    row = self._compact_row(digest)
                    if row is not None:
                        found[digest] = row
        return found

    def add(self, first_rows):
        """Claim each digest of {digest: row} for its row; a digest claimed before keeps its first row."""
        for digest, row in first_rows.items():
            if digest not in self._recent and (self._digests is None or self._compact_row(digest) is None):
                self._recent[digest] = row
        if len(self._recent) >= self.dict_keys:
            self._compact()

    def _compact(self):
        if self._digests is None:
            self._digests = [None] * (1 << BUCKET_BITS)
            self._rows = [None] * (1 << BUCKET_BITS)
        for digest, row in self._recent.items():
            unsigned = digest & MASK
            bucket = unsigned >> (64 - BUCKET_BITS)
            if self._digests[bucket] is None:
                self._digests[bucket], self._rows[bucket] = bytearray(), array("q")
            self._digests[bucket] += unsigned.to_bytes(8, "little")
            self._rows[bucket].append(row)
        self._recent = {}

    def _compact_row(self, digest):
        unsigned = digest & MASK
        bucket = unsigned >> (64 - BUCKET_BITS)
        digests = self._digests[bucket]
        if digests is None:
            return None
        packed = unsigned.to_bytes(8, "little")
        found = digests.find(packed)
        while found != -1 and found % 8:
            found = digests.find(packed, found + 1)
        return None if found == -1 else self._rows[bucket][found // 8]

    def close(self):
        self._recent, self._digests, self._rows = {}, None, None
