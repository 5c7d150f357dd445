/*
 * `vitrine-player --diagnose`: checks, one by one, what the player needs
 * from the network (DNS, TCP, TLS, clock, the long-poll round trip, relay
 * reachability) and prints for every failure what a network administrator
 * must allow. Exit status 0 when everything passed, 1 otherwise.
 */
#ifndef VITRINE_PLAYER_DIAGNOSE_H
#define VITRINE_PLAYER_DIAGNOSE_H

struct player_config;
struct player_state;

int diagnose_run(const struct player_config *cfg, const struct player_state *st);

#endif
