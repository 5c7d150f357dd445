/* The collect_logs archive; see logs_archive.h. */
#include "logs_archive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "actions.h"
#include "common/buf.h"
#include "common/strfmt.h"

/* One ustar member (header + data padded to 512 bytes) into tar. */
static int tar_add(struct buf *tar, const char *name, const char *data, size_t len)
{
	unsigned char h[512];
	memset(h, 0, sizeof h);
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)len);
	snprintf((char *)h + 136, 12, "%011llo", (unsigned long long)time(NULL));
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof h; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	static const char zeros[512];
	if (buf_add(tar, h, sizeof h) != BUF_OK || buf_add(tar, data, len) != BUF_OK ||
	    buf_add(tar, zeros, (512 - len % 512) % 512) != BUF_OK)
		return -1;
	return 0;
}

/* The newest at most max bytes of a file (malloc'd), or NULL if absent. */
static char *read_tail(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct stat sb;
	if (fstat(fileno(f), &sb) != 0) {
		fclose(f);
		return NULL;
	}
	size_t size = (size_t)sb.st_size, take = size < max ? size : max;
	char *data = malloc(take + 1);
	if (data && (fseek(f, (long)(size - take), SEEK_SET) != 0 || fread(data, 1, take, f) != take)) {
		free(data);
		data = NULL;
	}
	fclose(f);
	*len = take;
	return data;
}

static int gzip(const struct buf *in, char **out, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size_t cap = deflateBound(&z, in->len) + 64;
	char *dst = malloc(cap);
	if (!dst) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (unsigned char *)in->data;
	z.avail_in = (uInt)in->len;
	z.next_out = (unsigned char *)dst;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(dst);
		return -1;
	}
	*out = dst;
	return 0;
}

int logs_archive_build(const char *data_dir, const char *logs_command, json_t *inventory, size_t max_bytes, char **out,
                       size_t *out_len, char *err, size_t errsz)
{
	struct buf tar;
	buf_init(&tar, max_bytes + 64 * 1024);
	size_t budget = max_bytes;
	int rc = 0;
	/* the newest first: the current log, then the command's output, then the rotated log */
	char *inv = json_dumps(inventory, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (inv && strlen(inv) < budget) {
		rc |= tar_add(&tar, "logs/inventory.json", inv, strlen(inv));
		budget -= strlen(inv);
	}
	free(inv);
	const char *names[] = {"player.log", "player.log.1"};
	for (size_t i = 0; i < 2 && rc == 0; i++) {
		char path[1200], member[64];
		size_t len = 0;
		if (strfmt(path, sizeof path, "%s/logs/%s", data_dir, names[i]) != 0)
			continue;
		char *data = read_tail(path, budget / (i == 0 ? 2 : 1), &len);
		if (!data)
			continue;
		snprintf(member, sizeof member, "logs/%s", names[i]);
		rc |= tar_add(&tar, member, data, len);
		budget -= len;
		free(data);
		if (i == 0 && logs_command && *logs_command && budget > 1024) {
			struct action_output o;
			action_run(logs_command, -1, 20, budget / 2, &o);
			size_t keep = o.out_len < budget / 2 ? o.out_len : budget / 2;
			if (o.out && keep)
				rc |= tar_add(&tar, "logs/system.log", o.out + (o.out_len - keep), keep);
			budget -= keep;
			action_output_free(&o);
		}
	}
	static const char end[1024];
	if (rc != 0 || buf_add(&tar, end, sizeof end) != BUF_OK) {
		snprintf(err, errsz, "the logs do not fit in memory");
		buf_free(&tar);
		return -1;
	}
	rc = gzip(&tar, out, out_len);
	buf_free(&tar);
	if (rc != 0)
		snprintf(err, errsz, "the logs could not be compressed");
	return rc;
}
