/*
 * The player's content cache on disk: the active manifest (manifest.json,
 * with a second copy manifest.backup.json) and the objects it names
 * (objects/<sha256>, partial downloads objects/<sha256>.part beside them).
 * It checks what it reads: a manifest is used only when its shape is
 * right, an object only when its bytes hash to its name. Used by content
 * sync (which fills it) and by the kiosk page server (which serves it).
 */
#ifndef VITRINE_PLAYER_CACHE_H
#define VITRINE_PLAYER_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 of a file as hex, and its size; -1 if unreadable. */
int cache_hash_file(const char *path, char out[65], int64_t *size);
/* The same for an open file, read from its start (the offset is kept). */
int cache_hash_fd(int fd, char out[65], int64_t *size);

/* dir/<sha><suffix>; -1 if it does not fit. */
int cache_object_path(const char *objects_dir, const char *sha, const char *suffix, char *out, size_t outsz);

/* Is the object present, of this size and intact? A damaged one is logged
 * and deleted. */
bool cache_object_ok(const char *objects_dir, const char *sha, int64_t size);

/* Bytes the cache's file system still gives us (statvfs), or -1. */
int64_t cache_free_bytes(const char *dir);

/* Size of a partial download (0 if none). */
int64_t cache_part_size(const char *objects_dir, const char *sha);

/* Deletes every file of the folder but the objects `keep` lists and the
 * partial downloads `parts` lists (either may be NULL). */
void cache_collect(const char *objects_dir, json_t *keep, json_t *parts);

/* NULL if the manifest has the shape a player can use ({version, objects:
 * [{sha256, size}]}), else a sentence. */
const char *cache_manifest_problem(const json_t *m);

/* The manifest kept in dir: manifest.json, or its backup when that one is
 * damaged (the good copy is then written back). NULL if neither is usable.
 * Caller owns the result. */
json_t *cache_manifest_load(const char *dir);
/* Writes text as manifest.json and its backup, each atomically. 0 or -1. */
int cache_manifest_save(const char *dir, const char *text, size_t len);

#endif
