/*
 * Calendar strings of channels and schedules: dates "YYYY-MM-DD" that
 * exist (no 2025-02-31) and times of day "HH:MM" from 00:00 to 24:00.
 * Digits only: " 9:30" or "+1:00" are refused. Shared by the server and the
 * CLI so both refuse the same things.
 */
#ifndef VITRINE_CALENDAR_H
#define VITRINE_CALENDAR_H

#include <stdbool.h>

bool calendar_valid_date(const char *s);

/* Minutes after midnight (0..1440) of "HH:MM", or -1. */
int calendar_minutes(const char *s);

#endif
