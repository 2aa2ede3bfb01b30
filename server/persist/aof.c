/* The multi-part AOF: manifest and writer thread (aof.h). The manifest
 * format is Redis 7.0's (aof.c: aofInfoFormat, aofLoadManifestFromFile). */
#include "aof.h"

#include "kl_alloc.h"
#include "kl_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ================================================================ the manifest */

#define MANIFEST_MAX_LINE 1024

static void file_set(aof_file_t *f, const char *name, long long seq, char type) {
    f->name = kl_strdup(name);
    f->seq = seq;
    f->type = type;
}

static aof_file_t *push(aof_file_t **arr, size_t *n) {
    *arr = kl_realloc(*arr, sizeof(**arr) * (*n + 1));
    return &(*arr)[(*n)++];
}

/* Insert k entries at the front of the history (Redis puts what becomes
 * history at the head of its list, so the manifest lists it first). */
static aof_file_t *hist_push_front(aof_manifest_t *m, size_t k) {
    m->hist = kl_realloc(m->hist, sizeof(*m->hist) * (m->nhist + k));
    memmove(m->hist + k, m->hist, sizeof(*m->hist) * m->nhist);
    m->nhist += k;
    return m->hist;
}

void aof_manifest_free(aof_manifest_t *m) {
    if (m->base) {
        kl_free(m->base->name);
        kl_free(m->base);
    }
    for (size_t i = 0; i < m->nincr; i++)
        kl_free(m->incr[i].name);
    for (size_t i = 0; i < m->nhist; i++)
        kl_free(m->hist[i].name);
    kl_free(m->incr);
    kl_free(m->hist);
    memset(m, 0, sizeof(*m));
}

aof_manifest_t *aof_manifest_dup(const aof_manifest_t *m) {
    aof_manifest_t *d = kl_calloc(1, sizeof(*d));
    d->base_seq = m->base_seq;
    d->incr_seq = m->incr_seq;
    if (m->base) {
        d->base = kl_calloc(1, sizeof(*d->base));
        file_set(d->base, m->base->name, m->base->seq, m->base->type);
    }
    for (size_t i = 0; i < m->nincr; i++)
        file_set(push(&d->incr, &d->nincr), m->incr[i].name, m->incr[i].seq, m->incr[i].type);
    for (size_t i = 0; i < m->nhist; i++)
        file_set(push(&d->hist, &d->nhist), m->hist[i].name, m->hist[i].seq, m->hist[i].type);
    return d;
}

int aof_manifest_parse(aof_manifest_t *m, const char *text, size_t len, char *err, size_t errlen) {
    memset(m, 0, sizeof(*m));
    size_t pos = 0;
    int lines = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (end - pos > MANIFEST_MAX_LINE) {
            snprintf(err, errlen, "The AOF manifest file contains too long line");
            goto fail;
        }
        char line[MANIFEST_MAX_LINE + 1];
        memcpy(line, text + pos, end - pos);
        line[end - pos] = '\0';
        pos = end + 1;
        /* Trim and skip comments / empty lines. */
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        size_t sl = strlen(s);
        while (sl && (s[sl - 1] == ' ' || s[sl - 1] == '\t' || s[sl - 1] == '\r'))
            s[--sl] = '\0';
        if (*s == '#' || *s == '\0') continue;
        lines++;
        char **argv = NULL;
        size_t *lens = NULL;
        int argc = 0;
        if (kl_split_args_len(s, sl, &argv, &lens, &argc) != 0 || argc < 6 || (argc & 1)) {
            if (argv) kl_free_args(argv, argc);
            kl_free(lens);
            snprintf(err, errlen, "Invalid AOF manifest file format");
            goto fail;
        }
        const char *name = NULL;
        long long seq = -1;
        char type = 0;
        for (int i = 0; i < argc; i += 2) {
            if (!strcasecmp(argv[i], "file")) {
                name = argv[i + 1];
            } else if (!strcasecmp(argv[i], "seq")) {
                char *e;
                seq = strtoll(argv[i + 1], &e, 10);
                if (*e) seq = -1;
            } else if (!strcasecmp(argv[i], "type")) {
                type = argv[i + 1][0];
            }
            /* Unknown keys are ignored (newer versions may add some). */
        }
        bool ok = name && name[0] && seq >= 0 &&
                  (type == AOF_FILE_BASE || type == AOF_FILE_HIST || type == AOF_FILE_INCR) &&
                  !strchr(name, '/');
        if (ok && type == AOF_FILE_BASE && m->base) {
            snprintf(err, errlen, "Found duplicate base file information");
            ok = false;
        } else if (!ok) {
            snprintf(err, errlen, "Invalid AOF manifest file format");
        } else if (type == AOF_FILE_INCR && seq <= m->incr_seq) {
            snprintf(err, errlen, "Found a non-monotonic sequence number");
            ok = false;
        }
        if (ok) {
            if (type == AOF_FILE_BASE) {
                m->base = kl_calloc(1, sizeof(*m->base));
                file_set(m->base, name, seq, type);
                m->base_seq = seq;
            } else if (type == AOF_FILE_INCR) {
                file_set(push(&m->incr, &m->nincr), name, seq, type);
                m->incr_seq = seq;
            } else {
                file_set(push(&m->hist, &m->nhist), name, seq, type);
            }
        }
        kl_free_args(argv, argc);
        kl_free(lens);
        if (!ok) goto fail;
    }
    if (lines == 0) {
        snprintf(err, errlen, "Found an empty AOF manifest");
        goto fail;
    }
    return 0;
fail:
    aof_manifest_free(m);
    return -1;
}

static void append_line(kl_buf_t *b, const aof_file_t *f) {
    kl_buf_append_str(b, "file ");
    bool plain = true;
    for (const char *p = f->name; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '\'' || *p == '\\' || (unsigned char)*p >= 127)
            plain = false;
    if (plain)
        kl_buf_append_str(b, f->name);
    else
        kl_buf_append_repr(b, f->name, strlen(f->name));
    kl_buf_appendf(b, " seq %lld type %c\n", f->seq, f->type);
}

char *aof_manifest_format(const aof_manifest_t *m) {
    kl_buf_t b = {0};
    if (m->base) append_line(&b, m->base);
    for (size_t i = 0; i < m->nhist; i++)
        append_line(&b, &m->hist[i]);
    for (size_t i = 0; i < m->nincr; i++)
        append_line(&b, &m->incr[i]);
    kl_buf_append_char(&b, '\0');
    return kl_buf_detach(&b);
}

const char *aof_manifest_new_base(aof_manifest_t *m, const char *prefix, bool rdb) {
    if (m->base) {
        aof_file_t *h = hist_push_front(m, 1);
        *h = *m->base;
        h->type = AOF_FILE_HIST;
    } else {
        m->base = kl_calloc(1, sizeof(*m->base));
    }
    char name[1024];
    snprintf(name, sizeof(name), "%s.%lld.base.%s", prefix, ++m->base_seq, rdb ? "rdb" : "aof");
    file_set(m->base, name, m->base_seq, AOF_FILE_BASE);
    return m->base->name;
}

const char *aof_manifest_new_incr(aof_manifest_t *m, const char *prefix) {
    char name[1024];
    snprintf(name, sizeof(name), "%s.%lld.incr.aof", prefix, ++m->incr_seq);
    aof_file_t *f = push(&m->incr, &m->nincr);
    file_set(f, name, m->incr_seq, AOF_FILE_INCR);
    return f->name;
}

void aof_manifest_incrs_to_history(aof_manifest_t *m) {
    if (m->nincr <= 1) return;
    aof_file_t *h = hist_push_front(m, m->nincr - 1);
    for (size_t i = 0; i + 1 < m->nincr; i++) {
        h[i] = m->incr[i];
        h[i].type = AOF_FILE_HIST;
    }
    m->incr[0] = m->incr[m->nincr - 1];
    m->nincr = 1;
}

int aof_write_file_atomic(const char *dir, const char *name, const char *text, size_t len) {
    char tmp[2048], path[2048];
    snprintf(tmp, sizeof(tmp), "%s/temp-%s", dir, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return -e;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* ================================================================ the writer thread */

/* Shared state, under w.mu. The executor appends once per loop turn, so the
 * lock is taken once per turn, never per command. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stop, fsync_paused, flush_req;
    int policy;
    /* bytes handed over and not taken yet; the first has sequence number
     * pending_from + 1 */
    char *pending;
    size_t plen, pcap;
    uint64_t pending_from;
    /* a file switch at sequence number switch_at (-1: none) */
    int switch_fd;
    uint64_t switch_at;
    uint64_t flush_done_gen, flush_req_gen;
    /* a manifest to persist (job.text != NULL), see aof_writer_manifest */
    uint64_t jobs_queued; /* generation of the last aof_writer_manifest */
    struct manifest_job {
        uint64_t gen;
        char *dir, *name, *text;
        char **paths;
        size_t npaths;
    } job;
    void (*done_cb)(void *);
    void *done_arg;
} w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .switch_fd = -1};

/* Published by the writer (release) for any thread (acquire): how far the
 * file and the disk got. appended is the executor's own count. */
static _Atomic uint64_t seq_written, seq_synced, file_size;
static _Atomic int last_error;
static uint64_t seq_appended; /* executor */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of p; 0 or -errno (what was written stays written). */
static int write_all(int fd, const char *p, size_t n, size_t *done) {
    *done = 0;
    while (*done < n) {
        ssize_t r = write(fd, p + *done, n - *done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        *done += (size_t)r;
    }
    return 0;
}

typedef struct manifest_job job_t;

static void job_free(job_t *j) {
    kl_free(j->dir);
    kl_free(j->name);
    kl_free(j->text);
    for (size_t i = 0; i < j->npaths; i++)
        kl_free(j->paths[i]);
    kl_free(j->paths);
    memset(j, 0, sizeof(*j));
}

/* Writer thread: persist the manifest, then remove the history files. */
/* Generation of the last manifest job done (release: published after the
 * file and the unlinks; INFO's rewrite state reads it, acquire). */
static _Atomic uint64_t jobs_done;

static void job_run(job_t *j) {
    if (!j->text) return;
    uint64_t gen = j->gen;
    int rc = aof_write_file_atomic(j->dir, j->name, j->text, strlen(j->text));
    if (rc) {
        atomic_store_explicit(&last_error, -rc, memory_order_relaxed);
    } else {
        for (size_t i = 0; i < j->npaths; i++)
            unlink(j->paths[i]);
    }
    job_free(j);
    atomic_store_explicit(&jobs_done, gen, memory_order_release);
}

static void *writer_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    char *buf = NULL;
    size_t blen = 0, bcap = 0, boff = 0; /* taken, written up to boff */
    uint64_t buf_from = 0;               /* sequence number before buf[0] */
    int64_t last_fsync = now_ms();
    bool dirty = false; /* written but not fsynced */
    job_t job = {0};    /* taken, waiting for its point in the stream */

    pthread_mutex_lock(&w.mu);
    for (;;) {
        /* Wait for work: bytes, a switch, a flush request, stop, or (everysec)
         * an fsync that fell due. */
        while (!w.plen && w.switch_fd < 0 && !w.stop && !w.flush_req && boff == blen &&
               !w.job.text) {
            /* Written but not synced while the policy is (now) always: the
             * executor may hold replies for it (CONFIG SET appendfsync
             * always after no, fsyncs resumed after a rewrite). */
            if (dirty && w.policy == AOF_FSYNC_ALWAYS && !w.fsync_paused) break;
            if (dirty && w.policy == AOF_FSYNC_EVERYSEC && !w.fsync_paused) {
                int64_t due = last_fsync + 1000 - now_ms();
                if (due <= 0) break;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += due / 1000;
                ts.tv_nsec += (due % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&w.cv, &w.mu, &ts);
            } else {
                pthread_cond_wait(&w.cv, &w.mu);
            }
        }
        /* Take the pending bytes (after what is still unwritten). */
        if (w.plen && boff == blen) {
            /* Nothing of ours left unwritten: take the buffer itself. */
            char *tb = buf;
            size_t tcap = bcap;
            buf = w.pending;
            bcap = w.pcap;
            blen = w.plen;
            boff = 0;
            buf_from = w.pending_from;
            w.pending = tb;
            w.pcap = tcap;
            w.pending_from += w.plen;
            w.plen = 0;
        } else if (w.plen) {
            if (bcap < blen + w.plen) {
                bcap = blen + w.plen;
                buf = kl_realloc(buf, bcap);
            }
            memcpy(buf + blen, w.pending, w.plen);
            blen += w.plen;
            w.pending_from += w.plen;
            w.plen = 0;
        }
        if (w.job.text) {
            if (job.text) { /* a newer manifest replaces the waiting one */
                kl_free(job.text);
                job.text = w.job.text;
                job.gen = w.job.gen;
                job.paths = kl_realloc(job.paths, sizeof(char *) * (job.npaths + w.job.npaths));
                memcpy(job.paths + job.npaths, w.job.paths, sizeof(char *) * w.job.npaths);
                job.npaths += w.job.npaths;
                kl_free(w.job.paths);
                kl_free(w.job.dir);
                kl_free(w.job.name);
            } else {
                job = w.job;
            }
            memset(&w.job, 0, sizeof(w.job));
        }
        int sw_fd = w.switch_fd;
        uint64_t sw_at = w.switch_at;
        int policy = w.policy;
        bool paused = w.fsync_paused, stop = w.stop, flush = w.flush_req;
        uint64_t flush_gen = w.flush_req_gen;
        pthread_mutex_unlock(&w.mu);

        /* Write up to the switch point (if any), then the rest. */
        int err = 0;
        size_t upto = blen;
        if (sw_fd >= 0 && sw_at - buf_from < (uint64_t)blen) upto = (size_t)(sw_at - buf_from);
        if (sw_fd >= 0 && sw_at <= buf_from) upto = boff;
        if (boff < upto) {
            size_t done;
            err = write_all(fd, buf + boff, upto - boff, &done);
            boff += done;
            atomic_fetch_add_explicit(&file_size, done, memory_order_relaxed);
            atomic_store_explicit(&seq_written, buf_from + boff, memory_order_release);
            if (done) dirty = true;
        }
        if (!err && sw_fd >= 0 && boff == upto) {
            /* The old file is complete: make it durable, close it, go on
             * with the new one. */
            if (policy != AOF_FSYNC_NO) fdatasync(fd);
            close(fd);
            job_run(&job); /* the manifest naming the new file, before its first byte */
            fd = sw_fd;
            atomic_store_explicit(&file_size, 0, memory_order_relaxed);
            pthread_mutex_lock(&w.mu);
            w.switch_fd = -1;
            pthread_mutex_unlock(&w.mu);
            if (boff < blen) {
                size_t done;
                err = write_all(fd, buf + boff, blen - boff, &done);
                boff += done;
                atomic_fetch_add_explicit(&file_size, done, memory_order_relaxed);
                atomic_store_explicit(&seq_written, buf_from + boff, memory_order_release);
                if (done) dirty = true;
            }
            last_fsync = 0; /* sync the new file soon */
        }
        if (err) atomic_store_explicit(&last_error, -err, memory_order_relaxed);
        if (job.text && sw_fd < 0 && boff == blen) job_run(&job);
        bool want_sync = dirty && !paused &&
                         (policy == AOF_FSYNC_ALWAYS || flush || stop ||
                          (policy == AOF_FSYNC_EVERYSEC && now_ms() - last_fsync >= 1000));
        if (want_sync && (policy != AOF_FSYNC_NO || flush || stop)) {
            uint64_t upto_seq = atomic_load_explicit(&seq_written, memory_order_acquire);
            if (fdatasync(fd) == 0) {
                atomic_store_explicit(&seq_synced, upto_seq, memory_order_release);
                dirty = false;
                if (!err) atomic_store_explicit(&last_error, 0, memory_order_relaxed);
            } else {
                atomic_store_explicit(&last_error, errno, memory_order_relaxed);
            }
            last_fsync = now_ms();
        } else if (!dirty) {
            atomic_store_explicit(&seq_synced,
                                  atomic_load_explicit(&seq_written, memory_order_acquire),
                                  memory_order_release);
        }
        if (w.done_cb) w.done_cb(w.done_arg);
        if (err) {
            /* Disk full or similar: keep the bytes and retry in a second. */
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&w.mu);
        if (flush) {
            w.flush_req = false;
            w.flush_done_gen = flush_gen;
            pthread_cond_broadcast(&w.cv);
        }
        if (stop && !w.plen && boff == blen && w.switch_fd < 0) break;
    }
    pthread_mutex_unlock(&w.mu);
    if (w.policy != AOF_FSYNC_NO) fdatasync(fd);
    close(fd);
    job_run(&job);
    kl_free(buf);
    return NULL;
}

int aof_writer_start(int fd, int fsync_policy, void (*done_cb)(void *), void *arg) {
    if (w.running) return -EBUSY;
    w.stop = false;
    w.policy = fsync_policy;
    w.fsync_paused = false;
    w.done_cb = done_cb;
    w.done_arg = arg;
    w.plen = 0;
    w.pending_from = seq_appended;
    w.switch_fd = -1;
    atomic_store_explicit(&seq_written, seq_appended, memory_order_relaxed);
    atomic_store_explicit(&seq_synced, seq_appended, memory_order_relaxed);
    atomic_store_explicit(&last_error, 0, memory_order_relaxed);
    off_t size = lseek(fd, 0, SEEK_END);
    atomic_store_explicit(&file_size, size > 0 ? (uint64_t)size : 0, memory_order_relaxed);
    int rc = pthread_create(&w.thread, NULL, writer_main, (void *)(intptr_t)fd);
    if (rc) return -rc;
    w.running = true;
    return 0;
}

void aof_writer_stop(void) {
    if (!w.running) return;
    pthread_mutex_lock(&w.mu);
    w.stop = true;
    pthread_cond_broadcast(&w.cv);
    pthread_mutex_unlock(&w.mu);
    pthread_join(w.thread, NULL);
    w.running = false;
    kl_free(w.pending);
    w.pending = NULL;
    w.pcap = 0;
}

bool aof_writer_running(void) {
    return w.running;
}

uint64_t aof_writer_hand(char **p, size_t *len, size_t *cap) {
    size_t n = *len;
    if (!n) return seq_appended;
    pthread_mutex_lock(&w.mu);
    if (w.plen == 0) {
        /* Swap: the writer takes the caller's buffer, the caller gets the
         * writer's spare one (no copy). */
        char *tb = w.pending;
        size_t tcap = w.pcap;
        w.pending = *p;
        w.pcap = *cap;
        w.plen = n;
        *p = tb;
        *cap = tcap;
    } else {
        if (w.pcap < w.plen + n) {
            size_t c = w.pcap;
            while (c < w.plen + n)
                c *= 2;
            w.pending = kl_realloc(w.pending, c);
            w.pcap = c;
        }
        memcpy(w.pending + w.plen, *p, n);
        w.plen += n;
    }
    *len = 0;
    seq_appended += n;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
    return seq_appended;
}

uint64_t aof_writer_append(const char *p, size_t n) {
    if (!n) return seq_appended;
    pthread_mutex_lock(&w.mu);
    if (w.pcap < w.plen + n) {
        size_t cap = w.pcap ? w.pcap : 4096;
        while (cap < w.plen + n)
            cap *= 2;
        w.pending = kl_realloc(w.pending, cap);
        w.pcap = cap;
    }
    memcpy(w.pending + w.plen, p, n);
    w.plen += n;
    seq_appended += n;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
    return seq_appended;
}

void aof_writer_switch(int fd) {
    pthread_mutex_lock(&w.mu);
    /* One switch at a time: wait for a previous one to be done. */
    while (w.switch_fd >= 0) {
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&w.mu);
    }
    w.switch_fd = fd;
    w.switch_at = seq_appended;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
}

uint64_t aof_writer_manifest(const char *dir, const char *name, char *text, char **unlink_paths,
                             size_t npaths) {
    pthread_mutex_lock(&w.mu);
    if (w.job.text) {
        kl_free(w.job.text);
        w.job.paths = kl_realloc(w.job.paths, sizeof(char *) * (w.job.npaths + npaths));
        if (npaths) memcpy(w.job.paths + w.job.npaths, unlink_paths, sizeof(char *) * npaths);
        w.job.npaths += npaths;
        kl_free(unlink_paths);
    } else {
        w.job.dir = kl_strdup(dir);
        w.job.name = kl_strdup(name);
        w.job.paths = unlink_paths;
        w.job.npaths = npaths;
    }
    w.job.text = text;
    uint64_t gen = w.job.gen = ++w.jobs_queued;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
    return gen;
}

uint64_t aof_writer_manifest_done(void) {
    return atomic_load_explicit(&jobs_done, memory_order_acquire);
}

void aof_writer_set_policy(int fsync_policy) {
    pthread_mutex_lock(&w.mu);
    w.policy = fsync_policy;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
}

void aof_writer_fsync_pause(bool paused) {
    pthread_mutex_lock(&w.mu);
    w.fsync_paused = paused;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
}

uint64_t aof_writer_seq_written(void) {
    return atomic_load_explicit(&seq_written, memory_order_acquire);
}

uint64_t aof_writer_seq_synced(void) {
    return atomic_load_explicit(&seq_synced, memory_order_acquire);
}

uint64_t aof_writer_file_size(void) {
    return atomic_load_explicit(&file_size, memory_order_relaxed);
}

int aof_writer_last_error(void) {
    return atomic_load_explicit(&last_error, memory_order_relaxed);
}

void aof_writer_flush_sync(void) {
    if (!w.running) return;
    pthread_mutex_lock(&w.mu);
    uint64_t gen = ++w.flush_req_gen;
    w.flush_req = true;
    pthread_cond_broadcast(&w.cv);
    while (w.flush_done_gen < gen)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
}
