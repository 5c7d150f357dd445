/*
 * Small helpers shared by the unit tests: a private temporary folder that
 * is removed afterwards, and a monotonic clock. Header-only so every test
 * stays one executable built from one file.
 */
#ifndef VITRINE_TESTUTIL_H
#define VITRINE_TESTUTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Creates a fresh folder under $TMPDIR (or /tmp) into out. Returns 0 or -1. */
static inline int test_tmpdir(char *out, size_t outsz)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	int n = snprintf(out, outsz, "%s/vitrine-unit-XXXXXX", base);
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return mkdtemp(out) ? 0 : -1;
}

static inline int test_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes a folder made by test_tmpdir and everything in it. */
static inline void test_rmtree(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline uint64_t test_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
