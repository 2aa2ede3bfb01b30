/* Unit tests for persist/aof.c: the manifest (Redis 7.0's format, parse and
 * print, the new base / new incr / history transitions) and the writer
 * thread (bytes in order, file switches at the exact byte, fsync sequence
 * numbers). */
#include <criterion/criterion.h>

#include "aof.h"
#include "kl_alloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *REDIS_MANIFEST = "file appendonly.aof.1.base.rdb seq 1 type b\n"
                                    "file appendonly.aof.1.incr.aof seq 1 type i\n";

Test(aof_manifest, parses_and_prints_redis_format) {
    aof_manifest_t m;
    char err[256];
    cr_assert_eq(aof_manifest_parse(&m, REDIS_MANIFEST, strlen(REDIS_MANIFEST), err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(m.base->name, "appendonly.aof.1.base.rdb");
    cr_assert_eq(m.nincr, 1);
    cr_assert_eq(m.incr_seq, 1);
    char *text = aof_manifest_format(&m);
    cr_assert_str_eq(text, REDIS_MANIFEST);
    kl_free(text);
    aof_manifest_free(&m);
}

Test(aof_manifest, keys_in_any_order_comments_and_unknown_keys) {
    const char *t = "# a comment\n"
                    "type b seq 3 file x.3.base.aof\n"
                    "file x.5.incr.aof seq 5 type i extra yes\n"
                    "file \"with space\" seq 6 type i\n";
    aof_manifest_t m;
    char err[256];
    cr_assert_eq(aof_manifest_parse(&m, t, strlen(t), err, sizeof err), 0, "%s", err);
    cr_assert_eq(m.base->seq, 3);
    cr_assert_eq(m.nincr, 2);
    cr_assert_str_eq(m.incr[1].name, "with space");
    char *text = aof_manifest_format(&m);
    cr_assert_str_eq(text, "file x.3.base.aof seq 3 type b\n"
                           "file x.5.incr.aof seq 5 type i\n"
                           "file \"with space\" seq 6 type i\n");
    kl_free(text);
    aof_manifest_free(&m);
}

static void bad(const char *t, const char *why) {
    aof_manifest_t m;
    char err[256] = "";
    cr_assert_eq(aof_manifest_parse(&m, t, strlen(t), err, sizeof err), -1, "accepted: %s", t);
    cr_assert_str_eq(err, why, "for %s", t);
}

Test(aof_manifest, rejects_what_redis_rejects) {
    bad("", "Found an empty AOF manifest");
    bad("# only a comment\n", "Found an empty AOF manifest");
    bad("file a seq 1\n", "Invalid AOF manifest file format");
    bad("file a seq x type i\n", "Invalid AOF manifest file format");
    bad("file a seq 1 type z\n", "Invalid AOF manifest file format");
    bad("file a/b seq 1 type i\n", "Invalid AOF manifest file format");
    bad("file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information");
    bad("file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number");
    char longline[1200];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    bad(longline, "The AOF manifest file contains too long line");
}

Test(aof_manifest, rewrite_transitions) {
    aof_manifest_t m;
    char err[256];
    cr_assert_eq(aof_manifest_parse(&m, REDIS_MANIFEST, strlen(REDIS_MANIFEST), err, sizeof err),
                 0);
    /* BGREWRITEAOF: a new incr, then the new base; older incrs are history. */
    cr_assert_str_eq(aof_manifest_new_incr(&m, "appendonly.aof"), "appendonly.aof.2.incr.aof");
    cr_assert_str_eq(aof_manifest_new_base(&m, "appendonly.aof", true),
                     "appendonly.aof.2.base.rdb");
    aof_manifest_incrs_to_history(&m);
    char *text = aof_manifest_format(&m);
    /* History newest first, as Redis 7.0 lists it (listAddNodeHead). */
    cr_assert_str_eq(text, "file appendonly.aof.2.base.rdb seq 2 type b\n"
                           "file appendonly.aof.1.incr.aof seq 1 type h\n"
                           "file appendonly.aof.1.base.rdb seq 1 type h\n"
                           "file appendonly.aof.2.incr.aof seq 2 type i\n");
    kl_free(text);
    aof_manifest_t *d = aof_manifest_dup(&m);
    cr_assert_eq(d->nhist, 2);
    aof_manifest_free(d);
    kl_free(d);
    aof_manifest_free(&m);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

Test(aof_writer, writes_in_order_switches_at_the_byte_and_syncs) {
    char dir[] = "/tmp/kl-aof-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    int fa = open(a, O_WRONLY | O_CREAT | O_APPEND, 0644),
        fb = open(b, O_WRONLY | O_CREAT | O_APPEND, 0644);
    cr_assert(fa >= 0 && fb >= 0);
    cr_assert_eq(aof_writer_start(fa, AOF_FSYNC_ALWAYS, NULL, NULL), 0);
    uint64_t s1 = aof_writer_append("hello ", 6);
    aof_writer_append("world", 5);
    aof_writer_switch(fb);
    uint64_t s2 = aof_writer_append("next", 4);
    cr_assert_eq(s2 - s1, 9);
    aof_writer_flush_sync();
    cr_assert_geq(aof_writer_seq_synced(), s2);
    aof_writer_stop();
    size_t n;
    char *p = slurp(a, &n);
    cr_assert_eq(n, 11);
    cr_assert(memcmp(p, "hello world", 11) == 0);
    p = slurp(b, &n);
    cr_assert_eq(n, 4);
    cr_assert(memcmp(p, "next", 4) == 0);
    unlink(a);
    unlink(b);
    rmdir(dir);
}
