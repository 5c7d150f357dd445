/*
 * The remote-control host (see remote_host.h). remote_host_start checks a
 * remote_session payload on the agent's thread and hands a copy to a
 * session thread; everything that waits (the relay, the handshake, the VNC
 * server, the guest's viewer) happens on that thread. The VNC server is
 * shared: the first session starts x11vnc, each session holds a reference,
 * the last one to end stops it. Secrets (ticket, session secret, VNC
 * passwords, the host key) are wiped when they are no longer needed and
 * never logged.
 */
#include "remote_host.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/e2e.h"
#include "common/log.h"
#include "common/relay_client.h"
#include "common/strfmt.h"
#include "common/tunnel.h"
#include "rfb_auth.h"

#define PAIR_TIMEOUT_MS      40000  /* the relay drops a side alone after 30 s */
#define HANDSHAKE_TIMEOUT_MS 15000  /* the end-to-end handshake */
#define VIEWER_TIMEOUT_MS    300000 /* the guest's viewer answers the RFB greeting (a person may start it) */
#define VNC_START_MS         10000  /* x11vnc listens within this */
#define VNC_AUTH_MS          10000  /* the handshake with the local VNC server */
#define STOP_GRACE_MS        3000   /* destroy waits this long for sessions still connecting */
#define VNC_PASSWORD_LEN     8      /* VNC uses only 8 characters */

enum slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_DONE };

struct session {
	struct remote_host *h;
	enum slot_state state;
	pthread_t thread;
	char sid[E2E_SESSION_ID_MAX + 1];
	char guest[128];
	bool view_only;
	struct relay_target target;
	char ticket[RELAY_TICKET_MAX + 1];
	uint8_t ticket_hash[32];
	uint8_t secret[32];
};

struct vnc {
	pid_t pid; /* x11vnc, 0 when none */
	unsigned port;
	char full[VNC_PASSWORD_LEN + 1], view[VNC_PASSWORD_LEN + 1];
	char passwd_file[1200];
	unsigned users; /* sessions holding it */
};

struct remote_host {
	pthread_mutex_t lock;
	pthread_cond_t ended;
	bool stopping;
	int stop_pipe[2]; /* written once by destroy: every pump sees it readable */
	char vnc_command[512];
	char vnc_server[300];
	char vnc_password_file[1024];
	char display[128];
	char relay_ca[1024];
	char run_dir[1024];
	uint8_t host_sk[E2E_HOST_SK];
	struct vnc vnc;
	struct session slots[REMOTE_HOST_MAX_SESSIONS];
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool copy_text(char *dst, size_t dstsz, const char *src)
{
	return strfmt(dst, dstsz, "%s", src ? src : "") == 0;
}

struct remote_host *remote_host_create(const struct remote_host_config *cfg)
{
	struct remote_host *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	const char *display = cfg->display && *cfg->display ? cfg->display : getenv("DISPLAY");
	if (!copy_text(h->vnc_command, sizeof h->vnc_command, cfg->vnc_command) ||
	    !copy_text(h->vnc_server, sizeof h->vnc_server, cfg->vnc_server) ||
	    !copy_text(h->vnc_password_file, sizeof h->vnc_password_file, cfg->vnc_password_file) ||
	    !copy_text(h->display, sizeof h->display, display) ||
	    !copy_text(h->relay_ca, sizeof h->relay_ca, cfg->relay_ca) ||
	    !copy_text(h->run_dir, sizeof h->run_dir, cfg->run_dir) || pipe2(h->stop_pipe, O_CLOEXEC) != 0) {
		free(h);
		return NULL;
	}
	memcpy(h->host_sk, cfg->host_sk, sizeof h->host_sk);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->ended, NULL);
	return h;
}

/* ---------- the payload ---------- */

static bool id_text(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static int parse_payload(json_t *p, struct session *s, char *err, size_t errsz)
{
	json_t *relay = json_object_get(p, "relay");
	const char *sid = json_string_value(json_object_get(p, "session_id"));
	const char *host = json_string_value(json_object_get(relay, "host"));
	json_t *port = json_object_get(relay, "port");
	const char *ws_url = json_string_value(json_object_get(relay, "ws_url"));
	const char *ticket = json_string_value(json_object_get(p, "ticket"));
	const char *hash = json_string_value(json_object_get(p, "guest_ticket_hash"));
	const char *secret = json_string_value(json_object_get(p, "session_secret"));
	const char *guest = json_string_value(json_object_get(p, "guest"));
	json_t *view_only = json_object_get(p, "view_only");
	size_t len = 0;
	if (!id_text(sid, E2E_SESSION_ID_MAX)) {
		snprintf(err, errsz, "payload.session_id must be an id");
		return -1;
	}
	if (!json_is_object(relay) || !host || !*host || !json_is_integer(port) || json_integer_value(port) < 0 ||
	    json_integer_value(port) > 65535 || (json_integer_value(port) == 0 && (!ws_url || !*ws_url)) ||
	    !copy_text(s->target.host, sizeof s->target.host, host) ||
	    !copy_text(s->target.ws_url, sizeof s->target.ws_url, ws_url)) {
		snprintf(err, errsz, "payload.relay must be {host, port, ws_url} of a relay");
		return -1;
	}
	s->target.port = (unsigned)json_integer_value(port);
	if (!ticket || !*ticket || !copy_text(s->ticket, sizeof s->ticket, ticket)) {
		snprintf(err, errsz, "payload.ticket must be a ticket of at most %d bytes", RELAY_TICKET_MAX);
		return -1;
	}
	if (!hash || strlen(hash) != 64 ||
	    sodium_hex2bin(s->ticket_hash, sizeof s->ticket_hash, hash, 64, NULL, &len, NULL) != 0 || len != 32) {
		snprintf(err, errsz, "payload.guest_ticket_hash must be 64 hex digits");
		return -1;
	}
	if (!secret ||
	    sodium_base642bin(s->secret, sizeof s->secret, secret, strlen(secret), NULL, &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != 32) {
		snprintf(err, errsz, "payload.session_secret must be 32 bytes in base64");
		return -1;
	}
	if (view_only && !json_is_boolean(view_only)) {
		snprintf(err, errsz, "payload.view_only must be true or false");
		return -1;
	}
	s->view_only = json_is_true(view_only);
	snprintf(s->sid, sizeof s->sid, "%s", sid);
	snprintf(s->guest, sizeof s->guest, "%s", guest ? guest : "");
	return 0;
}

static void session_wipe(struct session *s)
{
	sodium_memzero(s->ticket, sizeof s->ticket);
	sodium_memzero(s->ticket_hash, sizeof s->ticket_hash);
	sodium_memzero(s->secret, sizeof s->secret);
}

/* ---------- the VNC server ---------- */

static void new_password(char out[VNC_PASSWORD_LEN + 1])
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	for (int i = 0; i < VNC_PASSWORD_LEN; i++)
		out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
	out[VNC_PASSWORD_LEN] = '\0';
}

static unsigned pick_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	unsigned port = 0;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Writes the two passwords for x11vnc (0600, a new file); 0 or -1. */
static int write_passwd_file(struct vnc *v, const char *dir)
{
	uint8_t rnd[8];
	char name[17];
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(name, sizeof name, rnd, sizeof rnd);
	if (strfmt(v->passwd_file, sizeof v->passwd_file, "%s/vnc-%s.passwd", dir, name) != 0)
		return -1;
	int fd = open(v->passwd_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	char text[64];
	int n = snprintf(text, sizeof text, "%s\n__BEGIN_VIEWONLY__\n%s\n", v->full, v->view);
	int rc = write(fd, text, (size_t)n) == n ? 0 : -1;
	sodium_memzero(text, sizeof text);
	if (close(fd) != 0)
		rc = -1;
	if (rc != 0)
		unlink(v->passwd_file);
	return rc;
}

/* Called with the lock held: is the x11vnc we started still running? */
static bool vnc_alive(struct remote_host *h)
{
	if (h->vnc.pid <= 0)
		return false;
	int status;
	if (waitpid(h->vnc.pid, &status, WNOHANG) == h->vnc.pid) {
		log_event(LOG_WARN, "x11vnc exited", "status",
		          WIFEXITED(status) ? (WEXITSTATUS(status) == 0 ? "0" : "non-zero") : "killed", NULL);
		h->vnc.pid = 0;
		unlink(h->vnc.passwd_file);
		return false;
	}
	return true;
}

/* Called with the lock held. */
static int vnc_spawn(struct remote_host *h)
{
	struct vnc *v = &h->vnc;
	if (!h->display[0]) {
		log_event(LOG_ERROR, "remote control needs an X display: $DISPLAY is not set", NULL);
		return -1;
	}
	new_password(v->full);
	do
		new_password(v->view);
	while (strcmp(v->full, v->view) == 0);
	v->port = pick_port();
	if (v->port == 0 || write_passwd_file(v, h->run_dir) != 0) {
		log_event(LOG_ERROR, "cannot write the VNC password file", "dir", h->run_dir, NULL);
		return -1;
	}
	char port[16], passwd[1300];
	snprintf(port, sizeof port, "%u", v->port);
	snprintf(passwd, sizeof passwd, "rm:%s", v->passwd_file); /* x11vnc deletes it once read */
	char *argv[] = {h->vnc_command, "-localhost", "-rfbport",      port,      "-passwdfile",
	                passwd,         "-display",   h->display,      "-shared", "-forever",
	                "-norc",        "-noremote",  "-novncconnect", "-quiet",  NULL};
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		closefrom(3);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0) {
		unlink(v->passwd_file);
		return -1;
	}
	v->pid = pid;
	log_event(LOG_INFO, "x11vnc started", "port", port, "display", h->display, NULL);
	return 0;
}

/* Called with the lock held. */
static void vnc_kill(struct remote_host *h)
{
	struct vnc *v = &h->vnc;
	if (v->pid > 0) {
		kill(v->pid, SIGTERM);
		int64_t until = mono_ms() + 2000;
		while (waitpid(v->pid, NULL, WNOHANG) != v->pid) {
			if (mono_ms() > until) {
				kill(v->pid, SIGKILL);
				waitpid(v->pid, NULL, 0);
				break;
			}
			sleep_ms(20);
		}
		v->pid = 0;
		log_event(LOG_INFO, "x11vnc stopped", NULL);
	}
	if (v->passwd_file[0])
		unlink(v->passwd_file); /* when x11vnc never read it */
	v->passwd_file[0] = '\0';
	sodium_memzero(v->full, sizeof v->full);
	sodium_memzero(v->view, sizeof v->view);
}

/* Takes a reference on the VNC server, starting x11vnc if needed. */
static int vnc_acquire(struct remote_host *h)
{
	if (h->vnc_server[0])
		return 0; /* not ours to start */
	pthread_mutex_lock(&h->lock);
	int rc = 0;
	if (h->stopping)
		rc = -1;
	else if (!vnc_alive(h))
		rc = vnc_spawn(h);
	if (rc == 0)
		h->vnc.users++;
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static void vnc_release(struct remote_host *h)
{
	if (h->vnc_server[0])
		return;
	pthread_mutex_lock(&h->lock);
	if (h->vnc.users > 0 && --h->vnc.users == 0)
		vnc_kill(h);
	pthread_mutex_unlock(&h->lock);
}

static int connect_addr(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* Connects to the VNC server and copies the password this session uses
 * (NULL: none). Retries while x11vnc is starting. Returns the fd or -1. */
static int vnc_connect(struct remote_host *h, bool view_only, char password[VNC_PASSWORD_LEN + 1], bool *has_pw)
{
	*has_pw = false;
	if (h->vnc_server[0]) {
		char host[256], port[16];
		const char *colon = strrchr(h->vnc_server, ':');
		if (!colon || (size_t)(colon - h->vnc_server) >= sizeof host || strlen(colon + 1) >= sizeof port)
			return -1;
		snprintf(host, sizeof host, "%.*s", (int)(colon - h->vnc_server), h->vnc_server);
		snprintf(port, sizeof port, "%s", colon + 1);
		if (host[0] == '[' && strlen(host) > 2) { /* [::1]:5900 */
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
		if (h->vnc_password_file[0]) {
			FILE *f = fopen(h->vnc_password_file, "re");
			char line[128] = "";
			if (!f || !fgets(line, sizeof line, f)) {
				if (f)
					fclose(f);
				log_event(LOG_ERROR, "cannot read the VNC password file", "file", h->vnc_password_file,
				          NULL);
				return -1;
			}
			fclose(f);
			line[strcspn(line, "\r\n")] = '\0';
			snprintf(password, VNC_PASSWORD_LEN + 1, "%s", line);
			sodium_memzero(line, sizeof line);
			*has_pw = true;
		}
		return connect_addr(host, port);
	}
	int64_t until = mono_ms() + VNC_START_MS;
	char port[16];
	while (mono_ms() < until) {
		pthread_mutex_lock(&h->lock);
		bool alive = !h->stopping && vnc_alive(h);
		snprintf(port, sizeof port, "%u", h->vnc.port);
		snprintf(password, VNC_PASSWORD_LEN + 1, "%s", view_only ? h->vnc.view : h->vnc.full);
		pthread_mutex_unlock(&h->lock);
		if (!alive)
			break;
		int fd = connect_addr("127.0.0.1", port);
		if (fd >= 0) {
			*has_pw = true;
			return fd;
		}
		sleep_ms(100);
	}
	sodium_memzero(password, VNC_PASSWORD_LEN + 1);
	return -1;
}

/* ---------- the tunnel as an rfb_io ---------- */

struct tunnel_io {
	struct rfb_io io;
	struct tunnel *t;
	struct remote_host *h;
};

static ssize_t tunnel_io_read(void *ctx, void *buf, size_t cap, int timeout_ms)
{
	struct tunnel_io *ti = ctx;
	int64_t until = mono_ms() + timeout_ms;
	for (;;) { /* in slices, so that destroy is not kept waiting for a viewer */
		pthread_mutex_lock(&ti->h->lock);
		bool stopping = ti->h->stopping;
		pthread_mutex_unlock(&ti->h->lock);
		int64_t left = until - mono_ms();
		if (stopping || left <= 0)
			return -1;
		ssize_t n = tunnel_read_some(ti->t, buf, cap, (int)(left < 500 ? left : 500));
		if (n != TUNNEL_AGAIN)
			return n < 0 ? -1 : n;
	}
}

static int tunnel_io_write(void *ctx, const void *buf, size_t len)
{
	struct tunnel_io *ti = ctx;
	return tunnel_write_all(ti->t, buf, len);
}

/* ---------- a session ---------- */

static void *session_main(void *arg)
{
	struct session *s = arg;
	struct remote_host *h = s->h;
	char code[TUNNEL_CODE_MAX] = "", detail[256] = "", password[VNC_PASSWORD_LEN + 1] = "";
	struct relay_conn *rc = NULL;
	struct tunnel *t = NULL;
	struct tunnel_stats st = {0};
	int vnc_fd = -1;
	bool has_pw = false, holds_vnc = false;
	int64_t started = mono_ms();
	log_event(LOG_INFO, "remote session starting", "session_id", s->sid, "guest", s->guest, "view_only",
	          s->view_only ? "yes" : "no", NULL);
	if (s->view_only && h->vnc_server[0]) {
		snprintf(code, sizeof code, "view_only_unsupported");
		snprintf(detail, sizeof detail, "a VNC server given by vnc_server has no view-only password");
		goto out;
	}
	if (vnc_acquire(h) != 0) {
		snprintf(code, sizeof code, "vnc_unavailable");
		goto out;
	}
	holds_vnc = true;
	if (relay_connect(&s->target, s->ticket, PAIR_TIMEOUT_MS, h->relay_ca[0] ? h->relay_ca : NULL, &rc, code,
	                  sizeof code, detail, sizeof detail) != 0) {
		if (!code[0])
			snprintf(code, sizeof code, "relay_unreachable");
		goto out;
	}
	sodium_memzero(s->ticket, sizeof s->ticket);
	int topen =
	    tunnel_open(&t, rc, E2E_HOST, s->sid, s->ticket_hash, s->secret, h->host_sk, HANDSHAKE_TIMEOUT_MS, code);
	rc = NULL; /* the tunnel's now, in every case */
	sodium_memzero(s->secret, sizeof s->secret);
	if (topen != 0) {
		if (!code[0])
			snprintf(code, sizeof code, "handshake_invalid");
		goto out;
	}
	log_event(LOG_INFO, "remote session connected", "session_id", s->sid, "transport",
	          relay_transport_name(tunnel_transport(t)), NULL);
	struct tunnel_io tio = {
	    .io = {.read = tunnel_io_read, .write_all = tunnel_io_write, .ctx = &tio}, .t = t, .h = h};
	int r = rfb_front_none(&tio.io, VIEWER_TIMEOUT_MS, NULL);
	if (r != RFB_OK) {
		snprintf(code, sizeof code, "%s", tunnel_code(t)[0] ? tunnel_code(t) : "viewer_protocol");
		goto out;
	}
	vnc_fd = vnc_connect(h, s->view_only, password, &has_pw);
	if (vnc_fd < 0) {
		snprintf(code, sizeof code, "vnc_unavailable");
		goto out;
	}
	struct rfb_fd_io fio;
	rfb_fd_io_init(&fio, vnc_fd);
	r = rfb_client_auth(&fio.io, has_pw ? password : NULL, VNC_AUTH_MS, NULL, detail, sizeof detail);
	sodium_memzero(password, sizeof password);
	if (r != RFB_OK) {
		snprintf(code, sizeof code, "%s", rfb_result_code(r));
		goto out;
	}
	if (tunnel_pump(t, vnc_fd, h->stop_pipe[0], &st) != 0)
		snprintf(code, sizeof code, "%s", tunnel_code(t)[0] ? tunnel_code(t) : "stream_truncated");
out:
	sodium_memzero(password, sizeof password);
	if (vnc_fd >= 0)
		close(vnc_fd);
	if (t && !code[0])
		tunnel_get_stats(t, &st);
	tunnel_close(t);
	if (rc)
		relay_conn_close(rc);
	if (holds_vnc)
		vnc_release(h);
	char secs[24], to_guest[24], from_guest[24];
	snprintf(secs, sizeof secs, "%lld", (long long)((mono_ms() - started) / 1000));
	snprintf(to_guest, sizeof to_guest, "%llu", (unsigned long long)st.sent);
	snprintf(from_guest, sizeof from_guest, "%llu", (unsigned long long)st.received);
	if (code[0])
		log_event(LOG_WARN, "remote session failed", "session_id", s->sid, "code", code, "detail", detail,
		          "seconds", secs, NULL);
	else
		log_event(LOG_INFO, "remote session ended", "session_id", s->sid, "seconds", secs, "bytes_to_guest",
		          to_guest, "bytes_from_guest", from_guest, NULL);
	session_wipe(s);
	pthread_mutex_lock(&h->lock);
	s->state = SLOT_DONE;
	pthread_cond_broadcast(&h->ended);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Called with the lock held: joins the threads that ended. */
static void reap(struct remote_host *h)
{
	for (int i = 0; i < REMOTE_HOST_MAX_SESSIONS; i++)
		if (h->slots[i].state == SLOT_DONE) {
			pthread_join(h->slots[i].thread, NULL);
			h->slots[i].state = SLOT_FREE;
		}
}

int remote_host_start(struct remote_host *h, json_t *payload, char *err, size_t errsz)
{
	struct session parsed = {0};
	if (!h) {
		snprintf(err, errsz, "remote control is not available on this player");
		return -1;
	}
	if (parse_payload(payload, &parsed, err, errsz) != 0) {
		session_wipe(&parsed);
		return -1;
	}
	pthread_mutex_lock(&h->lock);
	reap(h);
	struct session *slot = NULL;
	int rc = -1;
	for (int i = 0; i < REMOTE_HOST_MAX_SESSIONS; i++) {
		if (h->slots[i].state == SLOT_RUNNING && strcmp(h->slots[i].sid, parsed.sid) == 0) {
			snprintf(err, errsz, "session %s is already running", parsed.sid);
			goto out;
		}
		if (!slot && h->slots[i].state == SLOT_FREE)
			slot = &h->slots[i];
	}
	if (h->stopping || !slot) {
		snprintf(err, errsz, "%s", h->stopping ? "the player is stopping" : "too many remote sessions at once");
		goto out;
	}
	*slot = parsed;
	slot->h = h;
	slot->state = SLOT_RUNNING;
	if (pthread_create(&slot->thread, NULL, session_main, slot) != 0) {
		session_wipe(slot);
		slot->state = SLOT_FREE;
		snprintf(err, errsz, "cannot start a thread for the session");
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&h->lock);
	session_wipe(&parsed);
	return rc;
}

unsigned remote_host_active(struct remote_host *h)
{
	unsigned n = 0;
	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < REMOTE_HOST_MAX_SESSIONS; i++)
		n += h->slots[i].state == SLOT_RUNNING;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void remote_host_destroy(struct remote_host *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	if (write(h->stop_pipe[1], "x", 1) != 1)
		log_event(LOG_WARN, "cannot tell the remote sessions to stop", NULL);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += STOP_GRACE_MS / 1000;
	bool running = true;
	while (running) {
		running = false;
		for (int i = 0; i < REMOTE_HOST_MAX_SESSIONS; i++)
			running |= h->slots[i].state == SLOT_RUNNING;
		if (running && pthread_cond_timedwait(&h->ended, &h->lock, &until) != 0)
			break;
	}
	reap(h);
	if (running) { /* a session still waits for its relay: it may not be freed under it */
		vnc_kill(h);
		pthread_mutex_unlock(&h->lock);
		log_event(LOG_WARN, "a remote session was still connecting when the player stopped", NULL);
		return;
	}
	vnc_kill(h);
	pthread_mutex_unlock(&h->lock);
	close(h->stop_pipe[0]);
	close(h->stop_pipe[1]);
	sodium_memzero(h->host_sk, sizeof h->host_sk);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->ended);
	free(h);
}
