/*
 * A publishing folder: DIR/channel.json (the channel body of the API, where
 * an item may say "file": "a.png", a path relative to DIR, instead of
 * "media": "<sha256>") and the files it names. chfile_load checks the
 * whole description with the server's rules (docs/PROTOCOL.md, "Channels")
 * before anything is sent, and reports every fault with its JSON path
 * ("zones[0].items[1].file: no such file a.png in DIR"), not just the first.
 * chfile_hash computes the SHA-256 of each file, streaming; then
 * chfile_server_body gives the body to send, with every "file" replaced by
 * its "media" hash.
 */
#ifndef VITRINE_CLI_CHFILE_H
#define VITRINE_CLI_CHFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHFILE_NAME       "channel.json"
#define CHFILE_MAX_ERRORS 20

/* A file named by items (once per distinct path). Strings owned. */
struct chfile_file {
	char *rel;       /* as written in channel.json */
	char *path;      /* DIR/rel */
	char *json_path; /* where it is first used: zones[0].items[1].file */
	uint64_t size;
	char sha256[65]; /* after chfile_hash */
};

/* An item that names a medium by "media": hash directly. */
struct chfile_media_ref {
	char sha256[65];
	char json_path[96];
};

struct chfile {
	json_t *doc;        /* channel.json as read, owned */
	json_t *errors;     /* array of "PATH: message" strings, owned */
	char problem[8192]; /* a fault of the folder or of the file as a whole */
	struct chfile_file *files;
	size_t nfiles;
	struct chfile_media_ref *media;
	size_t nmedia;
};

/* Reads and checks DIR/channel.json and the files it names. Returns 0 when
 * it is valid, -1 otherwise with cf->problem saying what is wrong with the
 * folder or file as a whole, or cf->errors listing the faults inside (up to
 * CHFILE_MAX_ERRORS). cf must be freed with chfile_free either way. */
int chfile_load(const char *dir, struct chfile *cf);

/* chfile_load with the text of channel.json given (tests, fuzzing): the
 * files it names are looked for in dir. */
int chfile_parse(const char *dir, const char *text, size_t len, struct chfile *cf);

/* Hashes every file (SHA-256, read in blocks). Returns 0, or -1 with the
 * reason in cf->errors. */
int chfile_hash(struct chfile *cf);

/* The channel body for the API (new reference): a copy of the document in
 * which each "file" member became "media" with the file's hash. */
json_t *chfile_server_body(const struct chfile *cf);

/* The file an item of the document names, or NULL. */
const struct chfile_file *chfile_find(const struct chfile *cf, const char *rel);

void chfile_free(struct chfile *cf);

#endif
