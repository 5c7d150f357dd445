/*
 * Device management (SPEC section 7): what players report of themselves
 * (inventory), dynamic groups of screens by rule, actions sent to many
 * screens at once, log archives collected from players, and what a player
 * whose local state is damaged gets back from the server (its
 * configuration; a new token for a proof of its pairing key).
 *
 * Each screen of a bulk action gets its own instruction (screens/), so its
 * acknowledgement lands in its own history; the batch ties them together.
 */
#ifndef VITRINE_MDM_H
#define VITRINE_MDM_H

#include <jansson.h>
#include <stddef.h>

struct http_req;
struct db;

/* inventory.c: POST /api/v1/device/inventory */
int mdm_handle_device_inventory(struct http_req *r);

/* groups.c: dynamic groups, /api/v1/screen-groups[/{id}[/screens]] */
int mdm_handle_groups_list(struct http_req *r);
int mdm_handle_group_create(struct http_req *r);
int mdm_handle_group_update(struct http_req *r);
int mdm_handle_group_delete(struct http_req *r);
int mdm_handle_group_screens(struct http_req *r);
/* The JSON views of the screens rule_text matches now (into *out). 0, or
 * -1 with a sentence in err (a bad rule, or the store failed). */
int mdm_group_members(struct db *db, const char *account_id, const char *rule_text, json_t **out, char *err,
                      size_t errsz);

/* actions.c: /api/v1/screen-actions[/{id}] */
/* The screens a target names ({"rule"}, {"group_id"} or {"screen_ids"}), as
 * their JSON views; NULL after replying 4xx (also used by rollouts). */
json_t *mdm_target_screens(struct http_req *r, json_t *target);
int mdm_handle_action_create(struct http_req *r);
int mdm_handle_actions_list(struct http_req *r);
int mdm_handle_action_get(struct http_req *r);

/* logs.c: POST /api/v1/device/logs, /api/v1/screens/{id}/logs[/{log}] */
int mdm_handle_device_logs(struct http_req *r);
int mdm_handle_screen_logs(struct http_req *r);
int mdm_handle_screen_log_get(struct http_req *r);

/* recover.c: /api/v1/device/config, /device/challenge, /device/recover,
 * PUT /api/v1/device/key */
int mdm_handle_device_config(struct http_req *r);
int mdm_handle_device_challenge(struct http_req *r);
int mdm_handle_device_recover(struct http_req *r);
int mdm_handle_device_key(struct http_req *r);

#endif
