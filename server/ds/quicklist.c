/* quicklist: see quicklist.h for the model.
 *
 * Memory: a node is 32 bytes (two links, the payload pointer, a 32-bit count
 * and flags), one jemalloc size class below Redis's 40-byte node. A plain
 * node's payload is a length word followed by the element's bytes.
 *
 * Compression (list-compress-depth d > 0): the d nodes at each end stay raw;
 * every other node is kept LZF-compressed when that saves at least 8 bytes
 * (nodes under 48 bytes are left alone), as Redis does. Readers (ql_index,
 * iterators) decompress into a scratch copy and leave the node compressed.
 * Writers decompress a node in place (node_write), change it, and settle()
 * compresses it again at the end of the public call, together with the nodes
 * that crossed the depth boundary because nodes were added or removed at an
 * end. A node whose compression did not pay off is not retried until it
 * changes. The LZF coder is lzf.c. */
#include "quicklist.h"

#include "kl_alloc.h"
#include "kl_util.h"
#include "listpack.h"
#include "lzf.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#define QL_SAFETY_LIMIT 8192     /* bytes of a node under a positive fill */
#define QL_NODE_MAX_COUNT 65534u /* keep the listpack's count exact */
#define QL_FILL_MAX 32767
#define QL_FILL_MIN -5
#define QL_MIN_COMPRESS_BYTES 48
#define QL_MIN_COMPRESS_IMPROVE 8
#define QL_TOUCH_MAX 16
#define QL_SCRATCH_KEEP (128 * 1024) /* a bigger read scratch is not kept around */

struct ql_node {
    ql_node_t *prev, *next;
    unsigned char *data; /* listpack, plain_t, or lzf_t while compressed */
    uint32_t count;
    uint8_t plain;
    uint8_t compressed;
    uint8_t tried; /* raw, a compression attempt did not pay off, unchanged since */
    uint8_t unused;
};

typedef struct plain {
    size_t len;
    unsigned char b[];
} plain_t;

/* A compressed node buffer: the raw buffer (listpack or plain_t) in LZF. */
typedef struct lzf_blob {
    uint32_t raw;
    uint32_t clen;
    unsigned char b[];
} lzf_t;

struct quicklist {
    ql_node_t *head, *tail;
    unsigned long count; /* elements */
    unsigned long len;   /* nodes */
    int fill;
    int compress;
    uint32_t ncomp; /* compressed nodes */
};

/* ---- LZF (lzf.c) ------------------------------------------------------------- */

/* Internal, exposed for the unit tests: kl_lzf_compress. Thread: any. */
size_t ql__lzf_compress(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
    return kl_lzf_compress(in, n, out, cap);
}

/* Internal, exposed for the unit tests: kl_lzf_decompress. Thread: any. */
size_t ql__lzf_decompress(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
    return kl_lzf_decompress(in, n, out, cap);
}

/* ---- limits --------------------------------------------------------------------- */

static inline size_t limit_bytes(const quicklist_t *ql) {
    if (ql->fill >= 0) return QL_SAFETY_LIMIT;
    return (size_t)4096 << (-ql->fill - 1);
}

/* Bytes the element will take in a listpack (an upper bound for integers). */
static size_t entry_estimate(const unsigned char *s, size_t len) {
    long long v;
    if (len > 0 && len <= 20 && kl_str_to_ll((const char *)s, len, &v) == 0) return 10;
    size_t l = len + (len < 64 ? 1 : len < 4096 ? 2 : 5);
    return l + (l < 128 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5);
}

/* Redis 7.0's quicklist rules for a new element (_quicklistNodeAllowInsert,
 * isLargeElement): a node takes it when its listpack bytes plus the
 * element's length plus SIZE_ESTIMATE_OVERHEAD stay within the limit; only
 * an element of packed_threshold bytes or more (1 GB unless a test lowers
 * it) goes in a plain node. Following these exactly keeps the node
 * boundaries, and so RDB files and DUMP payloads, the same as Redis's. */
#define QL_SIZE_ESTIMATE_OVERHEAD 8
static size_t packed_threshold = (size_t)1 << 30;

static inline size_t insert_estimate(size_t len) {
    return len + QL_SIZE_ESTIMATE_OVERHEAD;
}

static inline bool is_big(const quicklist_t *ql, size_t len) {
    (void)ql;
    return len >= packed_threshold;
}

/* See quicklist.h. Thread: any, before lists are used concurrently (tests). */
size_t ql_set_packed_threshold(size_t bytes) {
    size_t old = packed_threshold;
    packed_threshold = bytes ? bytes : (size_t)1 << 30;
    return old;
}

/* Size of the node's uncompressed buffer (the listpack, or the plain_t). */
static inline size_t node_raw_bytes(const ql_node_t *n) {
    if (n->compressed) return ((const lzf_t *)n->data)->raw;
    if (n->plain) return sizeof(plain_t) + ((const plain_t *)n->data)->len;
    return lp_bytes(n->data);
}

/* May node n take add_count more entries totalling add_bytes? */
static bool node_allows(const quicklist_t *ql, const ql_node_t *n, size_t add_bytes,
                        uint32_t add_count) {
    if (!n || n->plain) return false;
    if ((uint64_t)n->count + add_count > QL_NODE_MAX_COUNT) return false;
    size_t nb = node_raw_bytes(n) + add_bytes;
    if (ql->fill < 0) return nb <= limit_bytes(ql);
    return nb <= QL_SAFETY_LIMIT && (uint64_t)n->count + add_count <= (uint64_t)ql->fill;
}

/* ---- compression bookkeeping -------------------------------------------------------- */

/* Nodes changed by the current public call, compressed again by settle(). A
 * call changes a handful of nodes; past QL_TOUCH_MAX settle() scans them all.
 * Only recorded for lists with compression on. Per thread: a quicklist is
 * used by one thread at a time and calls do not nest across lists. */
static _Thread_local struct {
    ql_node_t *n[QL_TOUCH_MAX];
    int count;
    bool overflow;
} tl_touched;

static void touch(const quicklist_t *ql, ql_node_t *n) {
    if (ql->compress <= 0 || !n) return;
    for (int i = 0; i < tl_touched.count; i++)
        if (tl_touched.n[i] == n) return;
    if (tl_touched.count < QL_TOUCH_MAX)
        tl_touched.n[tl_touched.count++] = n;
    else
        tl_touched.overflow = true;
}

static void untouch(ql_node_t *n) {
    for (int i = 0; i < tl_touched.count; i++) {
        if (tl_touched.n[i] == n) {
            tl_touched.n[i] = tl_touched.n[--tl_touched.count];
            return;
        }
    }
}

/* Decompress n in place. */
static void node_make_raw(quicklist_t *ql, ql_node_t *n) {
    if (!n->compressed) return;
    lzf_t *blob = (lzf_t *)n->data;
    unsigned char *raw = kl_malloc(blob->raw);
    size_t got = ql__lzf_decompress(blob->b, blob->clen, raw, blob->raw);
    assert(got == blob->raw);
    (void)got;
    kl_free(blob);
    n->data = raw;
    n->compressed = 0;
    n->tried = 0;
    ql->ncomp--;
}

/* Compress n in place when it pays off (at least QL_MIN_COMPRESS_IMPROVE
 * bytes saved); remember a failure until the node changes. */
static void node_compress(quicklist_t *ql, ql_node_t *n) {
    if (n->compressed || n->tried) return;
    size_t raw = node_raw_bytes(n);
    n->tried = 1;
    if (raw < QL_MIN_COMPRESS_BYTES || raw > UINT32_MAX) return;
    size_t cap = raw - QL_MIN_COMPRESS_IMPROVE - 1;
    lzf_t *blob = kl_malloc(sizeof *blob + cap);
    size_t clen = ql__lzf_compress(n->data, raw, blob->b, cap);
    if (clen == 0) {
        kl_free(blob);
        return;
    }
    blob = kl_realloc(blob, sizeof *blob + clen);
    blob->raw = (uint32_t)raw;
    blob->clen = (uint32_t)clen;
    kl_free(n->data);
    n->data = (unsigned char *)blob;
    n->compressed = 1;
    n->tried = 0;
    ql->ncomp++;
}

/* About to change n: make it raw and remember it for settle(). */
static void node_write(quicklist_t *ql, ql_node_t *n) {
    node_make_raw(ql, n);
    n->tried = 0;
    touch(ql, n);
}

/* Is n among the compress-depth nodes at either end (kept raw)? O(depth). */
static bool within_depth(const quicklist_t *ql, const ql_node_t *n) {
    const ql_node_t *a = n, *b = n;
    for (int i = 0; i < ql->compress; i++) {
        if (!a || !b) return true; /* reached an end within depth steps */
        a = a->prev;
        b = b->next;
    }
    return !a || !b;
}

/* End of a public call: the depth nodes at the ends raw, the changed inner
 * nodes and the first node past each boundary compressed. */
static void settle(quicklist_t *ql) {
    int d = ql->compress;
    if (d <= 0) return;
    if (ql->len <= 2 * (unsigned long)d) {
        /* Every node is within the depth of an end. */
        for (ql_node_t *n = ql->head; n && ql->ncomp; n = n->next)
            node_make_raw(ql, n);
    } else {
        ql_node_t *a = ql->head, *b = ql->tail;
        for (int i = 0; i < d; i++) {
            node_make_raw(ql, a);
            node_make_raw(ql, b);
            a = a->next;
            b = b->prev;
        }
        /* Nodes cross the boundary inwards when nodes are added near an end:
         * at most two per call (an insert that splits a node), so the two
         * nodes past each boundary are the ones that may need compressing. */
        for (int k = 0; k < 2; k++) {
            if (a && !within_depth(ql, a)) node_compress(ql, a);
            if (b && !within_depth(ql, b)) node_compress(ql, b);
            a = a ? a->next : NULL;
            b = b ? b->prev : NULL;
        }
        if (tl_touched.overflow) {
            unsigned long i = 0;
            for (ql_node_t *n = ql->head; n; n = n->next, i++)
                if (i >= (unsigned long)d && i < ql->len - (unsigned long)d) node_compress(ql, n);
        } else {
            for (int i = 0; i < tl_touched.count; i++)
                if (!within_depth(ql, tl_touched.n[i])) node_compress(ql, tl_touched.n[i]);
        }
    }
    tl_touched.count = 0;
    tl_touched.overflow = false;
}

/* A readable copy of a compressed node's buffer in *buf (grown as needed). */
static unsigned char *decompress_into(const ql_node_t *n, unsigned char **buf, size_t *cap) {
    const lzf_t *blob = (const lzf_t *)n->data;
    if (*cap < blob->raw) {
        kl_free(*buf);
        *buf = kl_malloc(blob->raw);
        *cap = blob->raw;
    }
    size_t got = ql__lzf_decompress(blob->b, blob->clen, *buf, blob->raw);
    assert(got == blob->raw);
    (void)got;
    return *buf;
}

/* ---- nodes ----------------------------------------------------------------------- */

static ql_node_t *node_new_packed(unsigned char *lp, uint32_t count) {
    ql_node_t *n = kl_malloc(sizeof *n);
    n->prev = n->next = NULL;
    n->data = lp;
    n->count = count;
    n->plain = 0;
    n->compressed = 0;
    n->tried = 0;
    n->unused = 0;
    return n;
}

static ql_node_t *node_new_plain(const unsigned char *s, size_t len) {
    plain_t *pl = kl_malloc(sizeof *pl + len);
    pl->len = len;
    if (len) memcpy(pl->b, s, len);
    ql_node_t *n = node_new_packed((unsigned char *)pl, 1);
    n->plain = 1;
    return n;
}

/* A node holding just this element (plain when big). */
static ql_node_t *node_for(const quicklist_t *ql, const unsigned char *s, size_t len) {
    if (is_big(ql, len)) return node_new_plain(s, len);
    return node_new_packed(lp_append(lp_new(0), s, len), 1);
}

static void node_free(quicklist_t *ql, ql_node_t *n) {
    if (n->compressed) ql->ncomp--;
    if (tl_touched.count) untouch(n);
    kl_free(n->data);
    kl_free(n);
}

/* Link n after `after` (NULL: as the new head). */
static void link_after(quicklist_t *ql, ql_node_t *after, ql_node_t *n) {
    n->prev = after;
    n->next = after ? after->next : ql->head;
    if (n->next)
        n->next->prev = n;
    else
        ql->tail = n;
    if (after)
        after->next = n;
    else
        ql->head = n;
    ql->len++;
    touch(ql, n);
}

static void unlink_node(quicklist_t *ql, ql_node_t *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->len--;
}

/* Merge right into left (adjacent packed nodes); right is freed. */
static void merge_pair(quicklist_t *ql, ql_node_t *left, ql_node_t *right) {
    assert(left->next == right && !left->plain && !right->plain);
    node_write(ql, left);
    node_make_raw(ql, right);
    left->data = lp_concat(left->data, right->data);
    left->count += right->count;
    unlink_node(ql, right);
    node_free(ql, right);
}

static bool can_merge(const quicklist_t *ql, const ql_node_t *a, const ql_node_t *b) {
    if (!a || !b || a->plain || b->plain) return false;
    return node_allows(ql, a, node_raw_bytes(b) - 7, b->count);
}

/* A node shrank: merge it with its neighbours where the result fits. */
static void node_shrunk(quicklist_t *ql, ql_node_t *n) {
    if (can_merge(ql, n->prev, n)) {
        ql_node_t *p = n->prev;
        merge_pair(ql, p, n);
        n = p;
    }
    if (can_merge(ql, n, n->next)) merge_pair(ql, n, n->next);
}

/* Split packed node n so that it keeps its first `at` entries (1 <= at <
 * count) and a new node, linked after it, gets the rest. */
static ql_node_t *split_node(quicklist_t *ql, ql_node_t *n, uint32_t at) {
    assert(!n->plain && at > 0 && at < n->count);
    node_write(ql, n);
    unsigned char *right = lp_dup(n->data);
    right = lp_delete_range(right, 0, at);
    n->data = lp_delete_range(n->data, (long)at, n->count - at);
    ql_node_t *r = node_new_packed(right, n->count - at);
    n->count = at;
    link_after(ql, n, r);
    return r;
}

/* Find the node holding list index i (0 <= i < count) and the offset in it. */
static ql_node_t *locate(const quicklist_t *ql, unsigned long i, uint32_t *offset) {
    ql_node_t *n;
    if (i < ql->count / 2) {
        unsigned long acc = 0;
        n = ql->head;
        while (acc + n->count <= i) {
            acc += n->count;
            n = n->next;
        }
        *offset = (uint32_t)(i - acc);
    } else {
        unsigned long acc = ql->count; /* index just past n */
        n = ql->tail;
        while (acc - n->count > i) {
            acc -= n->count;
            n = n->prev;
        }
        *offset = (uint32_t)(i - (acc - n->count));
    }
    return n;
}

/* Normalise a possibly negative index; false when out of [0, count). */
static bool norm_index(const quicklist_t *ql, long index, unsigned long *out) {
    if (index < 0) {
        unsigned long back = (unsigned long)(-(index + 1)) + 1;
        if (back > ql->count) return false;
        *out = ql->count - back;
        return true;
    }
    if ((unsigned long)index >= ql->count) return false;
    *out = (unsigned long)index;
    return true;
}

/* Decode the element at p of a node buffer view (plain: the plain_t). */
static void entry_from(const unsigned char *view, bool plain, unsigned char *p, ql_entry_t *e) {
    if (plain) {
        const plain_t *pl = (const plain_t *)view;
        e->s = pl->b;
        e->len = pl->len;
        e->lval = 0;
        return;
    }
    lp_entry_t le;
    lp_get(p, &le);
    if (le.sval) {
        e->s = le.sval;
        e->len = le.slen;
        e->lval = 0;
    } else {
        e->s = NULL;
        e->len = 0;
        e->lval = le.lval;
    }
}

/* ---- public API --------------------------------------------------------------------- */

/* New empty quicklist. */
quicklist_t *ql_new(int fill, int compress) {
    quicklist_t *ql = kl_malloc(sizeof *ql);
    ql->head = ql->tail = NULL;
    ql->count = ql->len = 0;
    ql->fill = fill > QL_FILL_MAX ? QL_FILL_MAX : fill < QL_FILL_MIN ? QL_FILL_MIN : fill;
    ql->compress = compress < 0 ? 0 : compress;
    ql->ncomp = 0;
    return ql;
}

/* Free the quicklist and everything in it (NULL is fine). */
void ql_free(quicklist_t *ql) {
    if (!ql) return;
    ql_node_t *n = ql->head;
    while (n) {
        ql_node_t *next = n->next;
        node_free(ql, n);
        n = next;
    }
    kl_free(ql);
}

/* Deep copy, compressed nodes copied as they are. */
quicklist_t *ql_dup(const quicklist_t *ql) {
    quicklist_t *c = ql_new(ql->fill, ql->compress);
    for (const ql_node_t *n = ql->head; n; n = n->next) {
        ql_node_t *d = kl_malloc(sizeof *d);
        *d = *n;
        if (n->compressed)
            d->data = kl_memdup(n->data, sizeof(lzf_t) + ((const lzf_t *)n->data)->clen);
        else
            d->data = kl_memdup(n->data, node_raw_bytes(n));
        d->prev = c->tail;
        d->next = NULL;
        if (c->tail)
            c->tail->next = d;
        else
            c->head = d;
        c->tail = d;
        c->len++;
    }
    c->count = ql->count;
    c->ncomp = ql->ncomp;
    return c;
}

/* First node (NULL when empty). Thread: the owner's. */
const ql_node_t *ql_first_node(const quicklist_t *ql) {
    return ql->head;
}

/* Next node (NULL past the tail). Thread: the owner's. */
const ql_node_t *ql_node_next(const ql_node_t *n) {
    return n->next;
}

/* Scratch for ql_node_view of compressed nodes (one per thread). */
static _Thread_local unsigned char *tl_view;
static _Thread_local size_t tl_view_cap;

/* A node's listpack or plain bytes, decompressed into tl_view if needed.
 * Thread: the owner's. */
const unsigned char *ql_node_view(const ql_node_t *n, size_t *len, bool *plain) {
    const unsigned char *raw = n->data;
    if (n->compressed) raw = decompress_into(n, &tl_view, &tl_view_cap);
    *plain = n->plain != 0;
    if (n->plain) {
        const plain_t *pl = (const plain_t *)raw;
        *len = pl->len;
        return pl->b;
    }
    *len = lp_bytes(raw);
    return raw;
}

/* Take lp as a new tail node. Thread: the owner's. */
bool ql_append_listpack(quicklist_t *ql, unsigned char *lp) {
    unsigned long n = lp_length(lp);
    if (n == 0 || n > QL_NODE_MAX_COUNT) return false;
    ql_node_t *node = node_new_packed(lp, (uint32_t)n);
    link_after(ql, ql->tail, node);
    ql->count += n;
    settle(ql);
    return true;
}

/* A plain tail node holding a copy of s. Thread: the owner's. */
void ql_append_plain(quicklist_t *ql, const unsigned char *s, size_t len) {
    ql_node_t *node = node_new_plain(s, len);
    link_after(ql, ql->tail, node);
    ql->count++;
    settle(ql);
}

/* Number of elements. */
unsigned long ql_count(const quicklist_t *ql) {
    return ql->count;
}

/* Number of nodes. */
unsigned long ql_node_count(const quicklist_t *ql) {
    return ql->len;
}

/* list-max-listpack-size the list was created with (clamped). */
int ql_fill(const quicklist_t *ql) {
    return ql->fill;
}

/* list-compress-depth the list was created with. */
int ql_compress_depth(const quicklist_t *ql) {
    return ql->compress;
}

/* Number of compressed nodes. */
unsigned long ql_compressed_nodes(const quicklist_t *ql) {
    return ql->ncomp;
}

/* Allocator bytes, O(nodes). */
size_t ql_mem_usage(const quicklist_t *ql) {
    size_t total = kl_alloc_size((void *)ql);
    for (const ql_node_t *n = ql->head; n; n = n->next)
        total += kl_alloc_size((void *)n) + kl_alloc_size(n->data);
    return total;
}

/* Sum of uncompressed payload sizes (listpack bytes, plain element lengths),
 * O(nodes). */
size_t ql_payload_bytes(const quicklist_t *ql) {
    size_t total = 0;
    for (const ql_node_t *n = ql->head; n; n = n->next)
        total += node_raw_bytes(n) - (n->plain ? sizeof(plain_t) : 0);
    return total;
}

/* Push at either end: into the end node when it has room, else a new node. */
void ql_push(quicklist_t *ql, int where, const unsigned char *s, size_t len) {
    ql_node_t *end = where == QL_HEAD ? ql->head : ql->tail;
    if (!is_big(ql, len) && node_allows(ql, end, insert_estimate(len), 1)) {
        node_write(ql, end);
        end->data = where == QL_HEAD ? lp_prepend(end->data, s, len) : lp_append(end->data, s, len);
        end->count++;
    } else {
        link_after(ql, where == QL_HEAD ? NULL : ql->tail, node_for(ql, s, len));
    }
    ql->count++;
    settle(ql);
}

/* Read scratch for ql_index on compressed nodes (one per thread). */
static _Thread_local unsigned char *tl_scratch;
static _Thread_local size_t tl_scratch_cap;

/* Element at index. */
bool ql_index(quicklist_t *ql, long index, ql_entry_t *e) {
    unsigned long i;
    uint32_t off;
    if (tl_scratch_cap > QL_SCRATCH_KEEP) {
        kl_free(tl_scratch);
        tl_scratch = NULL;
        tl_scratch_cap = 0;
    }
    if (!norm_index(ql, index, &i)) return false;
    ql_node_t *n = locate(ql, i, &off);
    unsigned char *view =
        n->compressed ? decompress_into(n, &tl_scratch, &tl_scratch_cap) : n->data;
    entry_from(view, n->plain, n->plain ? NULL : lp_seek(view, (long)off), e);
    return true;
}

/* Insert before the element now at index (or append when index == count). */
bool ql_insert_at(quicklist_t *ql, long index, const unsigned char *s, size_t len) {
    if (index < 0 || (unsigned long)index > ql->count) return false;
    if (index == 0) {
        ql_push(ql, QL_HEAD, s, len);
        return true;
    }
    if ((unsigned long)index == ql->count) {
        ql_push(ql, QL_TAIL, s, len);
        return true;
    }
    uint32_t off;
    ql_node_t *n = locate(ql, (unsigned long)index, &off);
    bool big = is_big(ql, len);
    size_t est = big ? 0 : insert_estimate(len);
    if (off == 0) {
        /* Between n->prev (exists: index > 0) and n. */
        ql_node_t *prev = n->prev;
        if (!big && node_allows(ql, prev, est, 1)) {
            node_write(ql, prev);
            prev->data = lp_append(prev->data, s, len);
            prev->count++;
        } else if (!big && node_allows(ql, n, est, 1)) {
            node_write(ql, n);
            n->data = lp_prepend(n->data, s, len);
            n->count++;
        } else {
            link_after(ql, prev, node_for(ql, s, len));
        }
    } else if (!big && node_allows(ql, n, est, 1)) {
        node_write(ql, n);
        n->data = lp_insert(n->data, s, len, lp_seek(n->data, (long)off), LP_BEFORE, NULL);
        n->count++;
    } else {
        /* Full (or the element is big): split at the insertion point. */
        ql_node_t *r = split_node(ql, n, off);
        if (!big && node_allows(ql, n, est, 1)) {
            n->data = lp_append(n->data, s, len);
            n->count++;
        } else if (!big && node_allows(ql, r, est, 1)) {
            r->data = lp_prepend(r->data, s, len);
            r->count++;
        } else {
            link_after(ql, n, node_for(ql, s, len));
        }
        /* The halves may now fit with their outer neighbours. */
        if (can_merge(ql, r, r->next)) merge_pair(ql, r, r->next);
        if (can_merge(ql, n->prev, n)) merge_pair(ql, n->prev, n);
    }
    ql->count++;
    settle(ql);
    return true;
}

/* Replace in place when the node keeps its limits, else delete + insert. */
bool ql_replace_at(quicklist_t *ql, long index, const unsigned char *s, size_t len) {
    unsigned long i;
    uint32_t off;
    if (!norm_index(ql, index, &i)) return false;
    ql_node_t *n = locate(ql, i, &off);
    bool big = is_big(ql, len);
    if (n->plain && big) {
        node_write(ql, n);
        plain_t *pl = kl_realloc(n->data, sizeof *pl + len);
        pl->len = len;
        if (len) memcpy(pl->b, s, len);
        n->data = (unsigned char *)pl;
        settle(ql);
        return true;
    }
    if (!n->plain && !big) {
        size_t est = entry_estimate(s, len);
        /* Fits when the node stays within its byte limit (a lone entry always
         * fits: a node may hold one entry of any size) or does not grow. */
        bool fits = n->count == 1 || node_raw_bytes(n) + est <= limit_bytes(ql);
        if (!fits) {
            unsigned char buf[KL_LLSTR_SIZE];
            size_t oldlen;
            node_write(ql, n);
            lp_get_bytes(lp_seek(n->data, (long)off), buf, &oldlen);
            fits = est <= oldlen;
        }
        if (fits) {
            node_write(ql, n);
            unsigned char *p = lp_seek(n->data, (long)off);
            n->data = lp_replace(n->data, &p, s, len);
            settle(ql);
            return true;
        }
    }
    ql_del_range(ql, (long)i, 1);
    ql_insert_at(ql, (long)i, s, len);
    return true;
}

/* Delete a range; partially emptied nodes are merged afterwards. */
unsigned long ql_del_range(quicklist_t *ql, long start, unsigned long n) {
    unsigned long i;
    uint32_t off;
    if (n == 0 || !norm_index(ql, start, &i)) return 0;
    if (n > ql->count - i) n = ql->count - i;
    ql_node_t *node = locate(ql, i, &off);
    ql_node_t *before = node->prev; /* left of the cut when node goes whole */
    ql_node_t *first_partial = NULL, *last_partial = NULL;
    unsigned long left = n;
    while (left > 0) {
        ql_node_t *next = node->next;
        unsigned long avail = node->count - off;
        unsigned long del = left < avail ? left : avail;
        if (off == 0 && del == node->count) {
            unlink_node(ql, node);
            node_free(ql, node);
        } else {
            node_write(ql, node);
            node->data = lp_delete_range(node->data, (long)off, del);
            node->count -= (uint32_t)del;
            if (!first_partial)
                first_partial = node;
            else
                last_partial = node;
        }
        left -= del;
        off = 0;
        node = next;
    }
    ql->count -= n;
    /* Merge around the cut. node_shrunk(x) only ever frees x or x->next, so
     * shrinking last_partial keeps first_partial and `before` alive. */
    if (last_partial) node_shrunk(ql, last_partial);
    if (first_partial)
        node_shrunk(ql, first_partial);
    else if (before && can_merge(ql, before, before->next))
        merge_pair(ql, before, before->next);
    settle(ql);
    return n;
}

/* Parse the key once. */
void ql_key_init(ql_key_t *k, const unsigned char *s, size_t len) {
    k->s = s;
    k->len = len;
    k->is_int = len > 0 && len <= 20 && kl_str_to_ll((const char *)s, len, &k->v) == 0;
}

/* Equality as strings (integers compare as their canonical text). */
bool ql_entry_eq(const ql_entry_t *e, const ql_key_t *k) {
    if (e->s) return e->len == k->len && (k->len == 0 || memcmp(e->s, k->s, k->len) == 0);
    return k->is_int && k->v == e->lval;
}

/* Bytes of an element. */
const unsigned char *ql_entry_bytes(const ql_entry_t *e, unsigned char *buf, size_t *len) {
    if (e->s) {
        *len = e->len;
        return e->s;
    }
    *len = (size_t)kl_ll_to_str((char *)buf, KL_LLSTR_SIZE, e->lval);
    return buf;
}

/* ---- iteration ----------------------------------------------------------------------- */

/* The node's readable buffer: its own, or the iterator's decompressed copy. */
static unsigned char *iter_view(ql_iter_t *it, ql_node_t *n) {
    if (!n->compressed) return n->data;
    it->scratch_node = n;
    return decompress_into(n, &it->scratch, &it->scratch_cap);
}

/* Start an iteration at list index start. */
void ql_iter_init(ql_iter_t *it, quicklist_t *ql, int dir, long start) {
    unsigned long i;
    uint32_t off;
    memset(it, 0, sizeof *it);
    it->ql = ql;
    it->dir = dir;
    it->last_index = -1;
    if (!norm_index(ql, start, &i)) return;
    it->node = locate(ql, i, &off);
    it->view = iter_view(it, it->node);
    it->p = it->node->plain ? NULL : lp_seek(it->view, (long)off);
    it->index = (long)i;
}

/* Return the next element and step past it. The next node is entered (and
 * decompressed) only on the following call, so e stays readable until then. */
bool ql_iter_next(ql_iter_t *it, ql_entry_t *e) {
    ql_node_t *n = it->node;
    if (!n) return false;
    if (!it->view) {
        it->scratch_node = NULL; /* the scratch is about to be reused */
        if (it->dirty) {
            /* Leaving a node that deletions shrank: merge it with the side
             * the iteration already passed (never touched again), then
             * compress it if it is an inner node. */
            ql_node_t *d = it->dirty;
            it->dirty = NULL;
            if (it->dir == QL_FORWARD) {
                if (can_merge(it->ql, d->prev, d)) {
                    ql_node_t *p = d->prev;
                    merge_pair(it->ql, p, d);
                    d = p;
                }
            } else if (can_merge(it->ql, d, d->next)) {
                merge_pair(it->ql, d, d->next);
            }
            if (it->ql->compress > 0 && !within_depth(it->ql, d)) node_compress(it->ql, d);
        }
        it->view = iter_view(it, n);
        if (!n->plain) it->p = it->dir == QL_FORWARD ? lp_first(it->view) : lp_last(it->view);
    }
    entry_from(it->view, n->plain, it->p, e);
    it->last_node = n;
    it->last_p = it->p;
    it->last_index = it->index;
    unsigned char *np = NULL;
    if (!n->plain) np = it->dir == QL_FORWARD ? lp_next(it->view, it->p) : lp_prev(it->view, it->p);
    if (np) {
        it->p = np;
    } else {
        it->node = it->dir == QL_FORWARD ? n->next : n->prev;
        it->view = NULL;
        it->p = NULL;
    }
    it->index += it->dir == QL_FORWARD ? 1 : -1;
    return true;
}

/* List index of the element returned last. */
long ql_iter_index(const ql_iter_t *it) {
    return it->last_index;
}

/* Delete the element returned last and keep the iteration's place. */
void ql_iter_del(ql_iter_t *it) {
    quicklist_t *ql = it->ql;
    ql_node_t *n = it->last_node;
    assert(n);
    if (n->count == 1) {
        if (it->dirty == n) it->dirty = NULL;
        if (it->scratch_node == n) it->scratch_node = NULL;
        unlink_node(ql, n);
        node_free(ql, n);
    } else {
        if (n->compressed) {
            /* The scratch holds exactly this node's buffer: adopt it, so the
             * positions the iteration holds stay valid. */
            assert(it->scratch_node == n);
            kl_free(n->data);
            n->data = it->scratch;
            n->compressed = 0;
            ql->ncomp--;
            it->scratch = NULL;
            it->scratch_cap = 0;
            it->scratch_node = NULL;
        }
        n->tried = 0;
        bool next_here = it->node == n && it->view;
        size_t next_off = next_here ? (size_t)(it->p - n->data) : 0;
        unsigned char *p = it->last_p;
        n->data = lp_delete(n->data, &p);
        n->count--;
        if (next_here) {
            /* Forward: the next element slid into the deleted one's place.
             * Backward: it was before the deleted one and kept its offset. */
            it->view = n->data;
            it->p = it->dir == QL_FORWARD ? p : n->data + next_off;
        }
        it->dirty = n;
    }
    ql->count--;
    if (it->dir == QL_FORWARD) it->index--;
    it->last_node = NULL;
    it->last_p = NULL;
}

/* Finish an iteration: merge the node the deletions left shrunk, restore the
 * compression layout, free the scratch. */
void ql_iter_done(ql_iter_t *it) {
    if (it->dirty) {
        touch(it->ql, it->dirty);
        node_shrunk(it->ql, it->dirty);
        it->dirty = NULL;
    }
    if (it->ql) settle(it->ql);
    kl_free(it->scratch);
    it->scratch = NULL;
    it->scratch_cap = 0;
    it->scratch_node = NULL;
    it->node = it->last_node = NULL;
    it->view = NULL;
}

/* Structure check. */
int ql_validate(const quicklist_t *ql) {
    unsigned long count = 0, len = 0, ncomp = 0, idx = 0;
    const ql_node_t *prev = NULL;
    unsigned char *tmp = NULL;
    size_t tmpcap = 0;
    int rc = 0;
    for (const ql_node_t *n = ql->head; n && rc == 0; prev = n, n = n->next, idx++) {
        const unsigned char *buf = n->data;
        bool inner = ql->compress > 0 && idx >= (unsigned long)ql->compress &&
                     idx + (unsigned long)ql->compress < ql->len;
        if (n->prev != prev || n->count == 0) rc = -EINVAL;
        if (n->compressed) {
            ncomp++;
            if (!inner) rc = -EINVAL; /* the depth nodes at the ends stay raw */
            const lzf_t *blob = (const lzf_t *)n->data;
            if (blob->clen + QL_MIN_COMPRESS_IMPROVE >= blob->raw) rc = -EINVAL;
            if (tmpcap < blob->raw) {
                kl_free(tmp);
                tmpcap = blob->raw;
                tmp = kl_malloc(tmpcap);
            }
            if (ql__lzf_decompress(blob->b, blob->clen, tmp, blob->raw) != blob->raw) rc = -EINVAL;
            buf = tmp;
        } else if (inner && !n->tried && node_raw_bytes(n) >= QL_MIN_COMPRESS_BYTES) {
            rc = -EINVAL; /* an inner node nobody tried to compress */
        }
        if (rc) break;
        if (n->plain) {
            if (n->count != 1) rc = -EINVAL;
        } else {
            size_t nb = lp_bytes(buf);
            if (lp_validate(buf, nb) != 0 || lp_length((unsigned char *)buf) != n->count)
                rc = -EINVAL;
            else if (n->count > QL_NODE_MAX_COUNT)
                rc = -EINVAL;
            else if (n->count > 1 &&
                     (nb > limit_bytes(ql) || (ql->fill >= 0 && n->count > (uint32_t)ql->fill)))
                rc = -EINVAL;
        }
        count += n->count;
        len++;
    }
    kl_free(tmp);
    if (rc) return rc;
    if (prev != ql->tail) return -EINVAL;
    if (count != ql->count || len != ql->len || ncomp != ql->ncomp) return -EINVAL;
    return 0;
}
