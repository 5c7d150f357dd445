/*
 * Time limits on the monotonic clock, for code that waits with poll():
 * the time now in milliseconds, and what is left of a deadline in the form
 * poll() takes. The remote-control client (dial, relay_client, ws_client,
 * tunnel) counts all its time limits with these.
 */
#ifndef VITRINE_MONOTONIC_H
#define VITRINE_MONOTONIC_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t monotonic_ms(void);

/* Milliseconds left until deadline (a monotonic_ms value), for poll():
 * 0 once it has passed, INT32_MAX at most; INT64_MAX (no deadline) is -1,
 * poll's "no limit". */
int monotonic_left_ms(int64_t deadline);

#endif
