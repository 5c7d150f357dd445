/*
 * Encoding and checking of sync-group messages (wire.h). Layout, all
 * integers big-endian:
 *
 *    0  4  magic "VSG1"          36  4  zero
 *    4  1  type                  40  8  session
 *    5  1  role                  48  8  seq
 *    6  1  flags                 56  8  t1
 *    7  1  zero                  64  8  t2
 *    8 16  group tag             72  8  t3
 *   24  4  sender                80 16  MAC: BLAKE2b-128 of bytes 0-79,
 *   28  4  leader                       keyed with the group's 32-byte key
 *   32  4  target
 */
#include "wire.h"

#include <sodium.h>
#include <string.h>

#define MAC_AT 80

static const uint8_t magic[4] = {'V', 'S', 'G', '1'};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void group_wire_tag(const char *group_id, uint8_t tag[GROUP_TAG_SIZE])
{
	crypto_generichash(tag, GROUP_TAG_SIZE, (const unsigned char *)group_id, strlen(group_id), NULL, 0);
}

static void mac(const uint8_t *msg, const uint8_t key[GROUP_KEY_SIZE], uint8_t out[16])
{
	crypto_generichash(out, 16, msg, MAC_AT, key, GROUP_KEY_SIZE);
}

void group_wire_encode(const struct group_msg *m, const uint8_t key[GROUP_KEY_SIZE], uint8_t out[GROUP_WIRE_SIZE])
{
	memset(out, 0, GROUP_WIRE_SIZE);
	memcpy(out, magic, 4);
	out[4] = m->type;
	out[5] = m->role;
	out[6] = m->flags;
	memcpy(out + 8, m->tag, GROUP_TAG_SIZE);
	put32(out + 24, m->sender);
	put32(out + 28, m->leader);
	put32(out + 32, m->target);
	put64(out + 40, m->session);
	put64(out + 48, m->seq);
	put64(out + 56, (uint64_t)m->t1);
	put64(out + 64, (uint64_t)m->t2);
	put64(out + 72, (uint64_t)m->t3);
	mac(out, key, out + MAC_AT);
}

bool group_wire_decode(const uint8_t *data, size_t len, const uint8_t tag[GROUP_TAG_SIZE],
                       const uint8_t key[GROUP_KEY_SIZE], struct group_msg *m)
{
	if (len != GROUP_WIRE_SIZE || memcmp(data, magic, 4) != 0 || memcmp(data + 8, tag, GROUP_TAG_SIZE) != 0)
		return false;
	uint8_t want[16];
	mac(data, key, want);
	if (crypto_verify_16(want, data + MAC_AT) != 0)
		return false;
	if (data[7] || get32(data + 36))
		return false; /* a later version's message: not ours to read */
	memset(m, 0, sizeof *m);
	m->type = data[4];
	m->role = data[5];
	m->flags = data[6];
	if (m->type < GROUP_HELLO || m->type > GROUP_DELAY_RESP || m->role > GROUP_LEADER)
		return false;
	memcpy(m->tag, data + 8, GROUP_TAG_SIZE);
	m->sender = get32(data + 24);
	m->leader = get32(data + 28);
	m->target = get32(data + 32);
	m->session = get64(data + 40);
	m->seq = get64(data + 48);
	m->t1 = (int64_t)get64(data + 56);
	m->t2 = (int64_t)get64(data + 64);
	m->t3 = (int64_t)get64(data + 72);
	return m->sender != 0;
}
