"""Which natural keys a job's earlier batches claimed, and the row that claimed each: for "duplicate of
row N" across a whole file, in little memory.

A Python dict of a million 64-bit key hashes to row numbers costs about 100 MB (each entry holds two
boxed ints). This keeps them in a private in-memory SQLite table instead (stdlib sqlite3, not the portal's
database): about 20 bytes a key, looked up and added a batch at a time by the SQLite library, not row by
row in Python. Two different keys sharing a 64-bit hash are vanishingly unlikely (about 1 in 10^7 for a
million keys).
"""
import sqlite3

CHUNK = 900  # parameters per lookup, below every SQLite's limit on variables


class SeenKeys:
    def __init__(self):
        self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._db.execute("CREATE TABLE seen (digest INTEGER PRIMARY KEY, first_row INTEGER NOT NULL)")
        self._pending = {}  # added, not yet written (resume adds one row at a time)

    def first_rows(self, digests):
        """{digest: first row} of those `digests` already claimed."""
        self._flush()
        wanted = list(set(digests))
        found = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            found.update(self._db.execute(
                f"SELECT digest, first_row FROM seen WHERE digest IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def add(self, first_rows):
        """Claim each digest of {digest: row} for its row; a digest claimed before keeps its first row."""
        self._pending.update({d: r for d, r in first_rows.items() if d not in self._pending})
        if len(self._pending) >= 10_000:
            self._flush()

    def _flush(self):
        if self._pending:
            self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", self._pending.items())
            self._pending = {}

    def close(self):
        self._db.close()
