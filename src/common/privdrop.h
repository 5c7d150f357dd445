/*
 * Giving up root. A daemon started as root -- to bind a port below 1024,
 * to read a TLS key only root may read -- switches to an unprivileged
 * account once its listening sockets are bound, before it touches its data
 * folder or serves a request: vitrine-server and vitrine-relay (--user).
 * The switch is initgroups, setgid, setuid, and is then checked: the real,
 * effective and saved ids must all be the account's, and setuid(0) must
 * fail. glibc applies setuid and setgid to every thread of the process.
 */
#ifndef VITRINE_PRIVDROP_H
#define VITRINE_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>

/* Switches the process to the account named user: its uid, its primary
 * group and its supplementary groups. A process that already runs as that
 * account keeps running unchanged. Returns 0, or -1 with a sentence in err
 * (no such account, root named as the target, not root, a call that
 * failed, root still reachable afterwards). */
int privdrop_to(const char *user, char *err, size_t errsz);

/* Whether the process runs with the effective uid 0. */
bool privdrop_is_root(void);

/* The name of the account of the effective uid into out ("uid N" when it
 * has no name). */
void privdrop_whoami(char *out, size_t outsz);

#endif
