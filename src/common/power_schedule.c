/* Display power schedules; see power_schedule.h. */
#include "power_schedule.h"

#include <stdio.h>
#include <string.h>

/* "HH:MM" (00:00-23:59) to a minute of the day, or -1. */
static int parse_hhmm(json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	return h < 24 && m < 60 ? h * 60 + m : -1;
}

/* The weekdays of a period as bits 1-7, or -1 when "days" is malformed. */
static int day_bits(json_t *period)
{
	json_t *days = json_object_get(period, "days");
	if (!days)
		return 0xfe;
	if (!json_is_array(days) || json_array_size(days) == 0 || json_array_size(days) > 7)
		return -1;
	int bits = 0;
	size_t i;
	json_t *d;
	json_array_foreach (days, i, d) {
		json_int_t n = json_is_integer(d) ? json_integer_value(d) : 0;
		if (n < 1 || n > 7 || (bits & (1 << n)))
			return -1;
		bits |= 1 << n;
	}
	return bits;
}

const char *power_schedule_check(json_t *schedule, char *err, size_t errsz)
{
	if (!json_is_array(schedule) || json_array_size(schedule) > POWER_SCHEDULE_MAX_PERIODS) {
		snprintf(err, errsz, "the power schedule must be a list of at most %d periods",
		         POWER_SCHEDULE_MAX_PERIODS);
		return err;
	}
	size_t i;
	json_t *p;
	json_array_foreach (schedule, i, p) {
		const char *key;
		json_t *v;
		if (!json_is_object(p)) {
			snprintf(err, errsz, "period %zu must be an object {days, on, off}", i);
			return err;
		}
		json_object_foreach (p, key, v)
			if (strcmp(key, "days") != 0 && strcmp(key, "on") != 0 && strcmp(key, "off") != 0) {
				snprintf(err, errsz, "period %zu: unknown field \"%.32s\" (days, on, off)", i, key);
				return err;
			}
		int on = parse_hhmm(json_object_get(p, "on")), off = parse_hhmm(json_object_get(p, "off"));
		if (on < 0 || off < 0) {
			snprintf(err, errsz, "period %zu: on and off must be times \"HH:MM\" (00:00 to 23:59)", i);
			return err;
		}
		if (on == off) {
			snprintf(err, errsz, "period %zu: on and off are the same time", i);
			return err;
		}
		if (day_bits(p) < 0) {
			snprintf(err, errsz, "period %zu: days must be a list of different weekdays 1-7 (1 = Monday)",
			         i);
			return err;
		}
	}
	return NULL;
}

bool power_schedule_on(json_t *schedule, int weekday, int minute)
{
	char err[160];
	if (power_schedule_check(schedule, err, sizeof err) || json_array_size(schedule) == 0)
		return true;
	int yesterday = weekday == 1 ? 7 : weekday - 1;
	size_t i;
	json_t *p;
	json_array_foreach (schedule, i, p) {
		int on = parse_hhmm(json_object_get(p, "on")), off = parse_hhmm(json_object_get(p, "off"));
		int days = day_bits(p);
		if (on < off) {
			if ((days & (1 << weekday)) && minute >= on && minute < off)
				return true;
		} else { /* past midnight: from on today, or until off after yesterday's on */
			if ((days & (1 << weekday)) && minute >= on)
				return true;
			if ((days & (1 << yesterday)) && minute < off)
				return true;
		}
	}
	return false;
}
