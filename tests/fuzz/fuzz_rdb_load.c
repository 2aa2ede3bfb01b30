/* libFuzzer target for whole RDB files (persist/rdb.c's loader and
 * everything under it).
 *
 * The input is an RDB file, loaded from memory (rdb_loader_open_mem) in
 * small steps (rdb_loader_step with a 64-byte budget, so the stepping and
 * the running checksum are exercised) into a fresh keyspace: once without
 * and once with RDB_LOAD_DEEP (the second also with RDB_LOAD_NO_CHECKSUM
 * and RDB_LOAD_SKIP_EXPIRED, and under small encoding limits taken from
 * the input's last bytes, so conversions on load happen). Whatever the outcome, every key loaded is
 * walked completely, re-serialized, loaded back and compared
 * (rdb_fuzz_common.h); then the databases are flushed. A failed load must
 * say why and where. Properties checked besides: the loader's position never
 * passes the input's end, it finishes in a bounded number of steps, and the
 * counts of rdb_load_info_t match the keyspace. */
#include "rdb_fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t check_keyspace(int flags) {
    size_t keys = 0;
    for (int i = 0; i < db_count(); i++) {
        kdb_t *db = db_get(i);
        dict_iter_t it;
        dict_iter_init(&it, db->keys, 0);
        dict_entry_t *e;
        while ((e = dict_iter_next(&it)) != NULL) {
            fz_check_value(dict_entry_val(e), flags);
            keys++;
        }
        dict_iter_done(&it);
        FCHECK(db_expires_size(db) <= db_size(db));
    }
    return keys;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rdb_fuzz_init();
    for (int pass = 0; pass < 2; pass++) {
        int flags = pass ? RDB_LOAD_DEEP | RDB_LOAD_NO_CHECKSUM | RDB_LOAD_SKIP_EXPIRED : 0;
        rdb_fuzz_limits(pass && size >= 6 ? data + size - 6 : NULL);
        rdb_loader_t *l = rdb_loader_open_mem(data, size, flags);
        rdb_err_t err = {{0}, 0};
        int rc;
        size_t steps = 0;
        do {
            rc = rdb_loader_step(l, 64, &err);
            FCHECK(rdb_loader_pos(l) <= size);
            FCHECK(++steps <= size + 2); /* every step consumes input or ends */
        } while (rc == 1);
        if (rc < 0) {
            FCHECK(err.msg[0] != '\0');
            FCHECK(err.offset <= size);
        }
        const rdb_load_info_t *in = rdb_loader_info(l);
        size_t keys = check_keyspace(flags & RDB_LOAD_DEEP);
        FCHECK(keys == in->keys_loaded);
        rdb_loader_close(l);
        db_flush_all();
    }
    return 0;
}
