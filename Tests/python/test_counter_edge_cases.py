"""INCR, INCRBY, DECRBY, INCRBYFLOAT on values and arguments that only look like numbers: NUL bytes inside or at either
end, surrounding white space. Redis parses the whole string, so none of them is a number."""

from __future__ import annotations

import pytest

NOT_FLOAT = b"-ERR value is not a valid float\r\n"
NOT_INTEGER = b"-ERR value is not an integer or out of range\r\n"

# Values whose leading part is a number; strtold/strtoll on the C string would stop at the NUL and accept it.
NUL_VALUES = [b"1\x002", b"1\x00", b"\x001", b"1.5\x00", b"\x00", b"1.5\x002"]


def test_incrbyfloat_on_a_value_made_by_setrange_with_a_nul(raw):
    c = raw()
    assert c.cmd("SET", "foo", "1") == b"+OK\r\n"
    assert c.cmd("SETRANGE", "foo", "2", "2") == b":3\r\n"
    assert c.cmd("GET", "foo") == b"$3\r\n1\x002\r\n"
    assert c.cmd("INCRBYFLOAT", "foo", "1") == NOT_FLOAT
    assert c.cmd("GET", "foo") == b"$3\r\n1\x002\r\n"  # untouched


@pytest.mark.parametrize("value", NUL_VALUES, ids=repr)
def test_incrbyfloat_refuses_a_stored_value_with_a_nul(raw, value):
    c = raw()
    assert c.cmd("SET", "k", value) == b"+OK\r\n"
    assert c.cmd("INCRBYFLOAT", "k", "1") == NOT_FLOAT
    assert c.cmd("GET", "k") == b"$%d\r\n%s\r\n" % (len(value), value)


@pytest.mark.parametrize("increment", NUL_VALUES, ids=repr)
def test_incrbyfloat_refuses_an_increment_with_a_nul(raw, increment):
    c = raw()
    assert c.cmd("SET", "k", "1") == b"+OK\r\n"
    assert c.cmd("INCRBYFLOAT", "k", increment) == NOT_FLOAT
    assert c.cmd("INCRBYFLOAT", "missing", increment) == NOT_FLOAT
    assert c.cmd("GET", "k") == b"$1\r\n1\r\n"
    assert c.cmd("EXISTS", "missing") == b":0\r\n"


@pytest.mark.parametrize("text", [b" 1", b"1 ", b"\t1", b"1\n"], ids=repr)
def test_incrbyfloat_refuses_surrounding_white_space(raw, text):
    c = raw()
    assert c.cmd("SET", "k", text) == b"+OK\r\n"
    assert c.cmd("INCRBYFLOAT", "k", "1") == NOT_FLOAT
    assert c.cmd("SET", "n", "1") == b"+OK\r\n"
    assert c.cmd("INCRBYFLOAT", "n", text) == NOT_FLOAT


def test_incrbyfloat_still_parses_whole_numbers(raw):
    c = raw()
    assert c.cmd("SET", "k", "1.5") == b"+OK\r\n"
    assert c.cmd("INCRBYFLOAT", "k", "1") == b"$3\r\n2.5\r\n"
    assert c.cmd("INCRBYFLOAT", "k", "-0.5e1") == b"$4\r\n-2.5\r\n"


@pytest.mark.parametrize("value", NUL_VALUES, ids=repr)
@pytest.mark.parametrize("command", [("INCR",), ("DECR",), ("INCRBY", "1"), ("DECRBY", "1")], ids=lambda c: c[0])
def test_integer_counters_refuse_a_stored_value_with_a_nul(raw, command, value):
    c = raw()
    assert c.cmd("SET", "k", value) == b"+OK\r\n"
    assert c.cmd(command[0], "k", *command[1:]) == NOT_INTEGER
    assert c.cmd("GET", "k") == b"$%d\r\n%s\r\n" % (len(value), value)


@pytest.mark.parametrize("argument", [b"1\x002", b"1\x00", b"\x001", b"\x00"], ids=repr)
@pytest.mark.parametrize("command", ["INCRBY", "DECRBY"])
def test_integer_counters_refuse_an_argument_with_a_nul(raw, command, argument):
    c = raw()
    assert c.cmd("SET", "k", "1") == b"+OK\r\n"
    assert c.cmd(command, "k", argument) == NOT_INTEGER
    assert c.cmd("GET", "k") == b"$1\r\n1\r\n"
