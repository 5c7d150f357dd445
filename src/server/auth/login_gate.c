/*
 * Admission to password hashing. Every login costs an argon2id run (about
 * 0.1 s and 64 MiB on the shared work pool), so an attacker who rotates
 * addresses could fill the pool with free attempts and keep the real
 * admin out. The gate bounds what logins may hold at once:
 *   - the general lane (unknown clients) has LOGIN_GATE_GENERAL places, of
 *     which one address (IPv4 /32, IPv6 /64) holds at most
 *     LOGIN_GATE_PER_ADDRESS and one network (IPv4 /24, IPv6 /48) at most
 *     LOGIN_GATE_PER_PREFIX: fair shares, nobody takes the whole lane
 *     for free (a login that answered a proof-of-work challenge may go
 *     over its share, never over the lane);
 *   - once LOGIN_GATE_POW_FROM places are taken, an unknown client must
 *     first answer a proof-of-work challenge (login_gate_busy());
 *   - a known client (a valid device cookie from an earlier good login of
 *     that user, known_client.c) has a reserved lane of LOGIN_GATE_KNOWN
 *     places that no flood can take, and falls back to the general lane
 *     when its own is full.
 * The lanes together stay far below the work pool's queue, so an admitted
 * login is never refused by the pool and waits behind few others.
 */
#include <pthread.h>
#include <string.h>

#include "../../common/cidr.h"
#include "auth.h"

#define KEY_LEN 9 /* up to 8 address bytes and a tag for the family */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool used;
	uint8_t address[KEY_LEN], prefix[KEY_LEN];
} general[LOGIN_GATE_GENERAL];
static unsigned general_used, known_used;

/* The address and network keys of ip: IPv4 /32 and /24, IPv6 /64 and /48
 * (one IPv6 subscriber usually has a whole /64). An unparsable address
 * shares one key with all others like it. */
static void keys_of(const char *ip, uint8_t address[KEY_LEN], uint8_t prefix[KEY_LEN])
{
	struct cidr a;
	memset(address, 0, KEY_LEN);
	memset(prefix, 0, KEY_LEN);
	if (cidr_parse_addr(ip, &a) != 0)
		return;
	size_t alen = a.v6 ? 8 : 4, plen = a.v6 ? 6 : 3;
	/* a tag byte keeps IPv4 and IPv6 keys apart */
	address[KEY_LEN - 1] = prefix[KEY_LEN - 1] = a.v6 ? 6 : 4;
	memcpy(address, a.addr, alen);
	memcpy(prefix, a.addr, plen);
}

bool login_gate_busy(void)
{
	pthread_mutex_lock(&lock);
	bool busy = general_used >= LOGIN_GATE_POW_FROM;
	pthread_mutex_unlock(&lock);
	return busy;
}

enum login_gate_verdict login_gate_enter(const char *ip, bool known, bool proved_work, struct login_ticket *t)
{
	t->lane = LOGIN_LANE_NONE;
	t->slot = 0;
	uint8_t address[KEY_LEN], prefix[KEY_LEN];
	keys_of(ip, address, prefix);
	pthread_mutex_lock(&lock);
	if (known && known_used < LOGIN_GATE_KNOWN) {
		known_used++;
		t->lane = LOGIN_LANE_KNOWN;
		pthread_mutex_unlock(&lock);
		return LOGIN_GATE_ADMITTED;
	}
	unsigned same_address = 0, same_prefix = 0, free_slot = LOGIN_GATE_GENERAL;
	for (unsigned i = 0; i < LOGIN_GATE_GENERAL; i++) {
		if (!general[i].used) {
			if (free_slot == LOGIN_GATE_GENERAL)
				free_slot = i;
			continue;
		}
		same_address += memcmp(general[i].address, address, KEY_LEN) == 0;
		same_prefix += memcmp(general[i].prefix, prefix, KEY_LEN) == 0;
	}
	enum login_gate_verdict v = LOGIN_GATE_ADMITTED;
	if (free_slot == LOGIN_GATE_GENERAL)
		v = LOGIN_GATE_FULL;
	else if (!proved_work && (same_address >= LOGIN_GATE_PER_ADDRESS || same_prefix >= LOGIN_GATE_PER_PREFIX))
		v = LOGIN_GATE_SHARE_USED;
	if (v == LOGIN_GATE_ADMITTED) {
		general[free_slot].used = true;
		memcpy(general[free_slot].address, address, KEY_LEN);
		memcpy(general[free_slot].prefix, prefix, KEY_LEN);
		general_used++;
		t->lane = LOGIN_LANE_GENERAL;
		t->slot = free_slot;
	}
	pthread_mutex_unlock(&lock);
	return v;
}

void login_gate_leave(struct login_ticket *t)
{
	pthread_mutex_lock(&lock);
	if (t->lane == LOGIN_LANE_KNOWN && known_used > 0)
		known_used--;
	else if (t->lane == LOGIN_LANE_GENERAL && t->slot < LOGIN_GATE_GENERAL && general[t->slot].used) {
		general[t->slot].used = false;
		general_used--;
	}
	t->lane = LOGIN_LANE_NONE;
	pthread_mutex_unlock(&lock);
}
