/*
 * What the PostgreSQL backend's files share (store/ only): the connection
 * opener, the notification channel, and the listener that turns other
 * servers' commits into local wake-ups (postgres_listen.c).
 */
#ifndef VITRINE_STORE_POSTGRES_H
#define VITRINE_STORE_POSTGRES_H

#include <libpq-fe.h>
#include <stdbool.h>

struct db;

/* The channel every server on a database LISTENs on; payloads are keys. */
#define POSTGRES_CHANNEL "vitrine"

/* A new libpq connection to url, or NULL (logged unless quiet). */
PGconn *postgres_connect(const char *url, bool quiet);

/* Whether pid is the backend of one of this process's store connections. */
bool postgres_own_pid(int pid);

/* Starts the listener thread on its own connection to url; store_close()
 * stops it. Returns 0 or -1 (logged). */
int postgres_listen_start(const char *url);
void postgres_listen_stop(void);

/* Creates or replaces the functions and collation the portable SQL
 * expects of PostgreSQL (json_valid, json_extract, json_each on text,
 * two-argument max/min, sum of booleans, the case-blind collation
 * nocase). */
int postgres_install_compat(struct db *db);

#endif
