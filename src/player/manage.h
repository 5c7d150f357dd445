/*
 * Device management on the player (SPEC section 7): it reports the
 * inventory (inventory.h) when it starts and when it changes, carries out
 * collect_logs (uploads a bounded archive, logs_archive.h), display_power
 * and power_schedule (the display switched by the configured commands at
 * the schedule's times, kept in DATA/power.json), and is the watchdog's
 * second half: what state.c found damaged at start and could not rebuild
 * is restored from the server — a new token for a proof of the pairing
 * key (also when the server answers 401 to a token that went bad), a new
 * key registered, the configuration and last instruction done fetched.
 *
 * It uses the agent's transport and timers; the agent hands it the
 * instructions it owns and hears back through manage_ops.
 */
#ifndef VITRINE_PLAYER_MANAGE_H
#define VITRINE_PLAYER_MANAGE_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"

struct transport;
struct player_state;
struct manage;

struct manage_ops {
	/* an instruction's result, for its acknowledgement (result stolen) */
	void (*acknowledge)(void *arg, const char *id, bool ok, json_t *result);
	/* recovery ended: the token is saved (ok), or the screen must pair */
	void (*recovered)(void *arg, bool ok);
};

struct manage *manage_create(struct transport *t, const struct player_config *cfg, struct player_state *st,
                             const struct manage_ops *ops, void *arg);
void manage_destroy(struct manage *m);

/* The screen is paired (at start, after pairing or recovery): reports and
 * restores what is due. */
void manage_paired(struct manage *m);

/* True when the token may be recovered with the pairing key (at most once
 * a minute); starts it. */
bool manage_recover(struct manage *m);

/* Carries out type when it is one of this module's (true), else false. */
bool manage_execute(struct manage *m, const char *id, const char *type, json_t *payload);

/* Adds display_power and the watchdog's findings to a heartbeat body. */
void manage_heartbeat(struct manage *m, json_t *body);

#endif
