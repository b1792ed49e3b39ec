"""Bitmaps: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO and SUBSTR, with Redis 7.0's replies,
limits and error texts, through redis-py (RESP2 and RESP3, hiredis and the pure-Python parser), raw sockets and
redis-cli. Every expectation holds against redis-server 7.0 (KVNODE_TARGET=redis); the randomized tests compare
the server with a small Python model of Redis's src/bitops.c, so the model is checked against Redis too.

Redis 7.0 details these tests pin down:
- BITCOUNT and BITPOS look the key up before they read the range: a missing key answers 0 (BITPOS: 0 for bit 0, -1
  for 1) whatever the range arguments are (Redis 7.2 checks them first);
- BITCOUNT of a range whose ends are both negative and crossed is 0, before clamping; BITPOS has no such rule;
- BITPOS for 0 without an end counts the value as padded with zeros (returns the bit after it), with an end not;
- a SETBIT or BITFIELD write that changes nothing neither notifies nor invalidates a WATCH; a BITFIELD whose writes
  all fail under OVERFLOW FAIL still creates or grows the value, without a notification;
- BITFIELD's SAT check of a SET value far below a signed field's range wraps in Redis's arithmetic and saturates to
  the maximum (SET i8 to -2^63 stores 127);
- bit offsets are bounded by proto-max-bulk-len (offset >> 3 < limit); BITFIELD's highest written bit may reach one
  byte further, as Redis allows.
"""

import random
import shutil
import subprocess

import pytest
import redis
from redis.exceptions import ResponseError

from client_variants import client  # noqa: F401
from conftest import wait_until

OFFSET_ERROR = "bit offset is not an integer or out of range"
BIT_ERROR = "bit is not an integer or out of range"
NOT_INTEGER = "value is not an integer or out of range"
TYPE_ERROR = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."


def command_error(c, *args) -> str:
    with pytest.raises(ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


# --- a model of Redis 7.0's range arithmetic ------------------------------------------------------------------------

def clamp(start: int, end: int, unit: str, length: int):
    """The inclusive bit range BITCOUNT/BITPOS read, or None when empty."""
    total = length * 8 if unit == "BIT" else length
    if start < 0:
        start += total
    if end < 0:
        end += total
    start, end = max(start, 0), min(max(end, 0), total - 1)
    if start > end:
        return None
    return (start, end) if unit == "BIT" else (start * 8, end * 8 + 7)


def bit_at(value: bytes, position: int) -> int:
    return (value[position >> 3] >> (7 - (position & 7))) & 1 if position >> 3 < len(value) else 0


def model_bitcount(value, args):
    if value is None:
        return 0
    if not args:
        return sum(bin(b).count("1") for b in value)
    start, end, unit = args[0], args[1], (args[2] if len(args) > 2 else "BYTE")
    if start < 0 and end < 0 and start > end:
        return 0
    bits = clamp(start, end, unit, len(value))
    return 0 if bits is None else sum(bit_at(value, p) for p in range(bits[0], bits[1] + 1))


def model_bitpos(value, bit, args):
    if value is None:
        return -1 if bit else 0
    start = args[0] if args else 0
    end = args[1] if len(args) > 1 else -1
    unit = args[2] if len(args) > 2 else "BYTE"
    bits = clamp(start, end, unit, len(value))
    if bits is None:
        return -1
    for p in range(bits[0], bits[1] + 1):
        if bit_at(value, p) == bit:
            return p
    return bits[1] + 1 if bit == 0 and len(args) < 2 else -1


def model_field(value: bytes, signed: bool, width: int, offset: int) -> int:
    raw = 0
    for p in range(offset, offset + width):
        raw = (raw << 1) | bit_at(value, p)
    if signed and raw >> (width - 1):
        raw -= 1 << width
    return raw


# --- SETBIT / GETBIT ------------------------------------------------------------------------------------------------

def test_setbit_replies_the_previous_bit_and_grows_with_zero_bytes(client):
    assert client.setbit("k", 7, 1) == 0
    assert client.get("k") == b"\x01"
    assert client.setbit("k", 7, 1) == 1
    assert client.setbit("k", 0, 1) == 0
    assert client.get("k") == b"\x81"
    assert client.setbit("k", 7, 0) == 1
    assert client.get("k") == b"\x80"
    assert client.setbit("k", 30, 1) == 0
    assert client.get("k") == b"\x80\x00\x00\x02"
    # Clearing a bit past the end still grows the value.
    assert client.setbit("k", 47, 0) == 0
    assert client.get("k") == b"\x80\x00\x00\x02\x00\x00"
    client.set("s", "a")  # 0x61
    assert [client.getbit("s", i) for i in range(8)] == [0, 1, 1, 0, 0, 0, 0, 1]


def test_getbit_reads_zero_past_the_end_and_for_a_missing_key(client):
    client.set("k", b"\xff")
    assert client.getbit("k", 7) == 1
    assert client.getbit("k", 8) == 0
    assert client.getbit("k", 4294967295) == 0  # the last offset a 512 MB value has
    assert client.getbit("missing", 0) == 0
    assert client.exists("missing") == 0


def test_setbit_and_getbit_errors(client):
    for offset in ["-1", "x", "1.5", "+1", "01", " 1", "4294967296", "99999999999999999999"]:
        assert command_error(client, "SETBIT", "k", offset, "1") == OFFSET_ERROR
        assert command_error(client, "GETBIT", "k", offset) == OFFSET_ERROR
    for bit in ["2", "-1", "x", "", "1.0"]:
        assert command_error(client, "SETBIT", "k", "0", bit) == BIT_ERROR
    # The offset is checked before the bit.
    assert command_error(client, "SETBIT", "k", "x", "2") == OFFSET_ERROR
    assert client.exists("k") == 0
    assert command_error(client, "SETBIT", "k", "1") == "wrong number of arguments for 'setbit' command"
    assert command_error(client, "GETBIT", "k") == "wrong number of arguments for 'getbit' command"


def test_setbit_keeps_the_expiry(client):
    client.set("k", "a", ex=100)
    assert client.setbit("k", 0, 1) == 0
    assert 0 < client.ttl("k") <= 100
    assert client.get("k") == b"\xe1"


def test_offsets_are_bounded_by_proto_max_bulk_len(r2):
    r2.config_set("proto-max-bulk-len", 1024 * 1024)
    try:
        last = 8 * 1024 * 1024 - 1
        assert command_error(r2, "SETBIT", "k", last + 1, 1) == OFFSET_ERROR
        assert command_error(r2, "GETBIT", "k", last + 1) == OFFSET_ERROR
        assert r2.exists("k") == 0
        assert r2.setbit("k", last, 1) == 0
        assert r2.strlen("k") == 1024 * 1024
        assert r2.getbit("k", last) == 1
        assert r2.bitcount("k") == 1
        assert r2.bitpos("k", 1) == last
        # BITFIELD checks the offset, not the field's end: a field may reach one byte past the limit.
        assert command_error(r2, "BITFIELD", "f", "SET", "u8", last + 1, 1) == OFFSET_ERROR
        assert command_error(r2, "BITFIELD", "f", "GET", "u8", "#1048576") == OFFSET_ERROR
        assert r2.bitfield("f").set("u8", last - 6, 255).execute() == [0]
        assert r2.strlen("f") == 1024 * 1024 + 1
        assert r2.getrange("f", -2, -1) == b"\x7f\x80"
    finally:
        r2.config_set("proto-max-bulk-len", 512 * 1024 * 1024)


# --- BITCOUNT -------------------------------------------------------------------------------------------------------

def test_bitcount_documented_examples(client):
    client.set("mykey", "foobar")
    assert client.bitcount("mykey") == 26
    assert client.bitcount("mykey", 0, 0) == 4
    assert client.bitcount("mykey", 1, 1) == 6
    assert client.bitcount("mykey", 1, 1, "BYTE") == 6
    assert client.bitcount("mykey", 5, 30, "BIT") == 17
    assert client.bitcount("mykey", 5, 30, "bit") == 17


def test_bitcount_ranges(client):
    client.set("k", b"\xff\xf0\x0f")
    assert client.bitcount("k", 0, -1) == 16
    assert client.bitcount("k", -1, -1) == 4
    assert client.bitcount("k", -2, 100) == 8
    assert client.bitcount("k", 2, 1) == 0
    assert client.bitcount("k", -100, -3) == 8
    # Both negative and crossed: 0, though clamping would make them both 0 and count the first byte.
    assert client.bitcount("k", -5, -10) == 0
    assert client.bitcount("k", -10, -5) == 8
    assert client.bitcount("k", 4, 11, "BIT") == 8
    assert client.bitcount("k", 12, 19, "BIT") == 0
    assert client.bitcount("k", -4, -1, "BIT") == 4
    assert client.bitcount("k", 7, 7, "BIT") == 1
    assert client.bitcount("k", 23, 1000, "BIT") == 1
    assert client.bitcount("k", 24, 1000, "BIT") == 0
    client.set("empty", "")
    assert client.bitcount("empty") == 0
    assert client.bitcount("empty", 0, -1, "BIT") == 0


def test_bitcount_errors_and_redis_7_0_order(client):
    client.set("k", "foobar")
    assert command_error(client, "BITCOUNT", "k", "0") == "syntax error"
    assert command_error(client, "BITCOUNT", "k", "0", "1", "NIBBLE") == "syntax error"
    assert command_error(client, "BITCOUNT", "k", "0", "1", "BIT", "x") == "syntax error"
    assert command_error(client, "BITCOUNT", "k", "a", "1", "NIBBLE") == NOT_INTEGER
    assert command_error(client, "BITCOUNT", "k", "0", "1.5") == NOT_INTEGER
    # The key is looked up first: a missing key counts 0 whatever follows.
    assert client.execute_command("BITCOUNT", "missing", "0") == 0
    assert client.execute_command("BITCOUNT", "missing", "a", "b", "NIBBLE") == 0
    assert command_error(client, "BITCOUNT") == "wrong number of arguments for 'bitcount' command"


def test_bitcount_matches_the_model(r2):
    rng = random.Random(1401)
    values = {}
    pipe = r2.pipeline(transaction=False)
    for index in range(20):
        value = bytes(rng.choice([0, 255, rng.randrange(256)]) for _ in range(rng.choice([1, 3, 8, 31, 33, 70])))
        values[f"v{index}"] = value
        pipe.set(f"v{index}", value)
    pipe.execute()
    cases = []
    for _ in range(400):
        key = rng.choice(list(values) + ["missing"])
        numbers = [0, 1, -1, 2, -2, 7, 8, 9, -9, 30, -30, 100, -100, 300, -600]
        args = rng.choice([(), (rng.choice(numbers), rng.choice(numbers)),
                           (rng.choice(numbers), rng.choice(numbers), rng.choice(["BIT", "BYTE"]))])
        cases.append((key, args))
        pipe.execute_command("BITCOUNT", key, *args)
    for (key, args), got in zip(cases, pipe.execute()):
        assert got == model_bitcount(values.get(key), args), (key, values.get(key), args)


# --- BITPOS ---------------------------------------------------------------------------------------------------------

def test_bitpos_documented_examples(client):
    client.set("mykey", b"\xff\xf0\x00")
    assert client.bitpos("mykey", 0) == 12
    client.set("mykey", b"\x00\xff\xf0")
    assert client.bitpos("mykey", 1, 0) == 8
    assert client.bitpos("mykey", 1, 2) == 16
    assert client.bitpos("mykey", 1, 2, -1, "BYTE") == 16
    assert client.bitpos("mykey", 1, 7, 15, "BIT") == 8
    client.set("mykey", b"\x00\x00\x00")
    assert client.bitpos("mykey", 1) == -1
    assert client.bitpos("mykey", 1, 7, -3, "BIT") == -1


def test_bitpos_padding_and_empty_values(client):
    client.set("ones", b"\xff\xff\xff")
    # No end: the value continues with zeros on the right.
    assert client.bitpos("ones", 0) == 24
    assert client.bitpos("ones", 0, 2) == 24
    assert client.bitpos("ones", 0, -1) == 24
    # An end: only the range counts.
    assert client.bitpos("ones", 0, 0, -1) == -1
    assert client.bitpos("ones", 0, 0, -1, "BIT") == -1
    assert client.bitpos("ones", 1, 5, 5, "BIT") == 5
    # BITPOS has no rule for crossed negative ends: both clamp to 0.
    assert client.bitpos("ones", 1, -5, -10) == 0
    client.set("empty", "")
    assert client.bitpos("empty", 0) == -1
    assert client.bitpos("empty", 1) == -1
    assert client.bitpos("missing", 0) == 0
    assert client.bitpos("missing", 1) == -1
    assert client.bitpos("missing", 0, 5, 10, "BIT") == 0
    client.set("k", b"\x00" * 40 + b"\x10")
    assert client.bitpos("k", 1) == 323
    assert client.bitpos("k", 1, 3, -1, "BYTE") == 323
    client.set("k", b"\xff" * 40 + b"\xef")
    assert client.bitpos("k", 0) == 323
    assert client.bitpos("k", 0, 9, 322, "BIT") == -1
    assert client.bitpos("k", 0, 9, 323, "BIT") == 323


def test_bitpos_errors_and_redis_7_0_order(client):
    client.set("k", b"\x0f")
    assert command_error(client, "BITPOS", "k", "2") == "The bit argument must be 1 or 0."
    assert command_error(client, "BITPOS", "missing", "-1") == "The bit argument must be 1 or 0."
    assert command_error(client, "BITPOS", "k", "x") == NOT_INTEGER
    assert command_error(client, "BITPOS", "k", "1", "a") == NOT_INTEGER
    # Start, then the unit, then the end.
    assert command_error(client, "BITPOS", "k", "1", "0", "x", "NIBBLE") == "syntax error"
    assert command_error(client, "BITPOS", "k", "1", "x", "0", "NIBBLE") == NOT_INTEGER
    assert command_error(client, "BITPOS", "k", "1", "0", "x", "BIT") == NOT_INTEGER
    assert command_error(client, "BITPOS", "k", "1", "0", "1", "BIT", "x") == "syntax error"
    # A missing key answers before its range is read.
    assert client.execute_command("BITPOS", "missing", "1", "0", "1", "BIT", "x") == -1
    assert client.execute_command("BITPOS", "missing", "0", "a") == 0


def test_bitpos_matches_the_model(r2):
    rng = random.Random(1402)
    values = {}
    pipe = r2.pipeline(transaction=False)
    for index in range(20):
        fill = rng.choice([0, 255])
        value = bytearray([fill] * rng.choice([1, 2, 9, 16, 40, 65]))
        for _ in range(rng.randrange(3)):
            value[rng.randrange(len(value))] = rng.randrange(256)
        values[f"v{index}"] = bytes(value)
        pipe.set(f"v{index}", bytes(value))
    pipe.execute()
    cases = []
    numbers = [0, 1, -1, 3, -3, 7, 8, 9, -9, 17, 64, -64, 100, 300, -600, 519, 520]
    for _ in range(400):
        key = rng.choice(list(values) + ["missing"])
        bit = rng.randrange(2)
        args = rng.choice([(), (rng.choice(numbers),), (rng.choice(numbers), rng.choice(numbers)),
                           (rng.choice(numbers), rng.choice(numbers), rng.choice(["BIT", "BYTE"]))])
        cases.append((key, bit, args))
        pipe.execute_command("BITPOS", key, bit, *args)
    for (key, bit, args), got in zip(cases, pipe.execute()):
        assert got == model_bitpos(values.get(key), bit, args), (key, values.get(key), bit, args)


# --- BITOP ----------------------------------------------------------------------------------------------------------

def test_bitop_operations_pad_shorter_sources_with_zeros(client):
    client.set("a", b"\xff\x0f\xf0")
    client.set("b", b"\x0f\xff")
    client.set("c", b"\x01")
    assert client.bitop("AND", "d", "a", "b") == 3
    assert client.get("d") == b"\x0f\x0f\x00"
    assert client.bitop("OR", "d", "a", "b", "c") == 3
    assert client.get("d") == b"\xff\xff\xf0"
    assert client.bitop("XOR", "d", "a", "b", "c") == 3
    assert client.get("d") == b"\xf1\xf0\xf0"
    assert client.bitop("NOT", "d", "a") == 3
    assert client.get("d") == b"\x00\xf0\x0f"
    assert client.bitop("and", "d", "b", "a") == 3  # the longest source sets the length, whatever its place
    assert client.get("d") == b"\x0f\x0f\x00"
    # A missing source is an empty string: AND with it is all zeros, of the longest source's length.
    assert client.bitop("AND", "d", "a", "missing") == 3
    assert client.get("d") == b"\x00\x00\x00"
    assert client.bitop("OR", "d", "missing", "b") == 2
    assert client.get("d") == b"\x0f\xff"


def test_bitop_on_long_values_matches_python(r2):
    rng = random.Random(1403)
    values = [bytes(rng.randrange(256) for _ in range(n)) for n in (100, 257, 64, 3)]
    for index, value in enumerate(values):
        r2.set(f"s{index}", value)
    keys = [f"s{index}" for index in range(len(values))]
    width = max(map(len, values))
    padded = [int.from_bytes(v + b"\x00" * (width - len(v)), "big") for v in values]
    expected = {
        "AND": padded[0] & padded[1] & padded[2] & padded[3],
        "OR": padded[0] | padded[1] | padded[2] | padded[3],
        "XOR": padded[0] ^ padded[1] ^ padded[2] ^ padded[3],
    }
    for operation, number in expected.items():
        assert r2.bitop(operation, "dest", *keys) == width
        assert r2.get("dest") == number.to_bytes(width, "big"), operation
    assert r2.bitop("NOT", "dest", "s1") == 257
    assert r2.get("dest") == bytes(255 - b for b in values[1])
    # The destination may be a source.
    assert r2.bitop("XOR", "s1", "s1", "s1") == 257
    assert r2.get("s1") == b"\x00" * 257


def test_bitop_empty_result_deletes_the_destination(client):
    client.set("d", "old", ex=100)
    client.set("empty", "")
    assert client.bitop("AND", "d", "missing", "empty") == 0
    assert client.exists("d") == 0
    assert client.bitop("NOT", "d", "missing") == 0
    assert client.exists("d") == 0


def test_bitop_result_has_no_expiry(client):
    client.set("a", "x")
    client.set("d", "old", ex=100)
    assert client.bitop("OR", "d", "a") == 1
    assert client.ttl("d") == -1
    assert client.get("d") == b"x"


def test_bitop_errors(client):
    client.set("a", "x")
    assert command_error(client, "BITOP", "NOT", "d", "a", "a") == "BITOP NOT must be called with a single source key."
    assert command_error(client, "BITOP", "NAND", "d", "a") == "syntax error"
    assert command_error(client, "BITOP", "DIFF", "d", "a", "a") == "syntax error"  # Redis 8.2's, not 7.0's
    assert command_error(client, "BITOP", "AND", "d") == "wrong number of arguments for 'bitop' command"
    assert client.exists("d") == 0


# --- BITFIELD -------------------------------------------------------------------------------------------------------

def test_bitfield_documented_examples(client):
    assert client.bitfield("mykey").incrby("i5", 100, 1).get("u4", 0).execute() == [1, 0]
    client.delete("mykey")
    for expected in ([1, 1], [2, 2], [3, 3], [0, 3]):
        assert client.bitfield("mykey").incrby("u2", 100, 1).overflow("SAT").incrby("u2", 102, 1).execute() == expected
    assert client.execute_command("BITFIELD", "mykey", "OVERFLOW", "FAIL", "incrby", "u2", "102", "1") == [None]


def test_bitfield_get_set_signed_unsigned_and_hash_offsets(client):
    client.set("k", b"\x80\x01\xff")
    assert client.bitfield("k").get("u8", 0).get("i8", 0).get("u1", 0).get("i1", 0).get("u16", 8).execute() == \
        [128, -128, 1, -1, 511]
    # "#n" is the n-th field of the type's width.
    assert client.bitfield("k").get("u8", "#1").get("i4", "#5").get("u4", "#5").execute() == [1, -1, 15]
    # Bits past the end read as zero.
    assert client.bitfield("k").get("u8", 20).get("i64", 100).execute() == [240, 0]
    # SET replies the previous value, INCRBY the new one.
    assert client.bitfield("k").set("u8", "#0", 7).get("u8", 0).incrby("i8", 0, -10).execute() == [128, 7, -3]
    assert client.get("k")[:1] == b"\xfd"
    assert client.bitfield("missing").get("u8", 0).get("i64", 64).execute() == [0, 0]
    assert client.exists("missing") == 0
    assert client.execute_command("BITFIELD", "missing") == []


def test_bitfield_widest_fields(client):
    assert client.bitfield("k").set("i64", 3, -2).get("i64", 3).get("u63", 3).execute() == \
        [0, -2, (1 << 63) - 1]
    # Bits 0-2 were clear, 3-62 set by the field above.
    assert client.bitfield("k").set("u63", 0, (1 << 63) - 1).get("u63", 0).execute() == [(1 << 60) - 1, (1 << 63) - 1]
    assert client.bitfield("k").set("i64", 0, -(1 << 63)).incrby("i64", 0, -1).execute() == [-1, (1 << 63) - 1]


@pytest.mark.parametrize("overflow,expected", [
    ("WRAP", [-128, 127, 0, 255, 254]),
    ("SAT", [127, -128, 255, 0, 255]),
    ("FAIL", [None, None, None, None, None]),
])
def test_bitfield_overflow_modes(client, overflow, expected):
    def run(start: bytes, *operation):
        client.set("k", start)
        reply = client.execute_command("BITFIELD", "k", "OVERFLOW", overflow, *operation, "GET", "u8", 0)
        # The field keeps its value when a write is refused.
        assert reply[1] == (start[0] if reply[0] is None else reply[1])
        return reply[0]

    got = [
        run(b"\x7f", "INCRBY", "i8", 0, 1),     # above i8's maximum
        run(b"\x80", "INCRBY", "i8", 0, -1),    # below i8's minimum
        run(b"\xff", "INCRBY", "u8", 0, 1),     # above u8's maximum
        run(b"\x00", "INCRBY", "u8", 0, -1),    # below 0
    ]
    # An unsigned SET out of range replies the old value when it writes: WRAP keeps the low bits, SAT gives the
    # maximum (a negative value, read unsigned, is too large), FAIL refuses.
    client.set("k", b"\x00")
    set_reply, field = client.execute_command("BITFIELD", "k", "OVERFLOW", overflow, "SET", "u8", 0, -2, "GET", "u8", 0)
    assert set_reply == (None if overflow == "FAIL" else 0)
    assert got + [None if overflow == "FAIL" else field] == expected


def test_bitfield_overflow_applies_to_the_operations_after_it(client):
    got = client.execute_command("BITFIELD", "k", "INCRBY", "u2", 0, 5, "OVERFLOW", "SAT", "INCRBY", "u2", 2, 5,
                                 "OVERFLOW", "FAIL", "INCRBY", "u2", 4, 5, "OVERFLOW", "WRAP", "INCRBY", "u2", 6, 5)
    assert got == [1, 3, None, 1]


def test_bitfield_sat_of_a_far_negative_set_saturates_high_as_redis(client):
    got = client.execute_command("BITFIELD", "k", "OVERFLOW", "SAT", "SET", "i8", 0, -1000, "GET", "i8", 0,
                                 "SET", "i8", 0, -(1 << 63), "GET", "i8", 0,
                                 "SET", "i8", 0, -(1 << 63) + 5, "GET", "i8", 0,
                                 "OVERFLOW", "WRAP", "SET", "i8", 0, -(1 << 63) + 5, "GET", "i8", 0)
    assert got == [0, -128, -128, 127, 127, 127, 127, 5]


def test_bitfield_errors_change_nothing(client):
    client.set("k", b"\x01")
    cases = [
        (["GET", "u64", 0], TYPE_ERROR), (["GET", "i65", 0], TYPE_ERROR), (["GET", "u0", 0], TYPE_ERROR),
        (["GET", "U8", 0], TYPE_ERROR), (["GET", "x8", 0], TYPE_ERROR), (["GET", "i", 0], TYPE_ERROR),
        (["GET", "i08", 0], TYPE_ERROR), (["GET", "u-1", 0], TYPE_ERROR),
        (["GET", "u8", -1], OFFSET_ERROR), (["GET", "u8", "#-1"], OFFSET_ERROR), (["GET", "u8", "x"], OFFSET_ERROR),
        (["GET", "u8", "#"], OFFSET_ERROR), (["GET", "u8", "##1"], OFFSET_ERROR),
        (["GET", "u8", 4294967296], OFFSET_ERROR), (["GET", "u8", "#536870912"], OFFSET_ERROR),
        (["OVERFLOW", "foo"], "Invalid OVERFLOW type specified"), (["OVERFLOW"], "syntax error"),
        (["GET", "u8"], "syntax error"), (["SET", "u8", 0], "syntax error"), (["BOGUS"], "syntax error"),
        (["SET", "u8", 0, "x"], NOT_INTEGER), (["INCRBY", "u8", 0, "1.5"], NOT_INTEGER),
    ]
    for arguments, error in cases:
        # A valid write first: nothing runs when any operation is malformed.
        assert command_error(client, "BITFIELD", "k", "SET", "u8", 0, 255, *arguments) == error, arguments
        assert command_error(client, "BITFIELD", "new", "SET", "u8", 0, 255, *arguments) == error, arguments
    assert client.get("k") == b"\x01"
    assert client.exists("new") == 0
    # Type, then offset, then value.
    assert command_error(client, "BITFIELD", "k", "SET", "u64", "x", "x") == TYPE_ERROR
    assert command_error(client, "BITFIELD", "k", "SET", "u8", "x", "x") == OFFSET_ERROR
    assert command_error(client, "BITFIELD") == "wrong number of arguments for 'bitfield' command"


def test_bitfield_writes_that_all_fail_still_create_or_grow_the_value(client):
    # Redis makes room for the highest bit to write before it runs the operations.
    assert client.execute_command("BITFIELD", "new", "OVERFLOW", "FAIL", "SET", "u8", 8, 300) == [None]
    assert client.get("new") == b"\x00\x00"
    client.set("k", "ab")
    assert client.execute_command("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", 32, 300) == [None]
    assert client.get("k") == b"ab\x00\x00\x00"


def test_bitfield_keeps_the_expiry(client):
    client.set("k", "a", ex=100)
    assert client.bitfield("k").set("u8", 0, 98).set("u8", 8, 99).execute() == [97, 0]
    assert client.get("k") == b"bc"
    assert 0 < client.ttl("k") <= 100


def test_bitfield_ro(client):
    client.set("k", b"\xf0")
    assert client.bitfield_ro("k", "u4", 0, items=[("i4", 0), ("u8", "#1")]) == [15, -1, 0]
    assert client.execute_command("BITFIELD_RO", "missing", "GET", "u8", 0) == [0]
    assert client.execute_command("BITFIELD_RO", "k") == []
    assert command_error(client, "BITFIELD_RO", "k", "SET", "u8", 0, 1) == "BITFIELD_RO only supports the GET subcommand"
    assert command_error(client, "BITFIELD_RO", "k", "OVERFLOW", "SAT", "INCRBY", "u8", 0, 1) == \
        "BITFIELD_RO only supports the GET subcommand"
    # Every operation is parsed before the read-only check.
    assert command_error(client, "BITFIELD_RO", "k", "INCRBY", "u8", 0, 1, "GET", "i8", "a") == OFFSET_ERROR
    assert client.get("k") == b"\xf0"


def test_bitfield_matches_the_model(r2):
    rng = random.Random(1404)
    value = bytes(rng.randrange(256) for _ in range(24))
    r2.set("k", value)
    pipe = r2.pipeline(transaction=False)
    cases = []
    for _ in range(300):
        signed = rng.random() < 0.5
        width = rng.randint(1, 64 if signed else 63)
        offset = rng.randrange(0, 220)
        cases.append((signed, width, offset))
        pipe.execute_command("BITFIELD_RO", "k", "GET", f"{'i' if signed else 'u'}{width}", offset)
    for (signed, width, offset), got in zip(cases, pipe.execute()):
        assert got == [model_field(value, signed, width, offset)], (signed, width, offset)


def test_bitfield_key_flags(r2):
    assert r2.command_getkeysandflags("BITFIELD", "k", "GET", "u8", "0") == [[b"k", [b"RO", b"access"]]]
    assert r2.command_getkeysandflags("BITFIELD", "k", "GET", "u8", "0", "OVERFLOW", "SAT", "SET", "u8", "0", "1") \
        == [[b"k", [b"RW", b"access", b"update"]]]
    assert r2.command_getkeysandflags("BITFIELD", "k", "bogus") == [[b"k", [b"RW", b"access", b"update"]]]
    assert r2.command_getkeysandflags("BITFIELD_RO", "k", "GET", "u8", "0") == [[b"k", [b"RO", b"access"]]]
    assert r2.command_getkeysandflags("BITOP", "AND", "d", "a", "b") == \
        [[b"d", [b"OW", b"update"]], [b"a", [b"RO", b"access"]], [b"b", [b"RO", b"access"]]]


# --- SUBSTR ---------------------------------------------------------------------------------------------------------

def test_substr_is_getrange(client):
    client.set("k", "This is a string")
    assert client.substr("k", 0, 3) == b"This"
    for start, end in [(0, -1), (-3, -1), (10, 100), (5, 3), (-1, -5), (-100, 3), (100, 200)]:
        assert client.substr("k", start, end) == client.getrange("k", start, end), (start, end)
    assert client.substr("missing", 0, 1) == b""
    assert command_error(client, "SUBSTR", "k", "a", "1") == NOT_INTEGER
    assert command_error(client, "SUBSTR", "k", "0") == "wrong number of arguments for 'substr' command"


# --- on the wire, in transactions, with WATCH, notifications ---------------------------------------------------------

def test_replies_on_the_wire(raw):
    c = raw()
    assert c.cmd("SETBIT", "k", "1", "1") == b":0\r\n"
    assert c.cmd("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9", "GET", "u8", "0") == \
        b"*2\r\n$-1\r\n:64\r\n"
    assert c.cmd("BITFIELD_RO", "k") == b"*0\r\n"
    assert c.cmd("BITPOS", "k", "1") == b":1\r\n"
    assert c.cmd("HELLO", "3").startswith(b"%")
    assert c.cmd("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9", "GET", "u8", "0") == \
        b"*2\r\n_\r\n:64\r\n"
    assert c.cmd("BITCOUNT", "k") == b":1\r\n"
    assert c.cmd("SETBIT", "k", "-1", "1") == b"-ERR bit offset is not an integer or out of range\r\n"


def test_bit_commands_in_a_transaction(client):
    with client.pipeline(transaction=True) as tx:
        tx.setbit("k", 3, 1)
        tx.getbit("k", 3)
        tx.bitcount("k")
        tx.bitpos("k", 1)
        tx.bitfield("k").incrby("u4", 0, 1).execute()
        tx.bitop("NOT", "n", "k")
        tx.get("n")
        assert tx.execute() == [0, 1, 1, 3, [2], 1, b"\xdf"]


def test_a_bit_write_invalidates_watch_and_a_no_op_does_not(server):
    with server.client() as r, server.client() as other:
        r.setbit("k", 3, 1)
        for change, invalidates in [
            (lambda: other.setbit("k", 3, 1), False),
            (lambda: other.bitfield("k").set("u8", 0, 16).execute(), False),
            (lambda: other.bitfield("k").incrby("u8", 0, 0).execute(), False),
            (lambda: other.setbit("k", 3, 0), True),
            (lambda: other.setbit("k", 100, 0), True),
            (lambda: other.bitfield("k").set("u8", 0, 1).execute(), True),
            (lambda: other.bitop("OR", "k", "k"), True),
        ]:
            with r.pipeline(transaction=True) as tx:
                tx.watch("k")
                change()
                tx.multi()
                tx.get("k")
                if invalidates:
                    with pytest.raises(redis.WatchError):
                        tx.execute()
                else:
                    tx.execute()


def test_keyspace_notifications(server):
    with server.client() as r, server.client() as listener:
        r.config_set("notify-keyspace-events", "KEA")
        try:
            pubsub = listener.pubsub()
            pubsub.psubscribe("__keyevent@0__:*")
            wait_until(lambda: pubsub.get_message(timeout=0.1), message="the psubscribe confirmation")
            r.setbit("s", 3, 1)                        # setbit
            r.setbit("s", 3, 1)                        # no change: nothing
            r.setbit("s", 100, 0)                      # grows: setbit
            r.bitfield("s").set("u8", 0, 16).execute()  # same value: nothing
            r.bitfield("s").set("u8", 0, 17).execute()  # setbit
            r.execute_command("BITFIELD", "s", "OVERFLOW", "FAIL", "INCRBY", "u8", 0, 300)  # refused: nothing
            r.execute_command("BITFIELD", "n", "OVERFLOW", "FAIL", "SET", "u8", 0, 300)  # created, unchanged: nothing
            r.bitfield("n").incrby("u8", 0, 0).execute()     # nothing
            r.bitop("AND", "d", "s")                   # set
            r.bitop("AND", "d", "missing")             # del
            r.bitop("AND", "d", "missing")             # nothing
            r.bitop("NOT", "d", "s")                   # set
            r.getbit("s", 1), r.bitcount("s"), r.bitpos("s", 1), r.bitfield_ro("s", "u8", 0)
            r.set("end", "1")
            events = []
            while not events or events[-1] != (b"set", b"end"):
                message = wait_until(lambda: pubsub.get_message(timeout=0.1), message=f"events after {events}")
                events.append((message["channel"].split(b":")[-1], message["data"]))
            assert events == [
                (b"setbit", b"s"), (b"setbit", b"s"), (b"setbit", b"s"),
                (b"set", b"d"), (b"del", b"d"), (b"set", b"d"), (b"set", b"end"),
            ]
            pubsub.close()
        finally:
            r.config_set("notify-keyspace-events", "")


def test_command_metadata(r2):
    info = r2.execute_command("COMMAND", "INFO", "setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield",
                              "bitfield_ro", "lcs", "substr")
    assert {name: (entry["arity"], entry["flags"]) for name, entry in info.items()} == {
        "setbit": (4, ["write", "denyoom"]),
        "getbit": (3, ["readonly", "fast"]),
        "bitcount": (-2, ["readonly"]),
        "bitpos": (-3, ["readonly"]),
        "bitop": (-4, ["write", "denyoom"]),
        "bitfield": (-2, ["write", "denyoom"]),
        "bitfield_ro": (-2, ["readonly", "fast"]),
        "lcs": (-3, ["readonly"]),
        "substr": (4, ["readonly"]),
    }
    assert info["bitfield"]["acl_categories"] == ["@write", "@bitmap", "@slow"]


# --- redis-cli ------------------------------------------------------------------------------------------------------

def test_redis_cli(server):
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed")

    def cli(*args: str) -> str:
        result = subprocess.run(["redis-cli", "-h", server.host, "-p", str(server.port), *args],
                                capture_output=True, timeout=30, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert cli("SETBIT", "k", "9", "1") == "0\n"
    assert cli("SETBIT", "k", "9", "1") == "1\n"
    assert cli("GET", "k") == "\x00@\n"
    assert cli("BITCOUNT", "k", "0", "-1", "BIT") == "1\n"
    assert cli("BITPOS", "k", "1", "0", "-1") == "9\n"
    assert cli("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "8", "3", "GET", "u16", "0") == "\n64\n"
    assert cli("BITOP", "NOT", "k", "k") == "2\n"
    assert cli("--no-raw", "GET", "k") == '"\\xff\\xbf"\n'
    assert cli("--no-raw", "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "8", "3", "GET", "u16", "0") == \
        "1) (nil)\n2) (integer) 65471\n"
    assert cli("SETBIT", "k", "-1", "1") == "ERR bit offset is not an integer or out of range\n\n"


@pytest.mark.kvnode_only
def test_bit_writes_take_revisions_and_no_ops_do_not(r2):
    """kvnode's change log (KV.HISTORY): each write is a `set` event with the whole new value, an emptied BITOP
    destination a `del`; a SETBIT or BITFIELD that changes nothing takes no revision."""
    fields = r2.execute_command("KV.REVISION")  # RESP2: current, n, oldest, m
    start = dict(zip(fields[::2], fields[1::2]))[b"current"] + 1

    def history(key):
        # Only this test's events: the change log keeps those of earlier tests' keys of the same name.
        return r2.execute_command("KV.HISTORY", key, "FROM", start)

    r2.setbit("k", 1, 1)
    r2.setbit("k", 1, 1)
    r2.bitfield("k").set("u8", 0, 64).execute()
    r2.bitfield("k").incrby("u8", 0, 1).execute()
    r2.bitop("NOT", "n", "k")
    r2.bitop("AND", "n", "missing")
    assert [entry[1:] for entry in history("k")] == [[b"set", b"@"], [b"set", b"A"]]
    assert [entry[1:] for entry in history("n")] == [[b"set", b"\xbe"], [b"del", None]]
    revisions = [entry[0] for entry in history("k") + history("n")]
    assert revisions == list(range(start, start + 4))
