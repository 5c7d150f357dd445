/*
 * Inventory: a player reports what it runs on (model, OS and kernel,
 * player version, CPU, memory, disks, network interfaces, displays,
 * uptime) when it starts and when that changes. The report is kept as the
 * player sent it, after a shape check of the fields the console and the
 * screen rules read (screens/rule.h), so a hostile or broken player cannot
 * plant values of the wrong type there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../http/server.h"
#include "../screens/screens.h"
#include "../store/db.h"
#include "../store/store_reply.h"
#include "mdm.h"

#define INVENTORY_MAX 32768
#define MAX_LIST      64 /* disks, interfaces, displays, addresses */

/* A check of one field: the type its value must have. */
enum shape { STR, NUM, BOOL, OBJ, LIST };

static bool has_shape(json_t *v, enum shape s)
{
	switch (s) {
	case STR:
		return json_is_string(v) && json_string_length(v) <= 256;
	case NUM:
		return json_is_number(v) && json_number_value(v) >= 0;
	case BOOL:
		return json_is_boolean(v);
	case OBJ:
		return json_is_object(v);
	case LIST:
		return json_is_array(v) && json_array_size(v) <= MAX_LIST;
	}
	return false;
}

struct field {
	const char *name;
	enum shape shape;
};

/* NULL when every field of obj that fields names has its shape. */
static const char *check_fields(json_t *obj, const struct field *fields, const char *where, char *err, size_t errsz)
{
	for (const struct field *f = fields; f->name; f++) {
		json_t *v = json_object_get(obj, f->name);
		if (v && !json_is_null(v) && !has_shape(v, f->shape)) {
			static const char *const what[] = {"a string of at most 256 bytes", "a number (0 or more)",
			                                   "true or false", "an object",
			                                   "a list of at most 64 entries"};
			snprintf(err, errsz, "%s%s must be %s", where, f->name, what[f->shape]);
			return err;
		}
	}
	return NULL;
}

static const char *check_list(json_t *inv, const char *name, const struct field *fields, char *err, size_t errsz)
{
	json_t *list = json_object_get(inv, name);
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e) {
		char where[64];
		snprintf(where, sizeof where, "%s[%zu].", name, i);
		if (!json_is_object(e)) {
			snprintf(err, errsz, "%s[%zu] must be an object", name, i);
			return err;
		}
		if (check_fields(e, fields, where, err, errsz))
			return err;
	}
	return NULL;
}

static const char *inventory_problem(json_t *inv, char *err, size_t errsz)
{
	static const struct field top[] = {
	    {"model", STR},  {"hostname", STR}, {"player_version", STR}, {"uptime_s", NUM},  {"os", OBJ}, {"cpu", OBJ},
	    {"memory", OBJ}, {"disks", LIST},   {"network", LIST},       {"displays", LIST}, {NULL, STR}};
	static const struct field os[] = {{"name", STR}, {"version", STR}, {"kernel", STR}, {NULL, STR}};
	static const struct field cpu[] = {{"model", STR}, {"arch", STR}, {"cores", NUM}, {NULL, STR}};
	static const struct field mem[] = {{"total_bytes", NUM}, {"available_bytes", NUM}, {NULL, STR}};
	static const struct field disk[] = {
	    {"mount", STR}, {"total_bytes", NUM}, {"free_bytes", NUM}, {"player_data", BOOL}, {NULL, STR}};
	static const struct field net[] = {{"name", STR}, {"mac", STR}, {"addresses", LIST}, {"up", BOOL}, {NULL, STR}};
	static const struct field display[] = {{"name", STR},   {"connected", BOOL}, {"width", NUM},
	                                       {"height", NUM}, {"resolution", STR}, {NULL, STR}};
	if (!json_is_object(inv)) {
		snprintf(err, errsz, "the inventory must be an object");
		return err;
	}
	if (check_fields(inv, top, "", err, errsz) || check_fields(json_object_get(inv, "os"), os, "os.", err, errsz) ||
	    check_fields(json_object_get(inv, "cpu"), cpu, "cpu.", err, errsz) ||
	    check_fields(json_object_get(inv, "memory"), mem, "memory.", err, errsz) ||
	    check_list(inv, "disks", disk, err, errsz) || check_list(inv, "network", net, err, errsz) ||
	    check_list(inv, "displays", display, err, errsz))
		return err;
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(inv, "network"), i, e) {
		size_t k;
		json_t *a;
		json_array_foreach (json_object_get(e, "addresses"), k, a)
			if (!json_is_string(a) || json_string_length(a) > 64) {
				snprintf(err, errsz, "network[%zu].addresses[%zu] must be an address (a string)", i, k);
				return err;
			}
	}
	return NULL;
}

int mdm_handle_device_inventory(struct http_req *r)
{
	json_t *body = http_json_body(r);
	if (!body)
		return 0;
	char err[160];
	if (inventory_problem(body, err, sizeof err))
		return http_reply_error(r, 400, "invalid_inventory", "%s", err);
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text || strlen(text) > INVENTORY_MAX) {
		free(text);
		return http_reply_error(r, 400, "invalid_inventory", "the inventory must be at most %d bytes",
		                        INVENTORY_MAX);
	}
	int rc = db_exec(r->db, "UPDATE screens SET inventory = ?, inventory_at = ? WHERE id = ?", "sis", text,
	                 (int64_t)time(NULL), r->auth.device_id);
	free(text);
	if (rc != DB_DONE)
		return store_reply_error(r, rc, "the inventory could not be saved");
	screens_touch(r->db, r->auth.account_id, r->auth.device_id);
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	return 0;
}
