/*
 * What the player does on the screen's machine for an instruction: run a
 * configured command (reboot, volume, brightness, screenshot capture) with
 * a time limit. Commands come from the player's configuration, never from
 * the server; the only value substituted into them is a validated integer
 * ({level}, 0-100).
 */
#ifndef VITRINE_PLAYER_ACTIONS_H
#define VITRINE_PLAYER_ACTIONS_H

#include <stddef.h>

struct action_output {
	int exit_status; /* -1: could not run or timed out */
	char *out;       /* stdout (malloc'd, may hold binary data) */
	size_t out_len;
	char err[256]; /* the end of stderr, or why it could not run */
};

/* Runs `/bin/sh -c command` with {level} replaced by level (when >= 0);
 * keeps at most max_out bytes of stdout. */
int action_run(const char *command, int level, unsigned timeout_s, size_t max_out, struct action_output *res);
/* Runs argv[0] (looked up in PATH) with argv, without a shell: for
 * commands of the player's own making whose arguments are paths. */
int action_run_argv(const char *const argv[], unsigned timeout_s, size_t max_out, struct action_output *res);
void action_output_free(struct action_output *res);

#endif
