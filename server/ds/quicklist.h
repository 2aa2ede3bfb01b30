/* quicklist: the list type's storage, a doubly linked list of nodes that each
 * hold a listpack of entries (or one big element on its own: a "plain" node).
 *
 * Node size follows list-max-listpack-size (the `fill` given at creation, as
 * Redis takes the config value when a list is created): a positive fill caps
 * the entries per node (and a node stays under 8 KB, Redis's safety limit);
 * -1..-5 cap a node's listpack at 4/8/16/32/64 KB. A new element joins a node
 * when the node's bytes + its length + 8 stay within the limit (Redis's
 * estimate, so nodes split where Redis's do); an element over the limit gets
 * a listpack node of its own, and one of 1 GB or more (the packed threshold)
 * a plain node, unencoded. Nodes that
 * deletions shrink are merged with a neighbour when the result fits, so a list
 * never degrades into many near-empty nodes.
 *
 * list-compress-depth (the `compress` given at creation) keeps that many
 * nodes at each end raw and LZF-compresses the nodes between them, as Redis
 * does; readers decompress into a scratch copy, writers recompress what they
 * changed before returning.
 *
 * Positions: an element handed out (ql_entry_t) points into node memory or a
 * scratch copy: one from ql_index stays valid until the next call into any
 * quicklist of the thread, one from ql_iter_next until the next call on that
 * iterator. While an iteration runs the quicklist may change only through
 * ql_iter_del.
 *
 * Pure module. Thread: any (a quicklist is owned by one thread, the
 * executor; the read scratch and the compression bookkeeping are per
 * thread). */
#ifndef KL_QUICKLIST_H
#define KL_QUICKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct quicklist quicklist_t;
typedef struct ql_node ql_node_t;

enum { QL_HEAD = 0, QL_TAIL = 1 };
/* Iteration directions. */
enum { QL_FORWARD = 0, QL_BACKWARD = 1 };

/* One element: a string (s != NULL, len bytes) or an integer (s == NULL,
 * lval), as the listpack stored it. */
typedef struct ql_entry {
    const unsigned char *s;
    size_t len;
    long long lval;
} ql_entry_t;

/* A comparison key parsed once (LREM, LPOS, LINSERT scan many entries). */
typedef struct ql_key {
    const unsigned char *s;
    size_t len;
    bool is_int;
    long long v;
} ql_key_t;

/* A new empty quicklist (caller owns it). fill: list-max-listpack-size,
 * clamped to [-5, 32767]; compress: list-compress-depth (0: off). */
quicklist_t *ql_new(int fill, int compress);
void ql_free(quicklist_t *ql);
/* Deep copy with the same fill. */
quicklist_t *ql_dup(const quicklist_t *ql);

unsigned long ql_count(const quicklist_t *ql);
unsigned long ql_node_count(const quicklist_t *ql);
int ql_fill(const quicklist_t *ql);
int ql_compress_depth(const quicklist_t *ql);
unsigned long ql_compressed_nodes(const quicklist_t *ql);
/* Allocator bytes held by the quicklist, its nodes and their payloads. */
size_t ql_mem_usage(const quicklist_t *ql);
/* Sum of uncompressed node payload sizes (DEBUG OBJECT ql_uncompressed_size). */
size_t ql_payload_bytes(const quicklist_t *ql);

/* Add an element at the head (QL_HEAD) or tail (QL_TAIL). */
void ql_push(quicklist_t *ql, int where, const unsigned char *s, size_t len);
/* The element at index (negative counts from the tail); false when out of
 * range. */
bool ql_index(quicklist_t *ql, long index, ql_entry_t *e);
/* Replace the element at index; false when out of range. */
bool ql_replace_at(quicklist_t *ql, long index, const unsigned char *s, size_t len);
/* Insert so that the new element gets position index (0..count; count
 * appends). Returns false when index is out of that range. */
bool ql_insert_at(quicklist_t *ql, long index, const unsigned char *s, size_t len);
/* Delete up to n elements from index start (negative from the tail); returns
 * how many were deleted. */
unsigned long ql_del_range(quicklist_t *ql, long start, unsigned long n);

/* Comparisons. */
void ql_key_init(ql_key_t *k, const unsigned char *s, size_t len);
bool ql_entry_eq(const ql_entry_t *e, const ql_key_t *k);
/* The element's bytes; integers are rendered into buf (>= 21 bytes). */
const unsigned char *ql_entry_bytes(const ql_entry_t *e, unsigned char *buf, size_t *len);

/* Iteration in either direction, optionally deleting the elements it passes
 * (ql_iter_del). The quicklist may be changed during an iteration only
 * through ql_iter_del. Always finish with ql_iter_done, which merges the nodes
 * the deletions shrank. */
typedef struct ql_iter {
    quicklist_t *ql;
    int dir;
    /* the next element to return */
    ql_node_t *node;
    unsigned char *view; /* node's readable buffer, NULL until the node is entered */
    unsigned char *p;    /* its listpack position in view (NULL in a plain node) */
    long index;          /* its list index */
    /* the element returned last */
    ql_node_t *last_node;
    unsigned char *last_p;
    long last_index;
    ql_node_t *dirty; /* a node ql_iter_del shrank and that is not merged yet */
    /* decompressed copy of a compressed node (of scratch_node) */
    unsigned char *scratch;
    size_t scratch_cap;
    ql_node_t *scratch_node;
} ql_iter_t;

/* Start at list index start (negative from the tail); an out of range start
 * gives an empty iteration. */
void ql_iter_init(ql_iter_t *it, quicklist_t *ql, int dir, long start);
/* The next element, or false at the end. */
bool ql_iter_next(ql_iter_t *it, ql_entry_t *e);
/* List index (from the head) of the element returned last. */
long ql_iter_index(const ql_iter_t *it);
/* Delete the element returned last; the iteration continues with the element
 * that followed it in the iteration's direction. */
void ql_iter_del(ql_iter_t *it);
void ql_iter_done(ql_iter_t *it);

/* ---- whole nodes (RDB save and load) ---- */

/* The first node, the next one (NULL past the tail). */
const ql_node_t *ql_first_node(const quicklist_t *ql);
const ql_node_t *ql_node_next(const ql_node_t *n);
/* A node's contents: the listpack of a packed node (*plain false), or the
 * bytes of a plain node's one element (*plain true); *len is the byte count.
 * A compressed node is decompressed into a per-thread scratch buffer that
 * stays valid until the next ql_node_view call of the thread. */
const unsigned char *ql_node_view(const ql_node_t *n, size_t *len, bool *plain);
/* Append a listpack as a new tail node as it is (Redis's
 * quicklistAppendListpack; no merging, no re-encoding). The quicklist takes
 * lp, which must be valid and hold 1..65534 entries (false, lp not taken,
 * otherwise). */
bool ql_append_listpack(quicklist_t *ql, unsigned char *lp);
/* Append one element as a plain node of its own (a copy of s). */
void ql_append_plain(quicklist_t *ql, const unsigned char *s, size_t len);

/* Elements of at least this many bytes get a plain node (Redis's
 * quicklist-packed-threshold, 1 GB; 0 restores that). Returns the previous
 * value. Process-wide: for tests and DEBUG. */
size_t ql_set_packed_threshold(size_t bytes);

/* Structure check for tests: counts, links, node limits, listpacks. 0 or
 * -EINVAL. */
int ql_validate(const quicklist_t *ql);

#endif
