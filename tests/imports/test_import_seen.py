"""The duplicate-row index of the import engine (portal.imports.seen): right in its dict and in its compact
store, and small."""
import tracemalloc

from portal.imports.seen import SeenKeys


def claims(index, digests, first_row=2):
    index.add({digest: first_row + n for n, digest in enumerate(digests)})


def test_a_key_keeps_the_first_row_that_claimed_it_in_both_stores():
    for dict_keys in (1_000_000, 10):  # all in the dict; most moved to the compact store
        index = SeenKeys(dict_keys=dict_keys)
        digests = [hash(("USPTO", str(n))) for n in range(1000)]
        claims(index, digests[:500])
        claims(index, digests[250:750], first_row=10_000)  # 250..499 were claimed by their first rows
        found = index.first_rows(digests + [hash(("EUIPO", "1"))])
        assert len(found) == 750
        assert found[digests[0]] == 2 and found[digests[499]] == 501 and found[digests[500]] == 10_250
        assert -1 not in found and hash(("EUIPO", "1")) not in found


def test_a_match_across_two_packed_hashes_is_not_a_match():
    """The compact store finds a hash with bytearray.find: 8 bytes that straddle two stored hashes (same
    bucket) must not count."""
    top = 0xABCD << 48  # the bucket: the top bits
    first = top | 0x0000_1111_2222_3333
    second = top | 0x0000_4444_ABCD_5555  # its low bytes carry on the first's top bytes
    # The bytes from offset 4 of first+second, little-endian: first's bytes 4..7, second's 0..3.
    packed = first.to_bytes(8, "little") + second.to_bytes(8, "little")
    straddling = int.from_bytes(packed[4:12], "little")
    assert straddling >> 52 == first >> 52  # the same bucket, so the find really runs over both
    index = SeenKeys(dict_keys=1)
    index.add({first - (1 << 64) if first >= 1 << 63 else first: 2})
    index.add({second - (1 << 64) if second >= 1 << 63 else second: 3})
    signed = straddling - (1 << 64) if straddling >= 1 << 63 else straddling
    assert index.first_rows([signed]) == {}
    claims(index, [signed], first_row=9)
    assert index.first_rows([signed]) == {signed: 9}


def held_bytes(build):
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        return tracemalloc.get_traced_memory()[0] - before, kept
    finally:
        tracemalloc.stop()


def test_the_compact_store_takes_under_half_a_dicts_memory():
    """Measured against the dict it replaces, on the same 300,000 keys (about 20 bytes a key against 60;
    at a million keys 17.5 MB against 70)."""
    digests = [hash(("CNIPA", str(n))) for n in range(300_000)]

    def compact():
        index = SeenKeys(dict_keys=10_000)
        for start in range(0, len(digests), 1000):
            claims(index, digests[start:start + 1000], first_row=start + 2)
        return index

    compact_bytes, index = held_bytes(compact)
    dict_bytes, _ = held_bytes(lambda: {digest: row for row, digest in enumerate(digests, start=1_000_000)})
    assert compact_bytes < 0.45 * dict_bytes, (compact_bytes, dict_bytes)
    assert index.first_rows([digests[0], digests[-1]]) == {digests[0]: 2, digests[-1]: 300_001}
