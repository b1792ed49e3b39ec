"""Nothing a client can use to escape the data directory (issue 13): Redis's classic `CONFIG SET dir` + `dbfilename`
+ `SAVE` is refused (`dir` is a protected config, as in Redis 7.0), settings naming files are immutable, keys that
look like paths stay keys, and symbolic links planted in the data directory never redirect the server's writes or
deletions outside it."""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import redis

from conftest import TARGET, start_server

PROTECTED = "CONFIG SET failed (possibly related to argument '{}') - can't set protected config"
IMMUTABLE = "CONFIG SET failed (possibly related to argument '{}') - can't set immutable config"


def files_under(root: str) -> set[str]:
    found = set()
    for directory, _, names in os.walk(root):
        found.update(os.path.join(directory, name) for name in names)
    return found


@pytest.fixture
def outside():
    """A directory outside the data directory, with a file that must survive."""
    path = tempfile.mkdtemp(prefix="kvoutside-")
    with open(os.path.join(path, "precious"), "w") as f:
        f.write("untouched")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def untouched(outside: str) -> bool:
    with open(os.path.join(outside, "precious")) as f:
        return f.read() == "untouched" and os.listdir(outside) == ["precious"]


@pytest.mark.parametrize("value", ["/tmp", "../", "../../etc", "/etc/cron.d", "."])
def test_config_set_dir_is_protected(r2, value):
    with pytest.raises(redis.ResponseError) as refused:
        r2.config_set("dir", value)
    assert str(refused.value) == PROTECTED.format("dir")


def test_dbfilename_cannot_name_a_file(r2):
    with pytest.raises(redis.ResponseError) as refused:
        r2.config_set("dbfilename", "../../../../etc/cron.d/evil")
    if TARGET == "redis":
        assert str(refused.value) == PROTECTED.format("dbfilename")
    else:  # kvnode has no RDB file to name
        assert str(refused.value) == "Unknown option or number of arguments for CONFIG SET - 'dbfilename'"


@pytest.mark.parametrize("name,value", [("aclfile", "/tmp/users.acl"), ("unixsocket", "/tmp/evil.sock"),
                                        ("unixsocketperm", "777"), ("enable-protected-configs", "yes")])
def test_settings_naming_files_are_immutable(r2, name, value):
    with pytest.raises(redis.ResponseError) as refused:
        r2.config_set(name, value)
    assert str(refused.value) == IMMUTABLE.format(name)


def test_dir_stays_protected_in_a_multi_parameter_set(r2):
    """All or nothing: a protected parameter fails the whole CONFIG SET, the other values are not applied."""
    before = r2.config_get("acllog-max-len")
    with pytest.raises(redis.ResponseError) as refused:
        r2.execute_command("CONFIG", "SET", "acllog-max-len", "7", "dir", "/tmp")
    assert str(refused.value) == PROTECTED.format("dir")
    assert r2.config_get("acllog-max-len") == before


@pytest.mark.kvnode_only  # Redis would chdir; kvnode cannot move its open database
def test_enabled_protected_configs_still_cannot_move_the_data_directory():
    with start_server("--enable-protected-configs", "yes") as srv, srv.client() as c:
        assert c.config_get("enable-protected-configs") == {"enable-protected-configs": "yes"}
        with pytest.raises(redis.ResponseError) as refused:
            c.config_set("dir", "/tmp")
        assert str(refused.value) == ("CONFIG SET failed (possibly related to argument 'dir') - "
                                      "kvnode cannot move its data directory while it runs")


@pytest.mark.kvnode_only
def test_keys_that_look_like_paths_stay_keys(outside):
    """Path-like keys and arguments of every kind of command are bytes in the keyspace: after writing them, taking
    a snapshot and watching them, nothing new exists outside the data directory."""
    traversal = ["../../../../" + outside.lstrip("/") + "/evil", outside + "/evil", "../x", "/etc/passwd",
                 "snapshots/../../escape", "..", "."]
    with start_server() as srv, srv.client() as c:
        base = os.path.dirname(srv.data_dir)
        before = files_under(base)
        for key in traversal:
            assert c.set(key, b"payload")
            assert c.execute_command("KV.SET", key + "/kv", b"payload")
            assert c.get(key) == b"payload"
            c.execute_command("KV.HISTORY", key)
        c.execute_command("PDEL", "../*")
        path = c.execute_command("SNAPSHOT").decode()
        assert os.path.realpath(path).startswith(os.path.realpath(srv.data_dir) + "/snapshots/")
        assert untouched(outside)
        new_files = files_under(base) - before
        data = os.path.realpath(srv.data_dir) + "/"
        assert all(os.path.realpath(f).startswith(data) or f.endswith(".log") for f in new_files), new_files


@pytest.mark.kvnode_only
def test_symlinked_snapshots_directory_is_refused(outside):
    with start_server() as srv, srv.client() as c:
        snapshots = os.path.join(srv.data_dir, "snapshots")
        shutil.rmtree(snapshots, ignore_errors=True)
        os.symlink(outside, snapshots)
        c.set("k", "v")
        with pytest.raises(redis.ResponseError) as failed:
            c.execute_command("SNAPSHOT")
        assert "is a symbolic link" in str(failed.value)
        assert untouched(outside)


@pytest.mark.kvnode_only
def test_planted_links_are_removed_never_followed(outside):
    """A link where an old snapshot or a leftover temporary directory would be: rotation and clean-up remove the
    link itself and leave its target alone."""
    with start_server("--snapshot-keep", "1") as srv, srv.client() as c:
        c.set("k", "v")
        first = c.execute_command("SNAPSHOT").decode()
        snapshots = os.path.dirname(first)
        os.symlink(outside, os.path.join(snapshots, "1000-1"))  # looks like the oldest snapshot
        os.symlink(outside, os.path.join(snapshots, ".tmp-1000-2"))  # looks like a crashed snapshot's leftovers
        os.symlink(os.path.join(outside, "precious"), os.path.join(first, "extra"))  # inside a snapshot to rotate
        c.execute_command("SNAPSHOT")
        c.execute_command("SNAPSHOT")
        assert untouched(outside)
        assert not os.path.lexists(os.path.join(snapshots, "1000-1"))
        assert not os.path.lexists(os.path.join(snapshots, ".tmp-1000-2"))
        assert not os.path.exists(first)


def test_acl_save_replaces_a_symlinked_aclfile_without_writing_through_it(outside):
    """ACL SAVE writes a new file and renames it over the ACL file: a symlink there is replaced, the file it points to
    outside never written (Redis behaves the same)."""
    directory = tempfile.mkdtemp(prefix="kvacl-")
    try:
        target = os.path.join(outside, "precious")
        acl = os.path.join(directory, "users.acl")
        with open(os.path.join(directory, "real.acl"), "w") as f:
            f.write("user default on nopass ~* &* +@all\n")
        os.symlink(os.path.join(directory, "real.acl"), acl)
        with start_server("--aclfile", acl) as srv, srv.client() as c:
            os.remove(os.path.join(directory, "real.acl"))
            os.symlink(target, os.path.join(directory, "real.acl"))  # now the link chain ends outside
            c.execute_command("ACL", "SETUSER", "alice", "on", ">pw", "~*", "+get")
            assert c.execute_command("ACL", "SAVE") in (b"OK", True)
            # Redis renames over the link it was given; kvnode over the file the link resolved to at start-up (it
            # resolves --aclfile once). Either way the new users are read back through the ACL file's name.
            with open(acl) as f:
                assert "user alice" in f.read()
        assert untouched(outside)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
