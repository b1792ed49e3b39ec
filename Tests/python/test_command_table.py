"""COMMAND's view of the command table, as Redis 7.0 replies (checked with KVNODE_TARGET=redis)."""

import pytest

from replies import text_client


@pytest.mark.parametrize("name, reply", [
    # Redis reports no `fast` for PUBSUB's subcommands and `no_async_loading` for BGSAVE.
    ("pubsub|numpat",
     b"*1\r\n*10\r\n$13\r\npubsub|numpat\r\n:2\r\n*3\r\n+pubsub\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n"
     b"*2\r\n+@pubsub\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n"),
    ("bgsave",
     b"*1\r\n*10\r\n$6\r\nbgsave\r\n:-1\r\n*3\r\n+admin\r\n+noscript\r\n+no_async_loading\r\n:0\r\n:0\r\n:0\r\n"
     b"*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n"),
    # Shard channels: positions 1..-1, but a `not_key` key spec.
    ("ssubscribe",
     b"*1\r\n*10\r\n$10\r\nssubscribe\r\n:-2\r\n*4\r\n+pubsub\r\n+noscript\r\n+loading\r\n+stale\r\n:1\r\n:-1\r\n"
     b":1\r\n*2\r\n+@pubsub\r\n+@slow\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*1\r\n+not_key\r\n$12\r\nbegin_search\r\n"
     b"*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\n"
     b"type\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n"
     b":0\r\n*0\r\n"),
])
def test_command_info_bytes(raw, name, reply):
    assert raw().cmd("COMMAND", "INFO", name) == reply


@pytest.mark.parametrize("args, reply", [
    # SET's key flags depend on GET.
    (("set", "k", "v"), b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"),
    (("set", "k", "v", "EX", "10", "get"), b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n"),
    # Each key has its own key spec's flags.
    (("copy", "a", "b"), b"*2\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n*2\r\n+OW\r\n+update\r\n"),
    (("rename", "a", "b"),
     b"*2\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n*2\r\n$1\r\nb\r\n*2\r\n+OW\r\n+update\r\n"),
    (("del", "a"), b"*1\r\n*2\r\n$1\r\na\r\n*2\r\n+RM\r\n+delete\r\n"),
    # Redis's order of checks: the command, whether it has keys at all, then its arity.
    (("ssubscribe", "a"), b"-ERR The command has no key arguments\r\n"),
    (("spublish", "a", "m"), b"-ERR The command has no key arguments\r\n"),
    (("client", "kill"), b"-ERR The command has no key arguments\r\n"),
    (("client", "nosuch", "k"), b"-ERR Invalid command specified\r\n"),
    (("object", "encoding"), b"-ERR Invalid number of arguments specified for command\r\n"),
])
def test_command_getkeysandflags(raw, args, reply):
    assert raw().cmd("COMMAND", "GETKEYSANDFLAGS", *args) == reply


def test_command_list_by_category(server):
    r = text_client(server)
    assert set(r.command_list(category="pubsub")) == {
        "publish", "spublish", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe",
        "sunsubscribe", "pubsub|channels", "pubsub|numsub", "pubsub|numpat", "pubsub|shardchannels",
        "pubsub|shardnumsub"}
    assert r.command_list(category="PUBSUB") == r.command_list(category="pubsub")
    assert r.command_list(category="nosuch") == []


def test_every_command_is_consistent(server):
    """Redis's rules for its own table hold for every command: @fast exactly with the fast flag, @slow otherwise,
    categories implied by flags, key specs exactly when the command has keys."""
    r = text_client(server, 3)
    r.set_response_callback("COMMAND", lambda response, **options: response)

    def check(entry):
        name, arity, flags, first, _, _, categories, _, key_specs, subcommands = entry
        flags, categories = set(flags), {c.removeprefix("@") for c in categories}
        assert arity != 0, name
        assert ("fast" in categories) == ("fast" in flags) != ("slow" in categories), name
        implied = {"write"} if "write" in flags else set()
        implied |= {"read"} if "readonly" in flags and "scripting" not in categories else set()
        implied |= {"admin", "dangerous"} if "admin" in flags else set()
        implied |= {"pubsub"} if "pubsub" in flags else set()
        assert implied <= categories, name
        assert bool(key_specs) == (first != 0 or "movablekeys" in flags), name
        for sub in subcommands:
            assert sub[0].startswith(name + "|")
            check(sub)

    for entry in r.execute_command("COMMAND"):
        check(entry)
