/*
 * The login challenge of vitrine-server (docs/PROTOCOL.md, "Login
 * challenge"): after repeated failed logins the server asks for a proof of
 * work, a string S such that SHA-256(challenge ":" S) starts with
 * `difficulty` zero bits. Like the console, the CLI tries the decimal
 * counters 0, 1, 2, ...; the expected work is 2^difficulty hashes.
 */
#ifndef VITRINE_CLI_POW_H
#define VITRINE_CLI_POW_H

#include <stdbool.h>
#include <stddef.h>

#define POW_MAX_DIFFICULTY 32 /* the server asks at most 22; more is refused as absurd */

/* Finds a solution (decimal counter) into out[24]. Returns 0, or -1 when
 * difficulty is above POW_MAX_DIFFICULTY or no counter below 2^(d+8)
 * works (practically impossible). */
int pow_solve(const char *challenge, unsigned difficulty, char out[24]);

#endif
