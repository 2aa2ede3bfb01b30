/* The kinds of connection a listener accepts (and a client reports), on their
 * own so that the executor can name them without seeing the connection layer
 * (conn.h, which is libuv's). */
#ifndef IOL_CONN_KIND_H
#define IOL_CONN_KIND_H

enum conn_kind { CONN_KIND_TCP = 0, CONN_KIND_UNIX = 1, CONN_KIND_TLS = 2 };

#endif
