/*
 * The CLI's stored logins: one file, `credentials` in the config folder
 * ($XDG_CONFIG_HOME/vitrine, default ~/.config/vitrine, or --config-dir),
 * holding a user API token per server and which server is the default:
 *
 *   {"default": "https://signage.example",
 *    "servers": {"https://signage.example":
 *                {"token": "vt_...", "token_id": "...", "login": "alice", "ca": "/path/ca.pem"}}}
 *
 * The folder is created 0700 and the file 0600; the file is replaced
 * atomically (temporary file, fsync, rename), so a crash leaves the old or
 * the new one, never half of either.
 */
#ifndef VITRINE_CLI_CREDENTIALS_H
#define VITRINE_CLI_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#define CREDENTIALS_FILE "credentials"

/* One server's entry. Every string is owned (credentials_free). */
struct credentials {
	char *server;   /* normalized URL */
	char *token;    /* the user API token (secret) */
	char *token_id; /* its id, to revoke it at logout */
	char *login;
	char *ca; /* absolute path of the CA file given at login, or NULL */
};

/* The config folder: dir_opt when given, else $XDG_CONFIG_HOME/vitrine,
 * else $HOME/.config/vitrine. Returns 0, or -1 when none can be found. */
int credentials_dir(const char *dir_opt, char *out, size_t outsz);

/* Loads the entry of server (NULL: the default server's). Returns 1 when
 * found, 0 when there is no file or no such entry, -1 when the file cannot
 * be read or parsed (err says why). */
int credentials_load(const char *dir, const char *server, struct credentials *out, char *err, size_t errsz);

/* Adds or replaces c's entry and makes its server the default. Creates the
 * folder (0700) when missing. Returns 0 or -1 (err says why). */
int credentials_save(const char *dir, const struct credentials *c, bool fix_dir_mode, char *err, size_t errsz);

/* Removes server's entry; deletes the file when no entry is left. Returns
 * 0 or -1 (err says why). */
int credentials_remove(const char *dir, const char *server, char *err, size_t errsz);

/* Wipes the token and frees every string. */
void credentials_free(struct credentials *c);

/* mkdir -p of dir with mode 0700 for every folder it creates (the CLI's
 * config folder). Returns 0 or -1 (errno set). */
int credentials_make_dirs(const char *dir);

#endif
