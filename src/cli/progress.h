/*
 * The upload progress bar of `vitrine publish` on a terminal: one line,
 * redrawn at most ten times a second, with the file, a bar, the percentage,
 * bytes sent of the total, the rate and the time left:
 *
 *   [1/2] lobby.mp4  [##########..........]  52%  5.2 MiB/10 MiB  1.1 MiB/s  ETA 0:04
 *
 * It fits the terminal's width (the bar shrinks, then the name).
 */
#ifndef VITRINE_CLI_PROGRESS_H
#define VITRINE_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct progress {
	FILE *out;
	char label[256];
	uint64_t total, done;
	double start, last_draw;
	unsigned index, count;
};

/* Starts a bar for one file (index of count) and draws it at 0%. */
void progress_begin(struct progress *p, FILE *out, const char *label, uint64_t total, unsigned index, unsigned count);

/* Records bytes sent; redraws when 100 ms passed since the last drawing. */
void progress_update(struct progress *p, uint64_t done);

/* Erases the bar (the caller prints the outcome on the same line). */
void progress_end(struct progress *p);

/* Seconds since the bar began. */
double progress_elapsed(const struct progress *p);

/* Monotonic clock in seconds. */
double progress_now(void);

#endif
