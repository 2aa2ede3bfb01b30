/* quicklist: see quicklist.h for the model.
 *
 * Memory: a node is 32 bytes (two links, the payload pointer, a 32-bit count
 * and flags), one jemalloc size class below Redis's 40-byte node. A plain
 * node's payload is a length word followed by the element's bytes. */
#include "quicklist.h"

#include "kl_alloc.h"
#include "kl_util.h"
#include "listpack.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#define QL_SAFETY_LIMIT 8192 /* bytes of a node under a positive fill */
#define QL_NODE_MAX_COUNT 65534u /* keep the listpack's count exact */
#define QL_FILL_MAX 32767
#define QL_FILL_MIN -5

struct ql_node {
    ql_node_t *prev, *next;
    unsigned char *data; /* listpack, or a plain_t */
    uint32_t count;
    uint8_t plain;
    uint8_t unused[3];
};

typedef struct plain {
    size_t len;
    unsigned char b[];
} plain_t;

struct quicklist {
    ql_node_t *head, *tail;
    unsigned long count; /* elements */
    unsigned long len;   /* nodes */
    int fill;
    int compress;
};

/* ---- limits ------------------------------------------------------------------- */

static inline size_t limit_bytes(const quicklist_t *ql) {
    if (ql->fill >= 0) return QL_SAFETY_LIMIT;
    return (size_t)4096 << (-ql->fill - 1);
}

/* Bytes the element will take in a listpack (an upper bound for integers). */
static size_t entry_estimate(const unsigned char *s, size_t len) {
    long long v;
    if (len > 0 && len <= 20 && kl_str_to_ll((const char *)s, len, &v) == 0) return 10;
    size_t l = len + (len < 64 ? 1 : len < 4096 ? 2 : 5);
    return l + (l < 128 ? 1 : l < 16384 ? 2 : l < 2097152 ? 3 : l < 268435456 ? 4 : 5);
}

static inline bool is_big(const quicklist_t *ql, size_t len) {
    return len > limit_bytes(ql);
}

/* May node n take add_count more entries totalling add_bytes? */
static bool node_allows(const quicklist_t *ql, const ql_node_t *n, size_t add_bytes,
                        uint32_t add_count) {
    if (!n || n->plain) return false;
    if ((uint64_t)n->count + add_count > QL_NODE_MAX_COUNT) return false;
    size_t nb = lp_bytes(n->data) + add_bytes;
    if (ql->fill < 0) return nb <= limit_bytes(ql);
    return nb <= QL_SAFETY_LIMIT && (uint64_t)n->count + add_count <= (uint64_t)ql->fill;
}

/* ---- nodes ----------------------------------------------------------------------- */

static ql_node_t *node_new_packed(unsigned char *lp, uint32_t count) {
    ql_node_t *n = kl_malloc(sizeof *n);
    n->prev = n->next = NULL;
    n->data = lp;
    n->count = count;
    n->plain = 0;
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

static void node_free(ql_node_t *n) {
    kl_free(n->data);
    kl_free(n);
}

static size_t node_payload_bytes(const ql_node_t *n) {
    return n->plain ? ((const plain_t *)n->data)->len : lp_bytes(n->data);
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
    left->data = lp_concat(left->data, right->data);
    left->count += right->count;
    unlink_node(ql, right);
    node_free(right);
}

static bool can_merge(const quicklist_t *ql, const ql_node_t *a, const ql_node_t *b) {
    if (!a || !b || a->plain || b->plain) return false;
    return node_allows(ql, a, lp_bytes(b->data) - 7, b->count);
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

static void entry_from(const ql_node_t *n, unsigned char *p, ql_entry_t *e) {
    if (n->plain) {
        const plain_t *pl = (const plain_t *)n->data;
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
    return ql;
}

/* Free the quicklist and everything in it (NULL is fine). */
void ql_free(quicklist_t *ql) {
    if (!ql) return;
    ql_node_t *n = ql->head;
    while (n) {
        ql_node_t *next = n->next;
        node_free(n);
        n = next;
    }
    kl_free(ql);
}

/* Deep copy. */
quicklist_t *ql_dup(const quicklist_t *ql) {
    quicklist_t *c = ql_new(ql->fill, ql->compress);
    for (const ql_node_t *n = ql->head; n; n = n->next) {
        ql_node_t *d = kl_malloc(sizeof *d);
        *d = *n;
        d->data = n->plain ? kl_memdup(n->data, sizeof(plain_t) + ((plain_t *)n->data)->len)
                           : lp_dup(n->data);
        link_after(c, c->tail, d);
    }
    c->count = ql->count;
    return c;
}

unsigned long ql_count(const quicklist_t *ql) {
    return ql->count;
}

unsigned long ql_node_count(const quicklist_t *ql) {
    return ql->len;
}

int ql_fill(const quicklist_t *ql) {
    return ql->fill;
}

int ql_compress_depth(const quicklist_t *ql) {
    return ql->compress;
}

/* Allocator bytes, O(nodes). */
size_t ql_mem_usage(const quicklist_t *ql) {
    size_t total = kl_alloc_size((void *)ql);
    for (const ql_node_t *n = ql->head; n; n = n->next)
        total += kl_alloc_size((void *)n) + kl_alloc_size(n->data);
    return total;
}

/* Sum of payload sizes, O(nodes). */
size_t ql_payload_bytes(const quicklist_t *ql) {
    size_t total = 0;
    for (const ql_node_t *n = ql->head; n; n = n->next)
        total += node_payload_bytes(n);
    return total;
}

/* Push at either end: into the end node when it has room, else a new node. */
void ql_push(quicklist_t *ql, int where, const unsigned char *s, size_t len) {
    ql_node_t *end = where == QL_HEAD ? ql->head : ql->tail;
    if (!is_big(ql, len) && node_allows(ql, end, entry_estimate(s, len), 1)) {
        end->data = where == QL_HEAD ? lp_prepend(end->data, s, len) : lp_append(end->data, s, len);
        end->count++;
    } else {
        link_after(ql, where == QL_HEAD ? NULL : ql->tail, node_for(ql, s, len));
    }
    ql->count++;
}

/* Element at index. */
bool ql_index(quicklist_t *ql, long index, ql_entry_t *e) {
    unsigned long i;
    uint32_t off;
    if (!norm_index(ql, index, &i)) return false;
    ql_node_t *n = locate(ql, i, &off);
    entry_from(n, n->plain ? NULL : lp_seek(n->data, (long)off), e);
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
    size_t est = big ? 0 : entry_estimate(s, len);
    if (off == 0) {
        /* Between n->prev (exists: index > 0) and n. */
        ql_node_t *prev = n->prev;
        if (!big && node_allows(ql, prev, est, 1)) {
            prev->data = lp_append(prev->data, s, len);
            prev->count++;
        } else if (!big && node_allows(ql, n, est, 1)) {
            n->data = lp_prepend(n->data, s, len);
            n->count++;
        } else {
            link_after(ql, prev, node_for(ql, s, len));
        }
    } else if (!big && node_allows(ql, n, est, 1)) {
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
        ql->count++;
        /* The halves may now fit with their outer neighbours. */
        if (can_merge(ql, r, r->next)) merge_pair(ql, r, r->next);
        if (can_merge(ql, n->prev, n)) merge_pair(ql, n->prev, n);
        return true;
    }
    ql->count++;
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
        plain_t *pl = kl_realloc(n->data, sizeof *pl + len);
        pl->len = len;
        if (len) memcpy(pl->b, s, len);
        n->data = (unsigned char *)pl;
        return true;
    }
    if (!n->plain && !big) {
        unsigned char *p = lp_seek(n->data, (long)off);
        unsigned char buf[KL_LLSTR_SIZE];
        size_t oldlen;
        lp_get_bytes(p, buf, &oldlen);
        size_t est = entry_estimate(s, len);
        /* Fits when the node stays within its byte limit (a lone entry always
         * fits: a node may hold one entry of any size). */
        bool fits = n->count == 1 || lp_bytes(n->data) + est <= limit_bytes(ql) ||
                    est <= oldlen;
        if (fits) {
            n->data = lp_replace(n->data, &p, s, len);
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
            node_free(node);
        } else {
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

/* Position p at the first element of n in the iteration's direction. */
static void iter_enter(ql_iter_t *it, ql_node_t *n) {
    it->node = n;
    if (!n || n->plain)
        it->p = NULL;
    else
        it->p = it->dir == QL_FORWARD ? lp_first(n->data) : lp_last(n->data);
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
    it->p = it->node->plain ? NULL : lp_seek(it->node->data, (long)off);
    it->index = (long)i;
}

/* Return the next element and step past it. */
bool ql_iter_next(ql_iter_t *it, ql_entry_t *e) {
    ql_node_t *n = it->node;
    if (!n) return false;
    if (it->dirty && it->dirty != n) {
        /* Leaving a node that deletions shrank: merge it with the side the
         * iteration already passed, which the iteration never touches again. */
        ql_node_t *d = it->dirty;
        it->dirty = NULL;
        if (it->dir == QL_FORWARD) {
            if (can_merge(it->ql, d->prev, d)) merge_pair(it->ql, d->prev, d);
        } else {
            if (can_merge(it->ql, d, d->next)) merge_pair(it->ql, d, d->next);
        }
    }
    entry_from(n, it->p, e);
    it->last_node = n;
    it->last_p = it->p;
    it->last_index = it->index;
    unsigned char *np = NULL;
    if (!n->plain) np = it->dir == QL_FORWARD ? lp_next(n->data, it->p) : lp_prev(n->data, it->p);
    if (np)
        it->p = np;
    else
        iter_enter(it, it->dir == QL_FORWARD ? n->next : n->prev);
    it->index += it->dir == QL_FORWARD ? 1 : -1;
    return true;
}

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
        unlink_node(ql, n);
        node_free(n);
    } else {
        bool next_here = it->node == n;
        size_t next_off = next_here ? (size_t)(it->p - n->data) : 0;
        unsigned char *p = it->last_p;
        n->data = lp_delete(n->data, &p);
        n->count--;
        if (next_here) {
            /* Forward: the next element slid into the deleted one's place.
             * Backward: it was before the deleted one and kept its offset. */
            it->p = it->dir == QL_FORWARD ? p : n->data + next_off;
        }
        it->dirty = n;
    }
    ql->count--;
    if (it->dir == QL_FORWARD) it->index--;
    it->last_node = NULL;
    it->last_p = NULL;
}

/* Finish an iteration: merge the node the deletions left shrunk. */
void ql_iter_done(ql_iter_t *it) {
    if (it->dirty) node_shrunk(it->ql, it->dirty);
    it->dirty = NULL;
    it->node = it->last_node = NULL;
}

/* Structure check. */
int ql_validate(const quicklist_t *ql) {
    unsigned long count = 0, len = 0;
    const ql_node_t *prev = NULL;
    for (const ql_node_t *n = ql->head; n; prev = n, n = n->next) {
        if (n->prev != prev) return -EINVAL;
        if (n->count == 0) return -EINVAL;
        if (n->plain) {
            if (n->count != 1) return -EINVAL;
        } else {
            if (lp_validate(n->data, lp_bytes(n->data)) != 0) return -EINVAL;
            if (lp_length(n->data) != n->count) return -EINVAL;
            if (n->count > QL_NODE_MAX_COUNT) return -EINVAL;
            if (n->count > 1) {
                if (lp_bytes(n->data) > limit_bytes(ql)) return -EINVAL;
                if (ql->fill >= 0 && n->count > (uint32_t)ql->fill) return -EINVAL;
            }
        }
        count += n->count;
        len++;
    }
    if (prev != ql->tail) return -EINVAL;
    if (count != ql->count || len != ql->len) return -EINVAL;
    return 0;
}
