/*
 * Paging, sorting and filtering of the list routes (GET /api/v1/screens,
 * /media, /channels, /audit): their query parameters limit, offset, sort
 * and q, checked against what each route allows, become the ORDER BY,
 * LIMIT and OFFSET of its SQL and a LIKE pattern to bind.
 *
 * Only the SQL fragments of a route's own table of sort columns reach the
 * SQL text; q is always bound as a parameter, with LIKE's wildcards
 * escaped (use it as `col LIKE ? ESCAPE '\'`). listquery_parse is pure;
 * listquery_from_request reads a request's parameters and answers its 400.
 */
#ifndef VITRINE_LISTQUERY_H
#define VITRINE_LISTQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LISTQUERY_Q_MAX      200        /* bytes of q */
#define LISTQUERY_OFFSET_MAX 1000000000 /* rows */

/* A column a list may be sorted by: its name in ?sort= and its SQL. */
struct listquery_column {
	const char *name;
	const char *sql; /* e.g. "name COLLATE NOCASE" */
};

/* What one route allows. */
struct listquery_spec {
	const struct listquery_column *columns;
	size_t column_count;
	const char *default_order; /* ORDER BY without ?sort= (the route's order before paging) */
	const char *tiebreak;      /* appended to a chosen sort, e.g. "id": pages never overlap */
	int64_t default_limit;     /* without ?limit=; -1: every row */
	int64_t max_limit;
};

struct listquery {
	int64_t limit; /* -1: every row (SQLite's LIMIT -1) */
	int64_t offset;
	bool sorted; /* ?sort= was given */
	char order_by[256];
	char like[LISTQUERY_Q_MAX * 2 + 3]; /* "%q%" with % _ \ escaped; "" without q */
};

/*
 * Fills lq from the raw parameters (NULL: absent). Returns 0, or -1 with a
 * sentence for a 400 answer in err (bad number, unknown sort column, q too
 * long).
 */
int listquery_parse(struct listquery *lq, const struct listquery_spec *spec, const char *limit, const char *offset,
                    const char *sort, const char *q, char *err, size_t errlen);

struct http_req;

/*
 * listquery_parse on a request's own limit, offset, sort and q. Returns 0,
 * or -1 after answering 400 invalid_parameter with the sentence.
 */
int listquery_from_request(struct http_req *r, const struct listquery_spec *spec, struct listquery *lq);

/*
 * The one lasting copy of an SQL text built at run time, to hand to
 * db_prepare(), whose statement cache is keyed by the string's address:
 * equal texts give the same pointer. A list has a few dozen texts at most
 * (its sort columns, both ways); NULL once LISTQUERY_SQL_MAX are kept.
 * Thread-safe.
 */
#define LISTQUERY_SQL_MAX 128
const char *listquery_intern(const char *sql);

#endif
