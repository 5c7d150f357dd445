/*
 * Transactions as the HTTP server and background jobs use them: the two
 * hooks the server is given (begin on this thread's connection, end by
 * commit or rollback) and "run this function in its own write transaction".
 */
#ifndef VITRINE_STORE_TX_H
#define VITRINE_STORE_TX_H

#include <stdbool.h>

struct db;

/* This thread's connection with a transaction open (write or read), or NULL
 * when the store is busy or unavailable. */
struct db *store_tx_begin(bool write);

/* Ends the transaction db holds, if any: commits when commit is set
 * (returns -1 when that failed), else rolls back. */
int store_tx_end(struct db *db, bool commit);

/* Runs fn in its own write transaction (for deferred jobs and for audit
 * entries that must survive the request's rollback). Returns fn's result,
 * or -1 if the transaction could not be committed. */
int store_with_tx(int (*fn)(struct db *db, void *arg), void *arg);

#endif
