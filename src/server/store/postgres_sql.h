/*
 * The SQL rewriting of the PostgreSQL backend (postgres_sql.c): the
 * store's portable SQL in, PostgreSQL's spelling out.
 */
#ifndef VITRINE_STORE_POSTGRES_SQL_H
#define VITRINE_STORE_POSTGRES_SQL_H

#include <stdbool.h>

/* Returns the rewritten text (malloc'd) or NULL when out of memory. A
 * script (migrations) also gets the DDL rewrites. *nparams (if given)
 * receives the highest parameter number. */
char *pg_translate(const char *sql, bool script, int *nparams);

#endif
