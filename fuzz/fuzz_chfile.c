/*
 * libFuzzer target: the CLI's channel file parser (src/cli/chfile.c), the
 * channel.json of a publishing folder. The folder is a temporary one with
 * a.png and v.mp4. Whatever is accepted names only files that exist, each
 * once, and its server body has no "file" member left; whatever is refused
 * says why (a problem or at most CHFILE_MAX_ERRORS faults).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/chfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char folder[64];

static void remove_folder(void)
{
	const char *names[] = {"a.png", "v.mp4"};
	for (int i = 0; i < 2; i++) {
		char path[128];
		snprintf(path, sizeof path, "%s/%s", folder, names[i]);
		unlink(path);
	}
	rmdir(folder);
}

static void make_folder(void)
{
	snprintf(folder, sizeof folder, "/tmp/fuzz_chfile.XXXXXX");
	if (!mkdtemp(folder))
		abort();
	const char *names[] = {"a.png", "v.mp4"};
	for (int i = 0; i < 2; i++) {
		char path[128];
		snprintf(path, sizeof path, "%s/%s", folder, names[i]);
		FILE *f = fopen(path, "w");
		if (!f)
			abort();
		fputs("x", f);
		fclose(f);
	}
	atexit(remove_folder);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!folder[0])
		make_folder();
	struct chfile cf;
	int rc = chfile_parse(folder, (const char *)data, size, &cf);
	if (rc == 0) {
		if (cf.problem[0] || json_array_size(cf.errors) != 0)
			abort();
		for (size_t i = 0; i < cf.nfiles; i++) {
			if (strcmp(cf.files[i].rel, "a.png") != 0 && strcmp(cf.files[i].rel, "v.mp4") != 0)
				abort();
			for (size_t k = 0; k < i; k++)
				if (strcmp(cf.files[i].rel, cf.files[k].rel) == 0)
					abort();
		}
		if (chfile_hash(&cf) != 0)
			abort();
		json_t *body = chfile_server_body(&cf);
		size_t zi, ii;
		json_t *zone, *item;
		json_array_foreach (json_object_get(body, "zones"), zi, zone)
			json_array_foreach (json_object_get(zone, "items"), ii, item)
				if (json_object_get(item, "file"))
					abort();
		json_decref(body);
	} else if (!cf.problem[0] &&
	           (json_array_size(cf.errors) < 1 || json_array_size(cf.errors) > CHFILE_MAX_ERRORS)) {
		abort();
	}
	chfile_free(&cf);
	return 0;
}
