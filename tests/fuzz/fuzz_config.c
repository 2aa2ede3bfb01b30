/* libFuzzer target for server/config.c (and the kl_util helpers it uses:
 * argument splitting, glob, number and memory parsing, repr).
 *
 * The input is redis.conf text. Each run starts from defaults, in sandboxed
 * mode (no include, no chdir, no log file), and checks properties, aborting
 * on violation:
 *   1. config_load_string() sets *err exactly when it fails.
 *   2. After a successful load, every CONFIG GET * value can be fed back to
 *      CONFIG SET (unless immutable/protected) and reads back identically.
 *   3. CONFIG REWRITE of a file holding the input produces a file that loads
 *      back to the same CONFIG GET * (all directives, dir included).
 *   4. Every input line is also tried as a CONFIG SET argument vector (and
 *      as CONFIG GET patterns); a failed CONFIG SET leaves CONFIG GET *
 *      unchanged (all or nothing), with apply hooks that fail on demand (the
 *      first input byte) so the rollback path runs too.
 * ASan/UBSan and the leak checker cover memory ownership (config_free at the
 * end of every run). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char conf_path[256];
static int hook_mode; /* bit 0: port hook fails, bit 1: hz hook fails */

static void snap_emit(void *ctx, const char *name, const char *value, size_t vlen) {
    kl_buf_t *b = ctx;
    CHECK(strlen(value) == vlen);
    kl_buf_append_repr(b, name, strlen(name));
    kl_buf_append_char(b, '=');
    kl_buf_append_repr(b, value, vlen);
    kl_buf_append_char(b, '\n');
}

static char *snapshot(void) {
    const char *star[] = {"*"};
    kl_buf_t b = {0};
    config_get(star, 1, snap_emit, &b);
    return kl_buf_detach(&b);
}

/* Hooks read what they are given, so ASan sees stale pointers. */
static int port_hook(char **err) {
    for (int i = 0; i < g_cfg.bind_count; i++)
        CHECK(strlen(g_cfg.bind[i]) < 1u << 20);
    if (hook_mode & 1) {
        *err = kl_strdup("Unable to listen on this port");
        return -1;
    }
    return 0;
}

static int hz_hook(char **err) {
    CHECK(g_cfg.hz >= 1 && g_cfg.hz <= 500);
    CHECK(strlen(g_cfg.tls_cert_file) < 1u << 20);
    return (hook_mode & 2) ? -1 : 0;
}

static void register_hooks(void) {
    config_register_apply("port", port_hook);
    config_register_apply("bind", port_hook);
    config_register_apply("hz", hz_hook);
    config_register_apply("tls-cert-file", hz_hook);
}

typedef struct pairs {
    char **v;
    int n, cap;
} pairs_t;

static void pair_emit(void *ctx, const char *name, const char *value, size_t vlen) {
    pairs_t *p = ctx;
    if (p->n + 2 > p->cap) {
        p->cap = p->cap ? p->cap * 2 : 512;
        p->v = kl_realloc(p->v, sizeof(char *) * (size_t)p->cap);
    }
    p->v[p->n++] = kl_strdup(name);
    p->v[p->n++] = kl_strndup(value, vlen);
}

/* Property 2: GET -> SET -> GET is the identity. */
static void check_get_set_roundtrip(void) {
    const char *star[] = {"*"};
    pairs_t p = {0};
    int saved = hook_mode;
    hook_mode = 0;
    config_get(star, 1, pair_emit, &p);
    for (int i = 0; i < p.n; i += 2) {
        const char *argv[2] = {p.v[i], p.v[i + 1]};
        char *err = NULL;
        if (config_set(2, argv, &err) != 0) {
            CHECK(err != NULL);
            CHECK(strstr(err, "can't set immutable config") || strstr(err, "can't set protected"));
            kl_free(err);
            continue;
        }
        CHECK(err == NULL);
        char *again = config_get_value(p.v[i]);
        CHECK(again && strcmp(again, p.v[i + 1]) == 0);
        kl_free(again);
    }
    for (int i = 0; i < p.n; i++)
        kl_free(p.v[i]);
    kl_free(p.v);
    hook_mode = saved;
}

/* Property 3: what CONFIG REWRITE writes loads back to the same state. */
static void check_rewrite(const char *text) {
    char *err = NULL, *before, *after;
    FILE *f = fopen(conf_path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
    config_init_defaults();
    if (config_load(conf_path, NULL, 0, NULL, &err) != 0) {
        /* Only the line numbers may differ from config_load_string. */
        kl_free(err);
        return;
    }
    before = snapshot();
    CHECK(config_rewrite(&err) == 0);
    CHECK(err == NULL);
    config_init_defaults();
    if (config_load(conf_path, NULL, 0, NULL, &err) != 0) {
        fprintf(stderr, "rewritten file does not load: %s\n", err);
        abort();
    }
    after = snapshot();
    if (strcmp(before, after) != 0) {
        fprintf(stderr, "state changed through REWRITE:\n--- before\n%s--- after\n%s", before,
                after);
        abort();
    }
    kl_free(before);
    kl_free(after);
}

/* Property 4: each line as CONFIG SET arguments and as GET patterns. */
static void try_lines_as_commands(const char *text, size_t len) {
    size_t pos = 0;
    int tried = 0;
    while (pos < len && tried < 16) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        char **argv;
        int argc;
        if (kl_split_args(text + pos, end - pos, &argv, &argc) == 0) {
            if (argc >= 1) {
                char *err = NULL, *before = snapshot();
                int rc = config_set(argc, (const char **)argv, &err);
                if (rc != 0) {
                    char *after = snapshot();
                    CHECK(err != NULL && strncmp(err, "ERR ", 4) == 0);
                    if (strcmp(before, after) != 0) {
                        fprintf(stderr, "failed CONFIG SET changed state (%s)\n", err);
                        abort();
                    }
                    kl_free(after);
                } else {
                    CHECK(err == NULL);
                }
                kl_free(err);
                kl_free(before);
                size_t n = config_get_count((const char **)argv, argc);
                CHECK(n <= 2 * 200);
            }
            kl_free_args(argv, argc);
            tried++;
        }
        pos = end + 1;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    kl_log_set_file("/dev/null");
    config_set_sandboxed(1);
    snprintf(conf_path, sizeof(conf_path), "%s/kl_fuzz_config_%d.conf",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text, *err = NULL;
    int rc;

    if (size > 16384) return 0;
    text = kl_malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    hook_mode = size ? data[0] & 3 : 0;

    /* Property 1. */
    config_init_defaults();
    rc = config_load_string(text, &err);
    CHECK((rc == 0) == (err == NULL));
    kl_free(err);
    if (rc == 0) {
        check_get_set_roundtrip();
        check_rewrite(text);
    }

    config_init_defaults();
    register_hooks();
    try_lines_as_commands(text, strlen(text));

    config_free();
    unlink(conf_path);
    kl_free(text);
    return 0;
}
