/* Paging, sorting and filtering of list routes; see listquery.h. */
#include "listquery.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http/server.h"

static bool parse_count(const char *text, int64_t min, int64_t max, int64_t *out)
{
	if (!text || *text < '0' || *text > '9')
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (int64_t)v;
	return true;
}

static const struct listquery_column *find_column(const struct listquery_spec *spec, const char *name)
{
	for (size_t i = 0; i < spec->column_count; i++)
		if (strcmp(spec->columns[i].name, name) == 0)
			return &spec->columns[i];
	return NULL;
}

/* "name, -name, last_seen, -last_seen" for the error message */
static void column_names(const struct listquery_spec *spec, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < spec->column_count && used < len; i++) {
		int n = snprintf(out + used, len - used, "%s%s, -%s", i ? ", " : "", spec->columns[i].name,
		                 spec->columns[i].name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

int listquery_parse(struct listquery *lq, const struct listquery_spec *spec, const char *limit, const char *offset,
                    const char *sort, const char *q, char *err, size_t errlen)
{
	memset(lq, 0, sizeof *lq);
	lq->limit = spec->default_limit;
	if (limit && !parse_count(limit, 1, spec->max_limit, &lq->limit)) {
		snprintf(err, errlen, "limit must be a whole number from 1 to %lld", (long long)spec->max_limit);
		return -1;
	}
	if (offset && !parse_count(offset, 0, LISTQUERY_OFFSET_MAX, &lq->offset)) {
		snprintf(err, errlen, "offset must be a whole number from 0 to %d", LISTQUERY_OFFSET_MAX);
		return -1;
	}
	if (sort) {
		bool desc = sort[0] == '-';
		const struct listquery_column *c = find_column(spec, sort + desc);
		if (!c) {
			char names[200];
			column_names(spec, names, sizeof names);
			snprintf(err, errlen, "sort must be one of %s", names);
			return -1;
		}
		const char *dir = desc ? "DESC" : "ASC";
		int n = snprintf(lq->order_by, sizeof lq->order_by, "%s %s, %s %s", c->sql, dir, spec->tiebreak, dir);
		if (n < 0 || (size_t)n >= sizeof lq->order_by) {
			snprintf(err, errlen, "sort column too long");
			return -1;
		}
		lq->sorted = true;
	} else {
		int n = snprintf(lq->order_by, sizeof lq->order_by, "%s", spec->default_order);
		if (n < 0 || (size_t)n >= sizeof lq->order_by) {
			snprintf(err, errlen, "default order too long");
			return -1;
		}
	}
	if (q && *q) {
		if (strlen(q) > LISTQUERY_Q_MAX) {
			snprintf(err, errlen, "q must be at most %d bytes", LISTQUERY_Q_MAX);
			return -1;
		}
		char *p = lq->like;
		*p++ = '%';
		for (const char *s = q; *s; s++) {
			if (*s == '%' || *s == '_' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '%';
		*p = '\0';
	}
	return 0;
}

static pthread_mutex_t interned_lock = PTHREAD_MUTEX_INITIALIZER;
static char *interned[LISTQUERY_SQL_MAX];
static size_t interned_count;

const char *listquery_intern(const char *sql)
{
	const char *found = NULL;
	pthread_mutex_lock(&interned_lock);
	for (size_t i = 0; i < interned_count && !found; i++)
		if (strcmp(interned[i], sql) == 0)
			found = interned[i];
	if (!found && interned_count < LISTQUERY_SQL_MAX && (interned[interned_count] = strdup(sql)))
		found = interned[interned_count++];
	pthread_mutex_unlock(&interned_lock);
	return found;
}

int listquery_from_request(struct http_req *r, const struct listquery_spec *spec, struct listquery *lq)
{
	char err[256];
	if (listquery_parse(lq, spec, http_query(r, "limit"), http_query(r, "offset"), http_query(r, "sort"),
	                    http_query(r, "q"), err, sizeof err) == 0)
		return 0;
	http_reply_error(r, 400, "invalid_parameter", "%s", err);
	return -1;
}
