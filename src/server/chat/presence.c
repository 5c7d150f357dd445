/*
 * Operator presence, in memory: how many chat streams each operator holds
 * open, and when one was last open (or the operator last acted). An
 * operator is "here" while a stream is open and for CHAT_PRESENCE_GRACE_S
 * after the last one closed, so a connection that drops for a few seconds
 * changes nothing, while one gone for good ends the presence (the sweeper
 * then requeues the operator's chats). Kept in memory because the streams
 * only read the store; a restart forgets it, and every operator starts
 * with the grace (their streams reconnect within seconds). The grace can
 * be shortened with the environment variable VITRINE_CHAT_PRESENCE_GRACE_S
 * (1 to 3600 seconds; the tests use a few seconds).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../http/wake.h"
#include "chat.h"

struct presence {
	char user_id[CODES_ID_LEN + 1];
	unsigned open;
	int64_t last_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct presence *list;
static size_t count, cap;
static int64_t started_ms;

static int64_t grace_ms(void)
{
	static int64_t grace;
	if (!grace) {
		const char *env = getenv("VITRINE_CHAT_PRESENCE_GRACE_S");
		long v = env ? strtol(env, NULL, 10) : 0;
		grace = (v >= 1 && v <= 3600 ? v : CHAT_PRESENCE_GRACE_S) * 1000;
	}
	return grace;
}

static struct presence *find(const char *user_id, bool add)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(list[i].user_id, user_id) == 0)
			return &list[i];
	if (!add || strlen(user_id) > CODES_ID_LEN)
		return NULL;
	if (count == cap) {
		size_t ncap = cap ? cap * 2 : 64;
		struct presence *n = realloc(list, ncap * sizeof *n);
		if (!n)
			return NULL;
		list = n;
		cap = ncap;
	}
	struct presence *p = &list[count++];
	memset(p, 0, sizeof *p);
	strcpy(p->user_id, user_id);
	return p;
}

static void touch(const char *user_id, int delta)
{
	pthread_mutex_lock(&lock);
	struct presence *p = find(user_id, true);
	if (p) {
		if (delta > 0)
			p->open++;
		else if (delta < 0 && p->open > 0)
			p->open--;
		p->last_ms = (int64_t)wake_now_ms();
	}
	pthread_mutex_unlock(&lock);
}

void chat_presence_open(const char *user_id)
{
	touch(user_id, 1);
}

void chat_presence_close(const char *user_id)
{
	touch(user_id, -1);
}

void chat_presence_touch(const char *user_id)
{
	touch(user_id, 0);
}

bool chat_presence_here(const char *user_id, int64_t now_ms)
{
	pthread_mutex_lock(&lock);
	if (!started_ms)
		started_ms = now_ms;
	struct presence *p = find(user_id, false);
	int64_t last = p ? p->last_ms : started_ms;
	bool here = (p && p->open > 0) || now_ms - last <= grace_ms();
	pthread_mutex_unlock(&lock);
	return here;
}
