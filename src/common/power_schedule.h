/*
 * Display power schedules: when a screen's display is on, in the player's
 * local time. A schedule is a JSON array of periods
 *   [{"days":[1,2,3,4,5],"on":"07:30","off":"19:00"}, ...]
 * (days: ISO weekdays, 1 = Monday; all seven when absent). The display is
 * on during any period and off outside them; a period whose "off" is
 * earlier than its "on" runs past midnight into the next day. The empty
 * schedule [] means always on. The server checks schedules with
 * power_schedule_check; the player decides with power_schedule_on.
 */
#ifndef VITRINE_POWER_SCHEDULE_H
#define VITRINE_POWER_SCHEDULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define POWER_SCHEDULE_MAX_PERIODS 28

/* NULL when schedule is valid, else a sentence naming the bad part
 * (written into err). */
const char *power_schedule_check(json_t *schedule, char *err, size_t errsz);

/* Whether the display should be on at the local time given as ISO weekday
 * (1-7) and minute of the day (0-1439). A schedule that does not pass the
 * check counts as always on (a damaged schedule never darkens a screen). */
bool power_schedule_on(json_t *schedule, int weekday, int minute);

#endif
