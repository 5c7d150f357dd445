/*
 * libFuzzer target: sync-group datagrams (src/player/group/wire.c), which
 * anyone on the LAN may send. A datagram decodes only with the group's tag
 * and a valid MAC; whatever decodes encodes back to the same bytes. And
 * from fields the input chooses: an encoded message decodes to the same
 * fields, and any one byte changed makes it refused.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "group/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t key[GROUP_KEY_SIZE], tag[GROUP_TAG_SIZE];
	static int ready;
	if (!ready) {
		if (sodium_init() < 0)
			abort();
		memset(key, 0x5a, sizeof key);
		group_wire_tag("fuzz-group", tag);
		ready = 1;
	}
	struct group_msg m, back;
	uint8_t out[GROUP_WIRE_SIZE];
	if (group_wire_decode(data, size, tag, key, &m)) {
		group_wire_encode(&m, key, out);
		if (memcmp(out, data, GROUP_WIRE_SIZE) != 0)
			abort();
	}
	if (size < 2 + 56)
		return 0;
	/* fields from the input */
	memset(&m, 0, sizeof m);
	m.type = (uint8_t)(1 + data[0] % 4);
	m.role = (uint8_t)(data[1] % 4);
	m.flags = data[2];
	memcpy(m.tag, tag, sizeof tag);
	memcpy(&m.sender, data + 3, 4);
	m.sender |= 1;
	memcpy(&m.leader, data + 7, 4);
	memcpy(&m.target, data + 11, 4);
	memcpy(&m.session, data + 15, 8);
	memcpy(&m.seq, data + 23, 8);
	memcpy(&m.t1, data + 31, 8);
	memcpy(&m.t2, data + 39, 8);
	memcpy(&m.t3, data + 47, 8);
	group_wire_encode(&m, key, out);
	if (!group_wire_decode(out, sizeof out, tag, key, &back) || memcmp(&m, &back, sizeof m) != 0)
		abort();
	size_t at = data[55] % GROUP_WIRE_SIZE;
	out[at] ^= (uint8_t)(data[size - 1] | 1);
	if (group_wire_decode(out, sizeof out, tag, key, &back))
		abort();
	return 0;
}
