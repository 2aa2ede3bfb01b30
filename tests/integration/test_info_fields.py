"""INFO for monitoring tools: every field Redis 7.0 prints in each section is present, in Redis's
order, with Redis's value formats and sane values; the sections come in Redis's order (keyloom's
own Threads and TLS sections and its few extra fields may sit in between); the sampled and timed
fields (instantaneous_*_kbps, mem_clients_normal, *_eviction_exceeded_time) move when they should.

The expected lists are Redis 7.0.15's `INFO everything` on a server without persistence,
replication, modules or cluster. Run with KEYLOOM_TEST_REFERENCE=1 against redis-server to prove
them: there every section must hold exactly these fields."""

import re
import time

import pytest

from conftest import REFERENCE
from helpers import OK, info_dict, wait_until

SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
            "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]
DEFAULT_SECTIONS = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                    "modules", "errorstats", "cluster", "keyspace"]

FIELDS = {
    "server": [
        "redis_version", "redis_git_sha1", "redis_git_dirty", "redis_build_id", "redis_mode", "os",
        "arch_bits", "monotonic_clock", "multiplexing_api", "atomicvar_api", "gcc_version",
        "process_id", "process_supervised", "run_id", "tcp_port", "server_time_usec",
        "uptime_in_seconds", "uptime_in_days", "hz", "configured_hz", "lru_clock", "executable",
        "config_file", "io_threads_active"],
    "clients": [
        "connected_clients", "cluster_connections", "maxclients",
        "client_recent_max_input_buffer", "client_recent_max_output_buffer", "blocked_clients",
        "tracking_clients", "clients_in_timeout_table"],
    "memory": [
        "used_memory", "used_memory_human", "used_memory_rss", "used_memory_rss_human",
        "used_memory_peak", "used_memory_peak_human", "used_memory_peak_perc",
        "used_memory_overhead", "used_memory_startup", "used_memory_dataset",
        "used_memory_dataset_perc", "allocator_allocated", "allocator_active",
        "allocator_resident", "total_system_memory", "total_system_memory_human",
        "used_memory_lua", "used_memory_vm_eval", "used_memory_lua_human",
        "used_memory_scripts_eval", "number_of_cached_scripts", "number_of_functions",
        "number_of_libraries", "used_memory_vm_functions", "used_memory_vm_total",
        "used_memory_vm_total_human", "used_memory_functions", "used_memory_scripts",
        "used_memory_scripts_human", "maxmemory", "maxmemory_human", "maxmemory_policy",
        "allocator_frag_ratio", "allocator_frag_bytes", "allocator_rss_ratio",
        "allocator_rss_bytes", "rss_overhead_ratio", "rss_overhead_bytes",
        "mem_fragmentation_ratio", "mem_fragmentation_bytes", "mem_not_counted_for_evict",
        "mem_replication_backlog", "mem_total_replication_buffers", "mem_clients_slaves",
        "mem_clients_normal", "mem_cluster_links", "mem_aof_buffer", "mem_allocator",
        "active_defrag_running", "lazyfree_pending_objects", "lazyfreed_objects"],
    "persistence": [
        "loading", "async_loading", "current_cow_peak", "current_cow_size",
        "current_cow_size_age", "current_fork_perc", "current_save_keys_processed",
        "current_save_keys_total", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
        "rdb_last_save_time", "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
        "rdb_current_bgsave_time_sec", "rdb_saves", "rdb_last_cow_size",
        "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded", "aof_enabled",
        "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_rewrite_time_sec",
        "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status", "aof_rewrites",
        "aof_rewrites_consecutive_failures", "aof_last_write_status", "aof_last_cow_size",
        "module_fork_in_progress", "module_fork_last_cow_size"],
    "stats": [
        "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
        "total_net_input_bytes", "total_net_output_bytes", "total_net_repl_input_bytes",
        "total_net_repl_output_bytes", "instantaneous_input_kbps", "instantaneous_output_kbps",
        "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps", "rejected_connections",
        "sync_full", "sync_partial_ok", "sync_partial_err", "expired_keys", "expired_stale_perc",
        "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds", "evicted_keys",
        "evicted_clients", "total_eviction_exceeded_time", "current_eviction_exceeded_time",
        "keyspace_hits", "keyspace_misses", "pubsub_channels", "pubsub_patterns",
        "pubsubshard_channels", "latest_fork_usec", "total_forks", "migrate_cached_sockets",
        "slave_expires_tracked_keys", "active_defrag_hits", "active_defrag_misses",
        "active_defrag_key_hits", "active_defrag_key_misses", "total_active_defrag_time",
        "current_active_defrag_time", "tracking_total_keys", "tracking_total_items",
        "tracking_total_prefixes", "unexpected_error_replies", "total_error_replies",
        "dump_payload_sanitizations", "total_reads_processed", "total_writes_processed",
        "io_threaded_reads_processed", "io_threaded_writes_processed", "reply_buffer_shrinks",
        "reply_buffer_expands"],
    "replication": [
        "role", "connected_slaves", "master_failover_state", "master_replid", "master_replid2",
        "master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
        "repl_backlog_first_byte_offset", "repl_backlog_histlen"],
    "cpu": [
        "used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
        "used_cpu_sys_main_thread", "used_cpu_user_main_thread"],
    "modules": [],
    "cluster": ["cluster_enabled"],
}

# What Redis prints for subsystems that never ran (no save, rewrite, fork, replica, defrag,
# tracking, module or cluster): keyloom has none of them and prints the same.
IDLE_VALUES = {
    "persistence": {
        "loading": "0", "async_loading": "0", "current_cow_peak": "0", "current_cow_size": "0",
        "current_cow_size_age": "0", "current_fork_perc": "0.00",
        "current_save_keys_processed": "0", "current_save_keys_total": "0",
        "rdb_bgsave_in_progress": "0", "rdb_last_bgsave_status": "ok",
        "rdb_last_bgsave_time_sec": "-1", "rdb_current_bgsave_time_sec": "-1",
        "rdb_last_cow_size": "0", "aof_enabled": "0", "aof_rewrite_in_progress": "0",
        "aof_rewrite_scheduled": "0", "aof_last_rewrite_time_sec": "-1",
        "aof_current_rewrite_time_sec": "-1", "aof_last_bgrewrite_status": "ok",
        "aof_rewrites": "0", "aof_rewrites_consecutive_failures": "0",
        "aof_last_write_status": "ok", "aof_last_cow_size": "0", "module_fork_in_progress": "0",
        "module_fork_last_cow_size": "0"},
    "stats": {
        "total_net_repl_input_bytes": "0", "total_net_repl_output_bytes": "0",
        "instantaneous_input_repl_kbps": "0.00", "instantaneous_output_repl_kbps": "0.00",
        "sync_full": "0", "sync_partial_ok": "0", "sync_partial_err": "0",
        "latest_fork_usec": "0", "migrate_cached_sockets": "0",
        "slave_expires_tracked_keys": "0", "active_defrag_hits": "0",
        "active_defrag_misses": "0", "active_defrag_key_hits": "0",
        "active_defrag_key_misses": "0", "total_active_defrag_time": "0",
        "current_active_defrag_time": "0", "tracking_total_keys": "0",
        "tracking_total_items": "0", "tracking_total_prefixes": "0",
        "dump_payload_sanitizations": "0"},
    "memory": {
        "mem_replication_backlog": "0", "mem_total_replication_buffers": "0",
        "mem_clients_slaves": "0", "mem_cluster_links": "0", "mem_aof_buffer": "0",
        "active_defrag_running": "0", "number_of_cached_scripts": "0",
        "number_of_functions": "0", "number_of_libraries": "0", "used_memory_scripts_eval": "0"},
    "replication": {
        "role": "master", "connected_slaves": "0", "repl_backlog_active": "0",
        "repl_backlog_size": "1048576", "repl_backlog_first_byte_offset": "0",
        "repl_backlog_histlen": "0", "second_repl_offset": "-1"},
    "cluster": {"cluster_enabled": "0"},
}

INT = re.compile(r"^-?\d+$")
FLOAT2 = re.compile(r"^-?\d+\.\d\d$")
PERC = re.compile(r"^\d+\.\d\d%$")
HUMAN = re.compile(r"^(\d+B|\d+\.\d\d[KMGT])$")

INT_FIELDS = {
    "memory": ["used_memory", "used_memory_rss", "used_memory_peak", "used_memory_overhead",
               "used_memory_startup", "used_memory_dataset", "allocator_allocated",
               "allocator_active", "allocator_resident", "total_system_memory",
               "used_memory_lua", "used_memory_vm_eval", "used_memory_vm_functions",
               "used_memory_vm_total", "used_memory_functions", "used_memory_scripts",
               "maxmemory", "allocator_frag_bytes", "allocator_rss_bytes", "rss_overhead_bytes",
               "mem_fragmentation_bytes", "mem_not_counted_for_evict", "mem_clients_normal",
               "lazyfree_pending_objects", "lazyfreed_objects"],
    "persistence": ["rdb_changes_since_last_save", "rdb_last_save_time", "rdb_saves",
                    "rdb_last_load_keys_expired", "rdb_last_load_keys_loaded"],
    "stats": ["total_connections_received", "total_commands_processed",
              "instantaneous_ops_per_sec", "total_net_input_bytes", "total_net_output_bytes",
              "rejected_connections", "expired_keys", "expired_time_cap_reached_count",
              "expire_cycle_cpu_milliseconds", "evicted_keys", "evicted_clients",
              "total_eviction_exceeded_time", "current_eviction_exceeded_time",
              "keyspace_hits", "keyspace_misses", "total_forks", "unexpected_error_replies",
              "total_error_replies", "total_reads_processed", "total_writes_processed",
              "reply_buffer_shrinks", "reply_buffer_expands"],
}
FLOAT_FIELDS = {
    "memory": ["allocator_frag_ratio", "allocator_rss_ratio", "rss_overhead_ratio",
               "mem_fragmentation_ratio"],
    "stats": ["instantaneous_input_kbps", "instantaneous_output_kbps", "expired_stale_perc"],
}
PERC_FIELDS = {"memory": ["used_memory_peak_perc", "used_memory_dataset_perc"]}
HUMAN_FIELDS = {"memory": ["used_memory_human", "used_memory_rss_human",
                           "used_memory_peak_human", "total_system_memory_human",
                           "used_memory_lua_human", "used_memory_vm_total_human",
                           "used_memory_scripts_human", "maxmemory_human"]}


def info_text(c, *sections):
    v = c.execute("INFO", *sections)
    assert isinstance(v, bytes), v
    return v.decode()


def headers(text):
    return [l[2:].strip().lower() for l in text.split("\r\n") if l.startswith("# ")]


def section_fields(text):
    """{section: [field names in order]}."""
    out, cur = {}, None
    for line in text.split("\r\n"):
        if line.startswith("# "):
            cur = line[2:].strip().lower()
            out[cur] = []
        elif line:
            out[cur].append(line.partition(":")[0])
    return out


def in_order(expected, got):
    """expected is a subsequence of got (keyloom may add its own fields or sections)."""
    it = iter(got)
    return all(any(x == y for y in it) for x in expected)


def test_sections_in_redis_order(raw):
    everything = headers(info_text(raw, "everything"))
    assert in_order(SECTIONS, everything), everything
    assert in_order(SECTIONS, headers(info_text(raw, "all"))), "INFO all"
    default = headers(info_text(raw))
    assert in_order(DEFAULT_SECTIONS, default), default
    assert "commandstats" not in default and "latencystats" not in default
    if REFERENCE:
        assert everything == SECTIONS
        assert default == DEFAULT_SECTIONS


def test_every_redis_field_in_order(raw):
    fields = section_fields(info_text(raw, "everything"))
    for sec, expected in FIELDS.items():
        got = fields.get(sec)
        assert got is not None, "section %s missing" % sec
        missing = [f for f in expected if f not in got]
        assert not missing, "%s: missing %r" % (sec, missing)
        assert [f for f in got if f in expected] == expected, "%s: order differs" % sec
        if REFERENCE:
            assert got == expected, "%s: %r" % (sec, got)


def test_single_sections_by_name(raw):
    assert info_text(raw, "modules") == "# Modules\r\n"
    assert info_text(raw, "cluster") == "# Cluster\r\ncluster_enabled:0\r\n"
    assert headers(info_text(raw, "cluster", "modules")) == ["modules", "cluster"]
    for sec in ("memory", "persistence", "stats", "replication"):
        got = section_fields(info_text(raw, sec))
        assert list(got) == [sec]
        assert in_order(FIELDS[sec], got[sec]), sec


def test_value_formats_and_idle_values(raw):
    info = info_dict(info_text(raw, "everything"))
    for sec, names in INT_FIELDS.items():
        for n in names:
            assert INT.match(info[sec][n]), (n, info[sec][n])
    for sec, names in FLOAT_FIELDS.items():
        for n in names:
            assert FLOAT2.match(info[sec][n]), (n, info[sec][n])
    for sec, names in PERC_FIELDS.items():
        for n in names:
            assert PERC.match(info[sec][n]), (n, info[sec][n])
    for sec, names in HUMAN_FIELDS.items():
        for n in names:
            assert HUMAN.match(info[sec][n]), (n, info[sec][n])
    for sec, values in IDLE_VALUES.items():
        for n, v in values.items():
            assert info[sec][n] == v, (sec, n, info[sec][n])
    assert int(info["persistence"]["rdb_last_save_time"]) <= time.time() + 1


def test_memory_figures_add_up(raw):
    raw.execute("SET", "k", "v" * 1000)
    m = info_dict(info_text(raw, "memory"))["memory"]
    used = int(m["used_memory"])
    overhead = int(m["used_memory_overhead"])
    startup = int(m["used_memory_startup"])
    dataset = int(m["used_memory_dataset"])
    assert 0 < startup <= overhead
    assert dataset > 0
    # Redis: dataset = used - overhead (the same allocator reading for both).
    assert dataset + overhead == used
    # Redis refreshes mem_clients_normal in its clients cron, so a new connection may not
    # show yet (test_mem_clients_normal_counts_query_buffer waits for it).
    assert int(m["mem_clients_normal"]) >= 0
    assert int(m["used_memory_peak"]) >= used
    # (active >= allocated holds for jemalloc, but not in sanitizer builds, where malloc is
    # the sanitizer's and jemalloc's own counters stay near zero.)
    assert int(m["allocator_allocated"]) > 0 and int(m["allocator_resident"]) > 0
    # (In sanitizer builds jemalloc's active bytes can round the ratio down to 0.00.)
    assert float(m["allocator_frag_ratio"]) >= 0 and float(m["mem_fragmentation_ratio"]) > 0


@pytest.mark.keyloom_only
def test_fragmentation_bytes_match_ratios(raw):
    """keyloom reads the allocator and RSS once per INFO (Redis samples them in its cron, so
    its bytes and ratios can come from different moments)."""
    m = info_dict(info_text(raw, "memory"))["memory"]
    assert int(m["mem_fragmentation_bytes"]) == int(m["used_memory_rss"]) - int(m["used_memory"])
    assert int(m["allocator_frag_bytes"]) == \
        int(m["allocator_active"]) - int(m["allocator_allocated"])
    assert int(m["allocator_rss_bytes"]) == \
        int(m["allocator_resident"]) - int(m["allocator_active"])
    assert int(m["rss_overhead_bytes"]) == \
        int(m["used_memory_rss"]) - int(m["allocator_resident"])
    # No Lua VM, no function engine: nothing to report (Redis shows its idle VM's ~32K).
    for f in ("used_memory_lua", "used_memory_vm_eval", "used_memory_vm_functions",
              "used_memory_vm_total", "used_memory_functions", "used_memory_scripts"):
        assert m[f] == "0", f


def test_mem_clients_normal_counts_query_buffer(server, raw):
    before = int(info_dict(info_text(raw, "memory"))["memory"]["mem_clients_normal"])
    with server.raw() as big:
        # An unfinished 2 MB argument: 1 MB of it waits in the query buffer.
        big.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n" + b"x" * 1000000)

        def grown():
            m = info_dict(info_text(raw, "memory"))["memory"]
            return int(m["mem_clients_normal"]) >= before + 1000000
        wait_until(grown, timeout=5, what="mem_clients_normal to include the 1 MB query buffer")


def test_instantaneous_kbps_follow_traffic(server, raw):
    value = "x" * 4096
    with server.raw() as c:
        deadline = time.monotonic() + 0.6
        n = 0
        while time.monotonic() < deadline and n < 2000:
            c.execute("SET", "k", value)
            c.execute("GET", "k")
            n += 1

    def rates():
        s = info_dict(info_text(raw, "stats"))["stats"]
        i, o = float(s["instantaneous_input_kbps"]), float(s["instantaneous_output_kbps"])
        return (i, o) if i > 0 and o > 0 else None
    i, o = wait_until(rates, timeout=3, what="instantaneous kbps after traffic")
    # 4 KB each way per SET/GET pair; the mean over 1.6 s of samples is still well above 1 KB/s.
    assert i > 1 and o > 1, (i, o)

    def quiet():
        s = info_dict(info_text(raw, "stats"))["stats"]
        return float(s["instantaneous_input_kbps"]) < 1
    # The 16 samples of 100 ms roll over within about two seconds of silence (INFO itself is
    # a few dozen bytes).
    wait_until(quiet, timeout=5, interval=0.2, what="instantaneous_input_kbps to fall back")


def test_eviction_exceeded_time(server, raw, config_set):
    raw.execute("CONFIG", "RESETSTAT")
    s = info_dict(info_text(raw, "stats"))["stats"]
    assert s["total_eviction_exceeded_time"] == "0"
    assert s["current_eviction_exceeded_time"] == "0"
    config_set("maxmemory-policy", "noeviction")
    config_set("maxmemory", "1")
    err = raw.execute("SET", "k", "v")
    assert str(err).startswith("OOM"), err
    time.sleep(0.25)
    s = info_dict(info_text(raw, "stats"))["stats"]
    cur, total = int(s["current_eviction_exceeded_time"]), int(s["total_eviction_exceeded_time"])
    assert 200 <= cur <= total, s
    # Back under the limit: the next command's eviction check closes the period.
    assert raw.execute("CONFIG", "SET", "maxmemory", "1gb") == b"OK"
    assert raw.execute("PING") == b"PONG"
    s = info_dict(info_text(raw, "stats"))["stats"]
    assert s["current_eviction_exceeded_time"] == "0"
    assert int(s["total_eviction_exceeded_time"]) >= total
    raw.execute("CONFIG", "RESETSTAT")
    s = info_dict(info_text(raw, "stats"))["stats"]
    assert s["total_eviction_exceeded_time"] == "0"


def test_expire_cycle_cpu_milliseconds(raw):
    raw.execute("CONFIG", "RESETSTAT")
    s = info_dict(info_text(raw, "stats"))["stats"]
    assert int(s["expire_cycle_cpu_milliseconds"]) < 50
    for i in range(200):
        raw.execute("SET", "e%d" % i, "v", "PX", "1")

    def expired():
        return int(info_dict(info_text(raw, "stats"))["stats"]["expired_keys"]) >= 200
    wait_until(expired, timeout=5, what="active expiry")
    s = info_dict(info_text(raw, "stats"))["stats"]
    assert int(s["expire_cycle_cpu_milliseconds"]) >= 0
