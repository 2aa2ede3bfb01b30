/* Listening sockets. They live on the main thread's loop: accepting is cheap
 * (the expensive part of a TLS connection, the handshake, runs on the I/O
 * thread that owns the client). Accepts are capped per loop iteration so a
 * connection storm cannot starve the executor. */
#include "iol_internal.h"

#include "kl_alloc.h"
#include "kl_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_ACCEPTS_PER_CALL 1000

struct iol_listener {
    uv_poll_t poll;
    int fd;
    int kind;
    int port;
    char *path; /* unix socket path, unlinked on close */
    iol_listener_t *next;
};

static iol_listener_t *listeners;
static int tcp_keepalive_secs = 300;
static uv_loop_t *listen_loop;

static iol__accept_fn on_accept;

void iol__listener_set_loop(uv_loop_t *loop, iol__accept_fn accepted) {
    listen_loop = loop;
    on_accept = accepted;
}

void iol_set_tcp_keepalive(int seconds) {
    tcp_keepalive_secs = seconds;
}

/* "ip:port", with brackets for IPv6, as Redis formats addresses. */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
        snprintf(out, len, "%s:%d", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
        snprintf(out, len, "[%s]:%d", ip, port);
    } else {
        snprintf(out, len, "?:0");
    }
}

static void set_keepalive(int fd, int interval) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof(yes));
    int idle = interval;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    int intvl = interval / 3;
    if (intvl == 0) intvl = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    int cnt = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static void on_listen_readable(uv_poll_t *h, int status, int events) {
    iol_listener_t *l = h->data;
    if (status < 0) return;
    for (int i = 0; i < MAX_ACCEPTS_PER_CALL; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                kl_warning("Accepting client connection: %s", strerror(errno));
            return;
        }
        char peer[IOL_ADDR_LEN], local[IOL_ADDR_LEN];
        if (l->kind == CONN_KIND_UNIX) {
            snprintf(peer, sizeof(peer), "%s:0", l->path);
            snprintf(local, sizeof(local), "%s:0", l->path);
        } else {
            format_addr(&ss, peer, sizeof(peer));
            struct sockaddr_storage ls;
            socklen_t ll = sizeof(ls);
            if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0)
                format_addr(&ls, local, sizeof(local));
            else
                snprintf(local, sizeof(local), "?:0");
            int yes = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
            if (tcp_keepalive_secs > 0) set_keepalive(fd, tcp_keepalive_secs);
        }
        kl_verbose("Accepted %s", peer);
        on_accept(fd, l->kind, peer, local, l->port);
    }
}

static void on_listener_closed(uv_handle_t *h);

static int listener_add(int fd, int kind, int port, const char *path, iol_listener_t **out) {
    iol_listener_t *l = kl_calloc(1, sizeof(*l));
    l->fd = fd;
    l->kind = kind;
    l->port = port;
    l->path = path ? kl_strdup(path) : NULL;
    int err = uv_poll_init_socket(listen_loop, &l->poll, fd);
    if (err) {
        /* Never registered with the loop: plain free. */
        kl_free(l->path);
        kl_free(l);
        return err;
    }
    l->poll.data = l;
    err = uv_poll_start(&l->poll, UV_READABLE, on_listen_readable);
    if (err) {
        /* On the loop's handle list now: freed by the close callback. The
         * caller closes the fd (a poll handle does not own it). */
        uv_close((uv_handle_t *)&l->poll, on_listener_closed);
        return err;
    }
    l->next = listeners;
    listeners = l;
    *out = l;
    return 0;
}

int iol_listen_tcp(const char *addr, int port, int backlog, int kind, iol_listener_t **out,
                   char *err, size_t errlen) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(addr, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -EINVAL;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s", strerror(e));
        freeaddrinfo(res);
        return -e;
    }
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof(yes));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s", strerror(e));
        close(fd);
        freeaddrinfo(res);
        return -e;
    }
    freeaddrinfo(res);
    if (port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    rc = listener_add(fd, kind, port, NULL, out);
    if (rc) {
        snprintf(err, errlen, "%s", uv_strerror(rc));
        close(fd);
    }
    return rc;
}

int iol_listen_unix(const char *path, unsigned perm, int backlog, iol_listener_t **out, char *err,
                    size_t errlen) {
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "unix socket path too long");
        return -ENAMETOOLONG;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s", strerror(e));
        return -e;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s", strerror(e));
        close(fd);
        return -e;
    }
    if (perm) chmod(path, (mode_t)perm);
    int rc = listener_add(fd, CONN_KIND_UNIX, 0, path, out);
    if (rc) {
        snprintf(err, errlen, "%s", uv_strerror(rc));
        close(fd);
    }
    return rc;
}

static void on_listener_closed(uv_handle_t *h) {
    iol_listener_t *l = h->data;
    kl_free(l->path);
    kl_free(l);
}

void iol_listener_close(iol_listener_t *l) {
    iol_listener_t **pp = &listeners;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp) *pp = l->next;
    /* Stop listening now, not at the close callback: once CONFIG SET port
     * returns, the old port must refuse connections. */
    uv_poll_stop(&l->poll);
    close(l->fd);
    if (l->path) unlink(l->path);
    uv_close((uv_handle_t *)&l->poll, on_listener_closed);
}

int iol_listener_port(const iol_listener_t *l) {
    return l->port;
}

void iol_listener_pause(bool paused) {
    for (iol_listener_t *l = listeners; l; l = l->next) {
        if (paused) {
            uv_poll_stop(&l->poll);
        } else {
            int err = uv_poll_start(&l->poll, UV_READABLE, on_listen_readable);
            if (err)
                kl_warning("Cannot resume accepting on port %d: %s", l->port, uv_strerror(err));
        }
    }
}
