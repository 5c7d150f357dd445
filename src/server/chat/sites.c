/*
 * Chat sites: an admin registers a web site by name and the domains its
 * widget may run on, and gets the snippet to paste into its pages. A domain
 * is a lower-case host name or IP address, optionally with ":port"; an
 * Origin matches a domain without a port on any port, one with a port on
 * that port only. Each site has its own token key (tokens.c), made here and
 * never shown, so a visitor token of one site is worthless on another.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../common/strfmt.h"
#include "../audit/audit.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "chat.h"

#define SITE_COLUMNS "id, account_id, name, domains, token_key, created_at"

bool chat_site_load(struct db *db, const char *id, struct chat_site *out)
{
	memset(out, 0, sizeof *out);
	if (!chat_is_id(id))
		return false;
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT " SITE_COLUMNS " FROM chat_sites WHERE id = ?", "s", id);
	if (!st)
		return false;
	snprintf(out->id, sizeof out->id, "%s", db_col_text(st, 0));
	snprintf(out->account_id, sizeof out->account_id, "%s", db_col_text(st, 1));
	snprintf(out->name, sizeof out->name, "%s", db_col_text(st, 2));
	out->domains = json_loads(db_col_text(st, 3), 0, NULL);
	snprintf(out->key, sizeof out->key, "%s", db_col_text(st, 4));
	db_done(st);
	if (!json_is_array(out->domains)) {
		json_decref(out->domains);
		out->domains = json_array();
	}
	return true;
}

void chat_site_free(struct chat_site *s)
{
	json_decref(s->domains);
	s->domains = NULL;
	sodium_memzero(s->key, sizeof s->key);
}

bool chat_site_origin_allowed(const struct chat_site *s, const char *origin)
{
	if (!origin || !s->domains)
		return false;
	const char *host = NULL;
	if (strncasecmp(origin, "https://", 8) == 0)
		host = origin + 8;
	else if (strncasecmp(origin, "http://", 7) == 0)
		host = origin + 7;
	if (!host || !*host || strchr(host, '/'))
		return false;
	size_t hlen = strlen(host);
	const char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
	if (colon && host[0] == '[')
		colon++;
	size_t bare = colon ? (size_t)(colon - host) : hlen;
	size_t i;
	json_t *d;
	json_array_foreach (s->domains, i, d) {
		const char *dom = json_string_value(d);
		if (!dom)
			continue;
		size_t dlen = strlen(dom);
		bool dom_has_port = dom[0] == '[' ? strstr(dom, "]:") != NULL : strchr(dom, ':') != NULL;
		if (dom_has_port ? (dlen == hlen && strncasecmp(dom, host, hlen) == 0)
		                 : (dlen == bare && strncasecmp(dom, host, bare) == 0))
			return true;
	}
	return false;
}

/* A domain as the contract allows it: host name letters, digits, '-', '.',
 * an IPv4 address, or [IPv6]; then optionally ":port". */
static const char *domain_problem(const char *d)
{
	size_t n = d ? strlen(d) : 0;
	if (n == 0 || n > 260)
		return "each domain must be a host name of 1 to 253 characters, optionally with :port";
	const char *p = d;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (!close || close == p + 1)
			return "an IPv6 domain needs its closing ']'";
		for (const char *q = p + 1; q < close; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return "an IPv6 domain holds only hex digits, ':' and '.'";
		p = close + 1;
	} else {
		size_t h = strcspn(p, ":");
		if (h == 0 || h > 253)
			return "each domain needs a host name";
		for (size_t i = 0; i < h; i++)
			if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i]) || p[i] == '-' ||
			      p[i] == '.'))
				return "a domain holds only lower-case letters, digits, '-' and '.' (no scheme, no "
				       "path), "
				       "optionally followed by :port";
		p += h;
	}
	if (*p == ':') {
		char *end;
		long port = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end || port < 1 || port > 65535 || !isdigit((unsigned char)p[1]))
			return "a domain's port must be 1 to 65535";
	} else if (*p) {
		return "a domain is a host name, optionally followed by :port";
	}
	return NULL;
}

static const char *name_problem(json_t *j)
{
	const char *s = json_string_value(j);
	if (!s || !*s || strlen(s) > 200)
		return "name must be a string of 1 to 200 bytes";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "name may not hold control characters";
	return NULL;
}

/* domains: an array of 1..CHAT_MAX_DOMAINS valid, distinct domains;
 * *out gets a new reference. */
static const char *domains_problem(json_t *j, json_t **out)
{
	if (!json_is_array(j) || json_array_size(j) == 0 || json_array_size(j) > CHAT_MAX_DOMAINS)
		return "domains must be an array of 1 to 50 host names (\"shop.example\", \"127.0.0.1:8080\")";
	json_t *copy = json_array();
	size_t i;
	json_t *d;
	json_array_foreach (j, i, d) {
		const char *p = domain_problem(json_string_value(d));
		if (p) {
			json_decref(copy);
			return p;
		}
		size_t k;
		json_t *e;
		bool seen = false;
		json_array_foreach (copy, k, e)
			seen |= strcmp(json_string_value(e), json_string_value(d)) == 0;
		if (!seen)
			json_array_append(copy, d);
	}
	*out = copy;
	return NULL;
}

static void snippet(struct http_req *r, const char *site_id, char *out, size_t outsz)
{
	const char *pub = server_config(r->srv)->public_url;
	char base[512];
	if (pub && *pub)
		snprintf(base, sizeof base, "%s", pub);
	else
		snprintf(base, sizeof base, "%s://%s", r->tls ? "https" : "http",
		         http_header(r, "Host") ? http_header(r, "Host") : "localhost");
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	snprintf(out, outsz, "<script src=\"%s/widget.js\" data-site=\"%s\" async></script>", base, site_id);
}

static json_t *site_json(struct db_stmt *st)
{
	json_t *domains = json_loads(db_col_text(st, 3), 0, NULL);
	return json_pack("{s:s, s:s, s:o, s:I}", "id", db_col_text(st, 0), "name", db_col_text(st, 2), "domains",
	                 domains ? domains : json_array(), "created_at", (json_int_t)db_col_int(st, 5));
}

static json_t *site_by_id(struct http_req *r, const char *id)
{
	int rc;
	struct db_stmt *st =
	    chat_is_id(id)
	        ? db_query(r->db, &rc, "SELECT " SITE_COLUMNS " FROM chat_sites WHERE id = ? AND account_id = ?", "ss",
	                   id, r->auth.account_id)
	        : NULL;
	json_t *j = st ? site_json(st) : NULL;
	db_done(st);
	return j;
}

static int reply_site(struct http_req *r, unsigned status, const char *id)
{
	json_t *j = site_by_id(r, id);
	if (!j)
		return http_reply_error(r, 404, "not_found", "no such site in this account");
	char snip[800];
	snippet(r, id, snip, sizeof snip);
	return http_reply_json(r, status, json_pack("{s:o, s:s}", "site", j, "snippet", snip));
}

int chat_handle_sites_list(struct http_req *r)
{
	struct db_stmt *st = db_prepare(r->db, "SELECT " SITE_COLUMNS " FROM chat_sites WHERE account_id = ? "
	                                       "ORDER BY name, id LIMIT 1000");
	if (!st)
		return store_reply_error(r, DB_ERROR, "the sites could not be read");
	db_bind_text(st, 1, r->auth.account_id);
	json_t *list = json_array();
	while (db_step(st) == DB_ROW) {
		json_t *j = site_json(st);
		char snip[800];
		snippet(r, db_col_text(st, 0), snip, sizeof snip);
		json_object_set_new(j, "snippet", json_string(snip));
		json_array_append_new(list, j);
	}
	db_done(st);
	return http_reply_json(r, 200, json_pack("{s:o}", "sites", list));
}

int chat_handle_site_create(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	const char *problem = name_problem(json_object_get(body, "name"));
	json_t *domains = NULL;
	if (problem || (problem = domains_problem(json_object_get(body, "domains"), &domains)))
		return http_reply_error(r, 400, "invalid_field", "%s", problem);
	char *text = json_dumps(domains, JSON_COMPACT);
	json_decref(domains);
	char id[CODES_ID_LEN + 1], key[65];
	codes_new_id(id);
	chat_token_new_key(key);
	int rc = text ? db_exec(r->db,
	                        "INSERT INTO chat_sites(id, account_id, name, domains, token_key, created_at) "
	                        "VALUES(?,?,?,?,?,?)",
	                        "sssssi", id, r->auth.account_id, json_string_value(json_object_get(body, "name")),
	                        text, key, (int64_t)time(NULL))
	              : DB_ERROR;
	sodium_memzero(key, sizeof key);
	if (rc != DB_DONE) {
		free(text);
		return store_reply_error(r, rc, "the site could not be saved");
	}
	audit_request(r, "chat.site_created", id, text);
	free(text);
	return reply_site(r, 201, id);
}

int chat_handle_site_get(struct http_req *r)
{
	return reply_site(r, 200, http_param(r, "id"));
}

int chat_handle_site_update(struct http_req *r)
{
	const char *id = http_param(r, "id");
	json_t *old = site_by_id(r, id);
	if (!old)
		return http_reply_error(r, 404, "not_found", "no such site in this account");
	json_decref(old);
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	json_t *jname = json_object_get(body, "name"), *jdom = json_object_get(body, "domains");
	const char *problem = jname ? name_problem(jname) : NULL;
	json_t *domains = NULL;
	if (!problem && jdom)
		problem = domains_problem(jdom, &domains);
	if (problem)
		return http_reply_error(r, 400, "invalid_field", "%s", problem);
	int rc = DB_DONE;
	if (jname)
		rc = db_exec(r->db, "UPDATE chat_sites SET name = ? WHERE id = ?", "ss", json_string_value(jname), id);
	char *text = domains ? json_dumps(domains, JSON_COMPACT) : NULL;
	json_decref(domains);
	if (rc == DB_DONE && text)
		rc = db_exec(r->db, "UPDATE chat_sites SET domains = ? WHERE id = ?", "ss", text, id);
	if (rc != DB_DONE) {
		free(text);
		return store_reply_error(r, rc, "the site could not be saved");
	}
	audit_request(r, "chat.site_updated", id, text ? text : "name");
	free(text);
	return reply_site(r, 200, id);
}

int chat_handle_site_delete(struct http_req *r)
{
	const char *id = http_param(r, "id");
	json_t *old = site_by_id(r, id);
	if (!old)
		return http_reply_error(r, 404, "not_found", "no such site in this account");
	json_decref(old);
	int rc = db_exec(r->db, "DELETE FROM chat_sites WHERE id = ?", "s", id);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the site could not be removed");
	audit_request(r, "chat.site_deleted", id, NULL);
	return http_reply_empty(r, 204);
}
