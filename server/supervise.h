/* Supervision by systemd or upstart, as redis-server 7.0 does it (the
 * `supervised` directive). systemd is told over the sd_notify protocol, one
 * AF_UNIX datagram per message to $NOTIFY_SOCKET, written here without
 * libsystemd; upstart by stopping the process once (SIGSTOP).
 *
 * Thread: main, at start-up and shutdown. */
#ifndef KL_SUPERVISE_H
#define KL_SUPERVISE_H

#include <stdbool.h>

/* Values of the `supervised` directive (config.c's enum order). */
enum supervise_mode {
    SUPERVISE_UPSTART = 0,
    SUPERVISE_SYSTEMD = 1,
    SUPERVISE_AUTO = 2,
    SUPERVISE_NO = 3,
};

/* Start-up, before the server would daemonize: resolve `auto` from the
 * environment (UPSTART_JOB, then NOTIFY_SOCKET), tell the supervisor the
 * server is loading, log what Redis logs. Returns the mode in force (auto
 * becomes what was detected, as Redis reports it) and sets *supervised when
 * a supervisor was reached (the server then stays in the foreground). */
int supervise_start(int configured, bool *supervised);
/* The server accepts connections: STATUS and READY=1 for systemd. */
void supervise_ready(void);
/* The server begins to shut down: STOPPING=1 for systemd. */
void supervise_stopping(void);
/* INFO server process_supervised: "no", "upstart" or "systemd". */
const char *supervise_info_name(void);

#endif
