/*
 * `vitrine login` and `vitrine logout`. Login is the console's flow
 * (docs/PROTOCOL.md, "Session cookie and CSRF"): POST /api/v1/session with
 * the password, answering a proof-of-work challenge (429) and asking for
 * the authenticator code (401 totp_required) when the server wants them;
 * then, with the session's cookie and X-CSRF-Token, POST /api/v1/tokens
 * creates a user API token for this computer, the session is closed, and
 * the token is stored (credentials.c). The password lives only in a local
 * buffer that is wiped after the last request. Logout revokes the token
 * (DELETE /api/v1/tokens/{id}) and forgets it.
 */
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/strfmt.h"
#include "pow.h"
#include "prompt.h"

#define PASSWORD_MAX 1024
#define MAX_ROUNDS   8 /* challenge and code questions before giving up */

enum { OPT_USER = CLI_OPT_FIRST_COMMAND, OPT_PASSWORD_STDIN, OPT_TOTP };

static bool is_loopback_url(const char *url)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost", 9) == 0 || strncmp(host, "[::1]", 5) == 0;
}

static int ask(const char *prompt, bool secret, char *out, size_t outsz, const char *what_if_no_tty)
{
	switch (prompt_tty(prompt, secret, out, outsz)) {
	case PROMPT_OK:
		return CLI_OK;
	case PROMPT_NO_TTY:
		cli_error("%s", what_if_no_tty);
		return CLI_USAGE;
	case PROMPT_TOO_LONG:
		cli_error("that is too long");
		return CLI_USAGE;
	case PROMPT_EOF:
		break;
	}
	cli_error("login cancelled");
	return CLI_FAILED;
}

/* POST /api/v1/session until it succeeds; the session cookie stays in the
 * curl handle and the CSRF token goes to cli->api.csrf. */
static int open_session(struct cli *cli, const char *login, const char *password, char *totp, size_t totpsz)
{
	int rc = CLI_FAILED;
	char challenge[512] = "", solution[24] = "";
	unsigned challenges = 0;
	for (int round = 0; round < MAX_ROUNDS; round++) {
		struct api_resp resp;
		json_t *body = json_pack("{s:s, s:s}", "login", login, "password", password);
		if (!body) {
			cli_error("out of memory");
			return CLI_FAILED;
		}
		if (*totp)
			json_object_set_new(body, "totp", json_string(totp));
		if (*challenge) {
			json_object_set_new(body, "challenge", json_string(challenge));
			json_object_set_new(body, "solution", json_string(solution));
		}
		int sent = api_call(&cli->api, "POST", "/api/v1/session", body, API_DEFAULT_TIMEOUT_S, &resp);
		json_decref(body);
		challenge[0] = '\0';
		const char *code = api_error_code(&resp);
		char msg[512];
		cli_printable(api_error_message(&resp), msg, sizeof msg);
		if (sent != 0) {
			rc = cli_fail(cli, &resp, "login");
		} else if (resp.status == 200) {
			const char *csrf = json_string_value(json_object_get(resp.json, "csrf_token"));
			if (csrf && strlen(csrf) < sizeof cli->api.csrf) {
				snprintf(cli->api.csrf, sizeof cli->api.csrf, "%s", csrf);
				rc = CLI_OK;
			} else {
				cli_error("login: the server's answer has no csrf_token");
			}
		} else if (resp.status == 429 && code && strcmp(code, "challenge_required") == 0) {
			json_t *ch = json_object_get(json_object_get(resp.json, "error"), "challenge");
			const char *text = json_string_value(json_object_get(ch, "challenge"));
			json_int_t difficulty = json_integer_value(json_object_get(ch, "difficulty"));
			if (!text || strlen(text) >= sizeof challenge || difficulty < 1 ||
			    difficulty > POW_MAX_DIFFICULTY || ++challenges > 3) {
				cli_error("login: %s; the challenge could not be answered", msg);
				rc = CLI_AUTH;
			} else {
				cli_note(cli, "%s: solving the server's proof-of-work challenge (difficulty %d)...",
				         msg, (int)difficulty);
				if (pow_solve(text, (unsigned)difficulty, solution) != 0) {
					cli_error("login: no solution found for the challenge");
				} else {
					snprintf(challenge, sizeof challenge, "%s", text);
					api_resp_free(&resp);
					continue;
				}
			}
		} else if (resp.status == 401 && code && strcmp(code, "totp_required") == 0 && !*totp) {
			api_resp_free(&resp);
			rc = ask("Authenticator code: ", false, totp, totpsz,
			         "this account needs the code of its authenticator app: pass --totp CODE");
			if (rc != CLI_OK)
				return rc;
			rc = CLI_FAILED;
			continue;
		} else if (resp.status == 401 || resp.status == 403 || resp.status == 429) {
			if (code && strcmp(code, "invalid_credentials") == 0)
				cli_error("login failed: wrong login or password");
			else if (code && strcmp(code, "invalid_totp") == 0)
				cli_error("login failed: wrong or already used authenticator code");
			else
				cli_error("login failed: %s", msg[0] ? msg : "the server refused it");
			rc = CLI_AUTH;
		} else {
			rc = cli_fail(cli, &resp, "login");
		}
		api_resp_free(&resp);
		return rc;
	}
	cli_error("login failed: the server kept asking for more (challenges or codes)");
	return CLI_AUTH;
}

static void token_name(char *out, size_t outsz)
{
	char host[HOST_NAME_MAX + 1] = "";
	if (gethostname(host, sizeof host) != 0 || !host[0])
		snprintf(host, sizeof host, "unknown host");
	host[sizeof host - 1] = '\0';
	char clean[HOST_NAME_MAX + 1];
	cli_printable(host, clean, sizeof clean);
	snprintf(out, outsz, "vitrine CLI on %.100s", clean);
}

int cmd_login(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"user", required_argument, NULL, OPT_USER},
	                                     {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
	                                     {"totp", required_argument, NULL, OPT_TOTP},
	                                     {NULL, 0, NULL, 0}};
	const char *user_opt = NULL, *totp_opt = NULL;
	bool password_stdin = false;
	int c, rc = CLI_FAILED;
	char server[1024], login[256] = "", password[PASSWORD_MAX + 1] = "", totp[16] = "", err[512] = "";
	char ca_abs[PATH_MAX] = "";
	struct credentials previous = {0}, fresh = {0};
	struct api_resp resp = {0};
	json_t *body = NULL;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_USER)
			user_opt = optarg;
		else if (c == OPT_PASSWORD_STDIN)
			password_stdin = true;
		else if (c == OPT_TOTP)
			totp_opt = optarg;
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
	if (totp_opt && (strlen(totp_opt) != 6 || strspn(totp_opt, "0123456789") != 6))
		return cli_usage_error(cli, "--totp needs the 6-digit code of the authenticator app");
	if (user_opt && (!*user_opt || strlen(user_opt) >= sizeof login))
		return cli_usage_error(cli, "--user needs a login name of 1 to %zu bytes", sizeof login - 1);

	/* which server: --server, else the stored default */
	if (credentials_dir(cli->config_dir_opt, cli->config_dir, sizeof cli->config_dir) != 0) {
		cli_error("no folder for the credentials: set HOME or XDG_CONFIG_HOME, or pass --config-dir DIR");
		return CLI_USAGE;
	}
	if (cli->server_opt) {
		if (api_normalize_url(cli->server_opt, server, sizeof server) != 0)
			return cli_usage_error(cli, "--server must be an http:// or https:// URL, not \"%s\"",
			                       cli->server_opt);
		if (credentials_load(cli->config_dir, server, &previous, err, sizeof err) < 0)
			cli_note(cli, "vitrine: %s (it will be replaced)", err);
	} else {
		if (credentials_load(cli->config_dir, NULL, &previous, err, sizeof err) <= 0 || !previous.server)
			return cli_usage_error(cli, "which server? pass --server URL");
		if (strfmt(server, sizeof server, "%s", previous.server) != 0) {
			cli_error("the stored server URL is longer than %zu bytes; log in with --server URL",
			          sizeof server - 1);
			rc = CLI_FAILED;
			goto out;
		}
	}
	if (cli->ca_opt) {
		if (!realpath(cli->ca_opt, ca_abs) || access(ca_abs, R_OK) != 0) {
			cli_error("cannot read the CA file %s", cli->ca_opt);
			rc = CLI_USAGE;
			goto out;
		}
	} else if (previous.ca) {
		if (strfmt(ca_abs, sizeof ca_abs, "%s", previous.ca) != 0) {
			cli_error("the stored CA file's path is too long; pass --ca FILE");
			rc = CLI_USAGE;
			goto out;
		}
	}
	if ((rc = cli_connect_anonymous(cli, server, ca_abs[0] ? ca_abs : NULL)) != CLI_OK)
		goto out;
	if (strncmp(server, "http://", 7) == 0 && !is_loopback_url(server))
		cli_note(cli, "vitrine: warning: %s is not https: your password and token travel unencrypted", server);

	/* who */
	if (user_opt)
		snprintf(login, sizeof login, "%s", user_opt); /* its length was checked above */
	else if ((rc = ask("Login: ", false, login, sizeof login,
	                   "no terminal to ask the login name on: pass --user LOGIN")) != CLI_OK)
		goto out;
	if (!login[0]) {
		rc = cli_usage_error(cli, "the login name is empty");
		goto out;
	}
	if (password_stdin) {
		enum prompt_result pr = prompt_stdin_line(password, sizeof password);
		if (pr != PROMPT_OK) {
			if (pr == PROMPT_TOO_LONG)
				cli_error("the password on stdin is longer than %d bytes", PASSWORD_MAX);
			else
				cli_error("--password-stdin: no password on stdin");
			rc = CLI_USAGE;
			goto out;
		}
	} else if ((rc = ask("Password: ", true, password, sizeof password,
	                     "no terminal to ask the password on: use --password-stdin")) != CLI_OK) {
		goto out;
	}
	if (totp_opt)
		snprintf(totp, sizeof totp, "%s", totp_opt); /* 6 digits, checked above */

	if ((rc = open_session(cli, login, password, totp, sizeof totp)) != CLI_OK)
		goto out;
	sodium_memzero(password, sizeof password);

	/* a token for this computer, created by the session */
	char name[160];
	token_name(name, sizeof name);
	body = json_pack("{s:s}", "name", name);
	if (api_call(&cli->api, "POST", "/api/v1/tokens", body, API_DEFAULT_TIMEOUT_S, &resp) != 0 ||
	    resp.status != 201) {
		const char *code = api_error_code(&resp);
		if (resp.status == 403 && code && strcmp(code, "password_change_required") == 0) {
			cli_error(
			    "the server wants a new password for %s first: change it in the web console, then run "
			    "`vitrine login` again",
			    login);
			rc = CLI_AUTH;
		} else {
			rc = cli_fail(cli, &resp, "creating an API token");
		}
		goto out;
	}
	const char *token = json_string_value(json_object_get(resp.json, "token"));
	const char *token_id = json_string_value(json_object_get(resp.json, "id"));
	fresh.server = strdup(server);
	fresh.token = token ? strdup(token) : NULL;
	fresh.token_id = token_id ? strdup(token_id) : NULL;
	fresh.login = strdup(login);
	fresh.ca = ca_abs[0] ? strdup(ca_abs) : NULL;
	api_resp_free(&resp);
	if (!fresh.server || !fresh.token || !fresh.token_id || !fresh.login || (ca_abs[0] && !fresh.ca)) {
		cli_error("creating an API token: the server's answer has no token");
		rc = CLI_FAILED;
		goto out;
	}

	/* the session is not needed any more; the token is what we keep */
	api_call(&cli->api, "DELETE", "/api/v1/session", NULL, API_DEFAULT_TIMEOUT_S, &resp);
	api_resp_free(&resp);
	sodium_memzero(cli->api.csrf, sizeof cli->api.csrf);
	sodium_memzero(cli->api.cookie, sizeof cli->api.cookie);
	api_set_token(&cli->api, fresh.token);
	/* a token this computer stored before for this server is revoked */
	if (previous.token_id && previous.server && strcmp(previous.server, server) == 0) {
		char path[128];
		if (strfmt(path, sizeof path, "/api/v1/tokens/%s", previous.token_id) == 0) {
			api_call(&cli->api, "DELETE", path, NULL, API_DEFAULT_TIMEOUT_S, &resp);
			api_resp_free(&resp);
		} else {
			cli_note(cli, "the token stored before has an id too long to be one: it was not revoked");
		}
	}

	if (credentials_save(cli->config_dir, &fresh, !cli->config_dir_opt, err, sizeof err) != 0) {
		cli_error("the token could not be stored: %s", err);
		/* an unusable token must not stay valid on the server */
		char path[128];
		if (strfmt(path, sizeof path, "/api/v1/tokens/%s", fresh.token_id) == 0) {
			api_call(&cli->api, "DELETE", path, NULL, API_DEFAULT_TIMEOUT_S, &resp);
			api_resp_free(&resp);
		} else {
			cli_error("the new token has an id too long to be one: revoke it in the console");
		}
		rc = CLI_FAILED;
		goto out;
	}
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s+}", "server", server, "login", login, "token_id",
		                      fresh.token_id, "credentials", cli->config_dir, "/" CREDENTIALS_FILE);
		cli_print_json(j);
		json_decref(j);
	}
	char shown[300];
	cli_info(cli, "logged in to %s as %s; token stored in %s/%s", server, cli_printable(login, shown, sizeof shown),
	         cli->config_dir, CREDENTIALS_FILE);
	rc = CLI_OK;
out:
	sodium_memzero(password, sizeof password);
	sodium_memzero(totp, sizeof totp);
	api_resp_free(&resp);
	json_decref(body);
	credentials_free(&previous);
	credentials_free(&fresh);
	return rc;
}

int cmd_logout(struct cli *cli, int argc, char **argv)
{
	int c, rc = CLI_FAILED;
	while ((c = cli_getopt(cli, argc, argv, "", NULL, &rc)) != -1)
		if (c == -2)
			return rc;
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
	if ((rc = cli_connect(cli)) != CLI_OK)
		return rc;
	char path[128], err[512];
	if (strfmt(path, sizeof path, "/api/v1/tokens/%s", cli->cred.token_id) != 0) {
		cli_error("the stored token's id is too long to be one; delete the credentials file in %s",
		          cli->config_dir);
		return CLI_FAILED;
	}
	struct api_resp resp;
	int sent = api_call(&cli->api, "DELETE", path, NULL, API_DEFAULT_TIMEOUT_S, &resp);
	bool revoked = sent == 0 && resp.status == 200;
	bool gone = sent == 0 && (resp.status == 401 || resp.status == 404); /* revoked already */
	if (!revoked && !gone) {
		cli_fail(cli, &resp, "revoking the token");
		cli_error("the credentials were kept; retry, or delete %s/%s to forget them", cli->config_dir,
		          CREDENTIALS_FILE);
		api_resp_free(&resp);
		return CLI_FAILED;
	}
	api_resp_free(&resp);
	if (credentials_remove(cli->config_dir, cli->cred.server, err, sizeof err) != 0) {
		cli_error("%s", err);
		return CLI_FAILED;
	}
	if (cli->json) {
		json_t *j = json_pack("{s:s, s:b}", "server", cli->cred.server, "revoked", revoked);
		cli_print_json(j);
		json_decref(j);
	}
	cli_info(cli, "logged out of %s: %s", cli->cred.server,
	         revoked ? "the token is revoked and forgotten" : "the token was already revoked; it is forgotten");
	return CLI_OK;
}
