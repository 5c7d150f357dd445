/*
 * `vitrine remote SCREEN`: the guest of a remote-control session. It asks
 * the server for a session (POST /api/v1/screens/{id}/remote), checks the
 * host key it hands out against the key pinned for that screen (pins.c:
 * pinned on first use, a changed key refuses loudly), connects to the
 * relay (TCP, then the WebSocket fallback), runs the end-to-end handshake
 * as guest (src/common/tunnel.h), then serves one VNC viewer on
 * 127.0.0.1:PORT through the tunnel, printing `VNC: 127.0.0.1:PORT` once the
 * session is up. Any local user can reach a loopback port, so a viewer
 * connection is taken only from a socket of this user (its owner in
 * /proc/net/tcp); another user's is closed with a warning. --exec starts the viewer itself and the session ends when
 * it exits. Exit 0 on a clean end, 1 with the code and a sentence when the
 * server, the relay or the end-to-end layer refused or failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "common/tunnel.h"
#include "pins.h"

#define REMOTE_REQUEST_TIMEOUT_S 45    /* the server may wait 30 s for the consent of the person at the screen */
#define REMOTE_PAIR_TIMEOUT_MS   35000 /* the relay drops a side waiting alone after 30 s */
#define REMOTE_HANDSHAKE_MS      15000
#define REMOTE_HOLD_MAX          (1u << 20) /* host bytes kept until the viewer connects */

enum { OPT_PORT = CLI_OPT_FIRST_COMMAND, OPT_EXEC, OPT_FORGET, OPT_RELAY_CA };

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;
	if (write(stop_pipe[1], &c, 1) < 0) {
		/* the pipe is full: a stop is already pending */
	}
	errno = saved;
}

/* A sentence for a person for each code a session can end with. */
static const char *code_sentence(const char *code)
{
	static const struct {
		const char *code, *text;
	} t[] = {
	    {"host_key_mismatch", "the screen's end did not prove the host key the server gave for it, so the "
	                          "session was refused"},
	    {"handshake_invalid", "the end-to-end handshake failed: a message was altered on the way, or the other "
	                          "end is not this session's host"},
	    {"frame_tampered", "a frame of the session was altered, replayed or reordered on the way, so the "
	                       "session was ended"},
	    {"stream_truncated", "the connection ended before the other end closed the session"},
	    {"session_ended", "the relay ended the session (the screen did not come within 30 s, the session was "
	                      "idle, or an administrator ended it)"},
	    {"ticket_invalid", "the relay refused the session's ticket as invalid"},
	    {"ticket_expired", "the session's ticket expired before it reached the relay"},
	    {"ticket_replayed", "the relay had already seen the session's ticket"},
	    {"ticket_wrong_session", "the relay already has another party for this session"},
	    {"relay_unreachable", "the relay could not be reached"},
	    {"relay_protocol", "the relay's answer was not understood"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(t[i].code, code) == 0)
			return t[i].text;
	return "the session failed";
}

static int listen_local(unsigned port, unsigned *bound)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

/* The uid owning the loopback TCP socket at local port peer_port that is
 * connected to our port (the kernel's table, /proc/net/tcp); -1 when it
 * is not found. */
static long peer_uid(unsigned peer_port, unsigned our_port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	if (!f)
		return -1;
	char line[512];
	long uid = -1;
	while (uid < 0 && fgets(line, sizeof line, f)) {
		unsigned local_port, remote_port;
		unsigned long owner;
		if (sscanf(line, " %*u: %*8x:%4x %*8x:%4x %*x %*x:%*x %*x:%*x %*x %lu", &local_port, &remote_port,
		           &owner) == 3 &&
		    local_port == peer_port && remote_port == our_port)
			uid = (long)owner;
	}
	fclose(f);
	return uid;
}

/* Accepts a viewer connection on lfd when it comes from this user; -1
 * (and a warning) for another user's, or on an accept error. */
static int accept_own(int lfd)
{
	struct sockaddr_in a, ours;
	socklen_t l = sizeof a, lo = sizeof ours;
	int vfd = accept4(lfd, (struct sockaddr *)&a, &l, SOCK_CLOEXEC);
	if (vfd < 0)
		return -1;
	unsigned our_port = getsockname(lfd, (struct sockaddr *)&ours, &lo) == 0 ? ntohs(ours.sin_port) : 0;
	long uid = l == sizeof a ? peer_uid(ntohs(a.sin_port), our_port) : -1;
	if (uid != (long)getuid()) {
		fprintf(stderr,
		        "vitrine remote: refused a viewer connection on 127.0.0.1:%u from another user (uid %ld); "
		        "waiting for yours\n",
		        our_port, uid);
		close(vfd);
		return -1;
	}
	return vfd;
}

/* The --exec command with every {port} replaced. NULL when too long. */
static char *expand_exec(const char *cmd, unsigned port)
{
	char p[8];
	snprintf(p, sizeof p, "%u", port);
	size_t n = 0, cap = strlen(cmd) * 2 + 64;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	for (const char *c = cmd; *c;) {
		if (strncmp(c, "{port}", 6) == 0) {
			if (n + strlen(p) + 1 >= cap) {
				free(out);
				return NULL;
			}
			memcpy(out + n, p, strlen(p));
			n += strlen(p);
			c += 6;
			continue;
		}
		if (n + 2 >= cap) {
			free(out);
			return NULL;
		}
		out[n++] = *c++;
	}
	out[n] = '\0';
	return out;
}

static pid_t start_viewer(const char *cmd)
{
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static const char *str_member(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* Checks the key against the pin; pins it on first use. CLI_OK to go on. */
static int check_pin(struct cli *cli, const char *screen_id, const char *screen_name, const char *key_b64,
                     const uint8_t pk[E2E_HOST_PK])
{
	char pinned[PINS_KEY_MAX], err[600];
	char fp[TUNNEL_FINGERPRINT_LEN];
	tunnel_fingerprint(pk, fp);
	int found = pins_lookup(cli->config_dir, cli->cred.server, screen_id, pinned, err, sizeof err);
	if (found < 0) {
		cli_error("%s", err);
		return CLI_FAILED;
	}
	if (found == 0) {
		if (pins_store(cli->config_dir, cli->cred.server, screen_id, key_b64, err, sizeof err) != 0) {
			cli_error("cannot pin the host key: %s", err);
			return CLI_FAILED;
		}
		cli_info(cli,
		         "pinned the host key of %s, fingerprint %s (compare it with the screen's page in the console)",
		         screen_name, fp);
		return CLI_OK;
	}
	uint8_t old[E2E_HOST_PK];
	if (e2e_host_pk_from_base64(pinned, old) == E2E_OK && sodium_memcmp(old, pk, E2E_HOST_PK) == 0)
		return CLI_OK;
	char oldfp[TUNNEL_FINGERPRINT_LEN] = "(unreadable pin)";
	if (e2e_host_pk_from_base64(pinned, old) == E2E_OK)
		tunnel_fingerprint(old, oldfp);
	fprintf(stderr,
	        "vitrine: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	        "vitrine: WARNING: THE HOST KEY OF SCREEN %s (%s) HAS CHANGED\n"
	        "vitrine: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	        "vitrine: pinned key:   %s\n"
	        "vitrine: server sends: %s\n"
	        "vitrine: Someone may be pretending to be this screen, or the server's answer was altered;\n"
	        "vitrine: or the screen was paired again with a new key. Not connecting.\n"
	        "vitrine: If you know the screen was paired again (check its fingerprint in the console),\n"
	        "vitrine: drop the old pin with: vitrine remote %s --forget-host-key\n",
	        screen_name, screen_id, oldfp, fp, screen_id);
	return CLI_FAILED;
}

/* Waits for the viewer while keeping what the host sends meanwhile. Returns
 * the viewer's descriptor, -1 on a failure or end (*rc set), -2 on stop. */
static int wait_viewer(struct tunnel *t, int lfd, uint8_t *hold, size_t *hold_len, int *rc)
{
	for (;;) {
		if (tunnel_buffered(t) && *hold_len < REMOTE_HOLD_MAX) {
			ssize_t n = tunnel_read_some(t, hold + *hold_len, REMOTE_HOLD_MAX - *hold_len, 0);
			if (n > 0) {
				*hold_len += (size_t)n;
				continue;
			}
			if (n == 0) {
				*rc = CLI_OK;
				return -1;
			}
			if (n == -1) {
				*rc = CLI_FAILED;
				return -1;
			}
		}
		struct pollfd p[3] = {{.fd = lfd, .events = POLLIN},
		                      {.fd = stop_pipe[0], .events = POLLIN},
		                      {.fd = tunnel_fd(t), .events = *hold_len < REMOTE_HOLD_MAX ? POLLIN : 0}};
		int w = poll(p, 3, -1);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			*rc = CLI_FAILED;
			return -1;
		}
		if (p[1].revents)
			return -2;
		if (p[2].revents) {
			ssize_t n = tunnel_read_some(t, hold + *hold_len, REMOTE_HOLD_MAX - *hold_len, 0);
			if (n > 0)
				*hold_len += (size_t)n;
			else if (n == 0) {
				*rc = CLI_OK;
				return -1;
			} else if (n == -1) {
				*rc = CLI_FAILED;
				return -1;
			}
		}
		if (p[0].revents) {
			int vfd = accept_own(lfd);
			if (vfd >= 0)
				return vfd;
		}
	}
}

static int write_all_fd(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int cmd_remote(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"port", required_argument, NULL, OPT_PORT},
	                                     {"exec", required_argument, NULL, OPT_EXEC},
	                                     {"forget-host-key", no_argument, NULL, OPT_FORGET},
	                                     {"relay-ca", required_argument, NULL, OPT_RELAY_CA},
	                                     {NULL, 0, NULL, 0}};
	int c, rc = CLI_FAILED;
	const char *exec_cmd = NULL, *relay_ca = getenv("VITRINE_RELAY_CA");
	unsigned long port = 0;
	bool forget = false;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_PORT) {
			char *end;
			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || port > 65535)
				return cli_usage_error(cli, "--port takes a port number (1-65535, 0: any free port)");
		} else if (c == OPT_EXEC) {
			exec_cmd = optarg;
		} else if (c == OPT_FORGET) {
			forget = true;
		} else if (c == OPT_RELAY_CA) {
			relay_ca = optarg;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(cli, "needs SCREEN (a screen's name or id)");
	if (exec_cmd && !*exec_cmd)
		return cli_usage_error(cli, "--exec needs a command, e.g. --exec 'vncviewer 127.0.0.1::{port}'");

	unsigned bound = 0;
	int lfd = listen_local((unsigned)port, &bound);
	if (lfd < 0) {
		cli_error("cannot listen on 127.0.0.1 port %lu: %s", port, strerror(errno));
		return CLI_FAILED;
	}
	if ((rc = cli_connect(cli)) != CLI_OK) {
		close(lfd);
		return rc;
	}
	json_t *screen = resolve_named(cli, "screen", argv[optind], &rc);
	if (!screen) {
		close(lfd);
		return rc;
	}
	char sname[200], path[300], err[700], code[TUNNEL_CODE_MAX];
	const char *sid = str_member(screen, "id");
	cli_printable(str_member(screen, "name"), sname, sizeof sname);
	struct api_resp resp;
	bool have_resp = false;
	struct tunnel *t = NULL;
	uint8_t *hold = NULL;
	pid_t child = -1;
	int vfd = -1;
	rc = CLI_FAILED;

	if (forget) {
		if (pins_store(cli->config_dir, cli->cred.server, sid, NULL, err, sizeof err) != 0) {
			cli_error("cannot drop the pinned host key: %s", err);
			goto out;
		}
		cli_info(cli, "dropped the pinned host key of %s; the key the server sends now gets pinned", sname);
	}

	snprintf(path, sizeof path, "/api/v1/screens/%s/remote", sid);
	cli_note(cli, "asking for a remote-control session with %s...", sname);
	have_resp = true;
	if (api_call(&cli->api, "POST", path, NULL, REMOTE_REQUEST_TIMEOUT_S, &resp) != 0 || resp.status != 201) {
		rc = cli_fail(cli, &resp, "remote control");
		goto out;
	}
	json_t *body = resp.json, *relay = json_object_get(body, "relay");
	const char *session_id = str_member(body, "session_id"), *ticket = str_member(body, "ticket");
	const char *key_b64 = str_member(body, "host_public_key"), *secret_b64 = str_member(body, "session_secret");
	uint8_t pk[E2E_HOST_PK], secret[32] = {0}, th[E2E_TICKET_HASH];
	size_t sl = 0;
	if (!*session_id || !*ticket || !json_is_object(relay)) {
		cli_error("the server's answer for the session lacks session_id, relay or ticket");
		goto out;
	}
	if (e2e_host_pk_from_base64(key_b64, pk) != E2E_OK) {
		cli_error("the screen has no usable host key (the server sent \"%.60s\"): was it paired by a player "
		          "that supports remote control?",
		          key_b64);
		goto out;
	}
	if (sodium_base642bin(secret, sizeof secret, secret_b64, strlen(secret_b64), NULL, &sl, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    sl != sizeof secret) {
		cli_error("the server's answer has no usable session_secret (base64 of 32 bytes): is the server older "
		          "than this vitrine?");
		goto out;
	}
	if ((rc = check_pin(cli, sid, sname, key_b64, pk)) != CLI_OK)
		goto out;
	rc = CLI_FAILED;
	e2e_ticket_hash(ticket, strlen(ticket), th);

	struct relay_target target = {0};
	snprintf(target.host, sizeof target.host, "%s", str_member(relay, "host"));
	json_int_t rport = json_integer_value(json_object_get(relay, "port"));
	target.port = rport > 0 && rport <= 65535 ? (unsigned)rport : 0;
	snprintf(target.ws_url, sizeof target.ws_url, "%s", str_member(relay, "ws_url"));
	char rhost[300];
	cli_note(cli, "connecting to the relay %s...", cli_printable(target.host, rhost, sizeof rhost));
	struct relay_conn *rconn = NULL;
	if (relay_connect(&target, ticket, REMOTE_PAIR_TIMEOUT_MS, relay_ca, &rconn, code, sizeof code, err,
	                  sizeof err) != 0) {
		char shown[700];
		cli_error("%s: %s (%s)", code_sentence(code), cli_printable(err, shown, sizeof shown), code);
		goto out;
	}
	enum relay_transport tr = relay_conn_transport(rconn);
	if (tunnel_open(&t, rconn, E2E_GUEST, session_id, th, secret, pk, REMOTE_HANDSHAKE_MS, code) != 0) {
		cli_error("%s (%s)", code_sentence(code), code);
		goto out;
	}
	sodium_memzero(secret, sizeof secret);
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		cli_error("cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	cli_note(cli, "end-to-end session with %s is up (relay over %s)", sname, relay_transport_name(tr));
	printf("VNC: 127.0.0.1:%u\n", bound);
	fflush(stdout);
	if (exec_cmd) {
		char *cmd = expand_exec(exec_cmd, bound);
		if (!cmd || (child = start_viewer(cmd)) < 0) {
			cli_error("cannot start the viewer: %s", cmd ? strerror(errno) : "the command is too long");
			free(cmd);
			goto out;
		}
		free(cmd);
	}
	hold = malloc(REMOTE_HOLD_MAX);
	if (!hold) {
		cli_error("out of memory");
		goto out;
	}
	size_t hold_len = 0;
	int wrc = CLI_FAILED;
	vfd = wait_viewer(t, lfd, hold, &hold_len, &wrc);
	close(lfd);
	lfd = -1; /* one viewer: others are refused from now on */
	if (vfd == -2) {
		rc = tunnel_finish(t) == 0 ? CLI_OK : CLI_FAILED;
		if (rc == CLI_OK)
			cli_info(cli, "session ended before a viewer connected");
		else
			cli_error("%s (%s)", code_sentence(tunnel_code(t)), tunnel_code(t));
		goto out;
	}
	if (vfd < 0) {
		if (wrc == CLI_OK) {
			tunnel_finish(t);
			cli_info(cli, "the screen ended the session before a viewer connected");
			rc = CLI_OK;
		} else {
			cli_error("%s (%s)", code_sentence(tunnel_code(t)), tunnel_code(t));
		}
		goto out;
	}
	cli_note(cli, "a viewer connected");
	if (hold_len > 0 && write_all_fd(vfd, hold, hold_len) != 0) {
		rc = tunnel_finish(t) == 0 ? CLI_OK : CLI_FAILED;
		goto out;
	}
	struct tunnel_stats st;
	if (tunnel_pump(t, vfd, stop_pipe[0], &st) == 0) {
		char a[32], b[32];
		cli_human_bytes((double)st.sent, a);
		cli_human_bytes((double)st.received, b);
		cli_info(cli, "session ended (sent %s, received %s)", a, b);
		rc = CLI_OK;
	} else {
		cli_error("%s (%s)", code_sentence(tunnel_code(t)), tunnel_code(t));
	}
out:
	if (vfd >= 0)
		close(vfd);
	if (lfd >= 0)
		close(lfd);
	tunnel_close(t);
	free(hold);
	if (child > 0 && waitpid(child, NULL, WNOHANG) == 0)
		cli_note(cli, "the viewer (pid %d) is still running", (int)child);
	if (stop_pipe[0] >= 0) {
		signal(SIGCHLD, SIG_DFL);
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		stop_pipe[0] = stop_pipe[1] = -1;
	}
	if (have_resp)
		api_resp_free(&resp);
	json_decref(screen);
	return rc;
}
