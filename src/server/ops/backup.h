/*
 * `vitrine-server backup DEST` and `vitrine-server restore SRC`: a
 * consistent online backup of a data folder (its database, the files the
 * database links, its keys) into a new folder, and its restore into an
 * empty one. See backup.c for how the copy stays consistent while a server
 * keeps serving the folder, and docs/ARCHITECTURE.md "Backup and restore".
 */
#ifndef VITRINE_OPS_BACKUP_H
#define VITRINE_OPS_BACKUP_H

#include <stdbool.h>

/* The marker file of a restore under way (DIR/restore.incomplete): the
 * server refuses to start on a folder that has it. */
#define BACKUP_RESTORE_MARKER "restore.incomplete"

/* Backs the data folder up into dest (absent, or an empty folder). db_url
 * is the --db setting ("sqlite:" or a postgresql:// URI); version goes into
 * the manifest. Returns the exit status: 0, 1 (failed: dest removed again)
 * or 2 (a usage error: nothing was written). */
int backup_run(const char *data, const char *db_url, const char *dest, const char *version);

/* Restores the backup src into the data folder data (absent or empty), and
 * for PostgreSQL into the empty database db_url. Returns 0, 1 or 2 as
 * backup_run; nothing is written before every file's hash is checked. */
int backup_restore(const char *data, const char *db_url, const char *src);

/* True when data holds the marker of a restore that did not finish. */
bool backup_restore_unfinished(const char *data);

#endif
