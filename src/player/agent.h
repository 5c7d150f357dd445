/*
 * The player agent: pairs the screen, keeps one long-poll open for
 * instructions and carries them out, sends heartbeats, delivers
 * acknowledgements, screenshots and proof of play, and runs content sync.
 * Every request goes through the transport (transport.h), which backs off
 * exponentially (with jitter) while the server cannot be reached and waits
 * as long as the server asks with Retry-After. Every connection is opened
 * by the player: nothing listens on the network.
 */
#ifndef VITRINE_PLAYER_AGENT_H
#define VITRINE_PLAYER_AGENT_H

#include <signal.h>

#include "config.h"

struct player_state;
struct kiosk;

extern volatile sig_atomic_t agent_stop;

/* Runs until agent_stop is set (SIGTERM). Returns the exit status. */
int agent_run(const struct player_config *cfg, struct player_state *st, struct kiosk *kiosk);

#endif
