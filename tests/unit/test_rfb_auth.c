/*
 * Unit tests of src/player/rfb_auth.c, the remote-control host's RFB
 * handshakes: the VNC DES response against values computed by OpenSSL,
 * the client side against a scripted fake server (RFB 3.3, 3.7, 3.8,
 * refusals, a wrong password, garbage, silence), the None front against a
 * scripted guest, and the client side against a real x11vnc on Xvfb with
 * a full and a view-only password (skipped when either is not installed).
 * Also the front door of src/player/remote_host.c, which uses them: what
 * remote_host_start refuses in a remote_session payload, the duplicate and
 * the fifth session, and a clean destroy.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sodium.h>

#include "remote_host.h"
#include "rfb_auth.h"
#include "testutil.h"

static const uint8_t CHALLENGE[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
/* openssl enc -des-ecb -nopad -K <bit-reversed password> of CHALLENGE */
static const char SECRET12_RESPONSE[] = "adcd997f8e16fee575e973f93c2b62b4";
static const char PW_RESPONSE[] = "858600d9af143c9e6541d3dd92a835d0";

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void test_vnc_response_matches_openssl(void **state)
{
	(void)state;
	uint8_t out[16];
	char h[33];
	rfb_vnc_response("secret12", CHALLENGE, out);
	hex(out, 16, h);
	assert_string_equal(h, SECRET12_RESPONSE);
	rfb_vnc_response("secret123456789", CHALLENGE, out); /* only 8 characters count */
	hex(out, 16, h);
	assert_string_equal(h, SECRET12_RESPONSE);
	rfb_vnc_response("pw", CHALLENGE, out); /* zero-padded */
	hex(out, 16, h);
	assert_string_equal(h, PW_RESPONSE);
}

/* ---------- a scripted fake VNC server ---------- */

enum script {
	S33_VNC,
	S37_VNC,
	S38_VNC,
	S3889_VNC,
	S38_NONE,
	S37_NONE,
	S33_NONE,
	S38_REFUSE,
	S33_REFUSE,
	S38_TLS_ONLY,
	GARBAGE,
	SILENT,
	S38_SHORT,
};

struct fake {
	int fd;
	enum script script;
	const char *password; /* the one it accepts */
	char client_version[13];
	int picked;
	bool response_ok;
};

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static int readn(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* A peer that hung up on purpose makes this fail: that is part of the script. */
static void writen(int fd, const void *buf, size_t n)
{
	ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
	(void)w;
}

static void send_reason(int fd, const char *why)
{
	uint8_t b[4];
	put32(b, (uint32_t)strlen(why));
	writen(fd, b, 4);
	writen(fd, why, strlen(why));
}

static void challenge_and_result(struct fake *f, bool reasons)
{
	uint8_t resp[16], want[16], b[4];
	writen(f->fd, CHALLENGE, 16);
	if (readn(f->fd, resp, 16) != 0)
		return;
	rfb_vnc_response(f->password, CHALLENGE, want);
	f->response_ok = memcmp(resp, want, 16) == 0;
	put32(b, f->response_ok ? 0 : 1);
	writen(f->fd, b, 4);
	if (!f->response_ok && reasons)
		send_reason(f->fd, "Authentication\tfailed");
}

static void *fake_server(void *arg)
{
	struct fake *f = arg;
	const char *version = f->script == S33_VNC || f->script == S33_NONE || f->script == S33_REFUSE ? "RFB 003.003\n"
	                      : f->script == S37_VNC || f->script == S37_NONE                          ? "RFB 003.007\n"
	                      : f->script == S3889_VNC                                                 ? "RFB 003.889\n"
	                                               : "RFB 003.008\n";
	uint8_t b[4];
	if (f->script == SILENT)
		return NULL;
	if (f->script == GARBAGE) {
		writen(f->fd, "HTTP/1.1 400", 12);
		return NULL;
	}
	writen(f->fd, version, 12);
	if (readn(f->fd, f->client_version, 12) != 0)
		return NULL;
	switch (f->script) {
	case S33_VNC:
		put32(b, 2);
		writen(f->fd, b, 4);
		challenge_and_result(f, false);
		break;
	case S33_NONE:
		put32(b, 1);
		writen(f->fd, b, 4);
		break;
	case S33_REFUSE:
		put32(b, 0);
		writen(f->fd, b, 4);
		send_reason(f->fd, "too many clients");
		break;
	case S37_VNC:
	case S38_VNC:
	case S3889_VNC: {
		static const uint8_t offer[] = {2, 16, 2}; /* Tight and VNC */
		writen(f->fd, offer, sizeof offer);
		uint8_t pick;
		if (readn(f->fd, &pick, 1) != 0)
			return NULL;
		f->picked = pick;
		challenge_and_result(f, f->script != S37_VNC);
		break;
	}
	case S38_NONE:
	case S37_NONE: {
		static const uint8_t offer[] = {1, 1};
		writen(f->fd, offer, sizeof offer);
		uint8_t pick;
		if (readn(f->fd, &pick, 1) != 0)
			return NULL;
		f->picked = pick;
		if (f->script == S38_NONE) {
			put32(b, 0);
			writen(f->fd, b, 4);
		}
		break;
	}
	case S38_REFUSE: {
		uint8_t zero = 0;
		writen(f->fd, &zero, 1);
		send_reason(f->fd, "no more clients");
		break;
	}
	case S38_TLS_ONLY: {
		static const uint8_t offer[] = {1, 18};
		writen(f->fd, offer, sizeof offer);
		break;
	}
	case S38_SHORT: {
		static const uint8_t offer[] = {2, 2}; /* says two types, sends one, then hangs up */
		writen(f->fd, offer, sizeof offer);
		break;
	}
	default:
		break;
	}
	return NULL;
}

struct outcome {
	int rc, minor;
	char reason[128];
	struct fake f;
};

static struct outcome run_client(enum script s, const char *server_pw, const char *client_pw, int timeout_ms)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct outcome o = {.minor = -1};
	o.f = (struct fake){.fd = sv[1], .script = s, .password = server_pw, .picked = -1};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, fake_server, &o.f), 0);
	struct rfb_fd_io io;
	rfb_fd_io_init(&io, sv[0]);
	o.rc = rfb_client_auth(&io.io, client_pw, timeout_ms, &o.minor, o.reason, sizeof o.reason);
	shutdown(sv[0], SHUT_RDWR); /* unblocks a fake that still reads */
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	return o;
}

static void test_client_vnc_auth_each_version(void **state)
{
	(void)state;
	struct outcome o = run_client(S33_VNC, "secret12", "secret12", 2000);
	assert_int_equal(o.rc, RFB_OK);
	assert_int_equal(o.minor, 3);
	assert_memory_equal(o.f.client_version, "RFB 003.003\n", 12);
	assert_true(o.f.response_ok);

	o = run_client(S37_VNC, "secret12", "secret12", 2000);
	assert_int_equal(o.rc, RFB_OK);
	assert_int_equal(o.minor, 7);
	assert_memory_equal(o.f.client_version, "RFB 003.007\n", 12);
	assert_int_equal(o.f.picked, 2);

	o = run_client(S38_VNC, "secret12", "secret12", 2000);
	assert_int_equal(o.rc, RFB_OK);
	assert_int_equal(o.minor, 8);
	assert_memory_equal(o.f.client_version, "RFB 003.008\n", 12);
	assert_int_equal(o.f.picked, 2);

	o = run_client(S3889_VNC, "secret12", "secret12", 2000); /* Apple's version: spoken as 3.8 */
	assert_int_equal(o.rc, RFB_OK);
	assert_memory_equal(o.f.client_version, "RFB 003.008\n", 12);
}

static void test_client_wrong_password_is_auth_failed(void **state)
{
	(void)state;
	struct outcome o = run_client(S38_VNC, "secret12", "secret13", 2000);
	assert_int_equal(o.rc, RFB_AUTH_FAILED);
	assert_string_equal(o.reason, "Authentication failed"); /* the tab made printable */
	assert_string_equal(rfb_result_code(o.rc), "vnc_auth_failed");
	o = run_client(S33_VNC, "secret12", "nope", 2000);
	assert_int_equal(o.rc, RFB_AUTH_FAILED);
	o = run_client(S37_VNC, "secret12", "nope", 2000);
	assert_int_equal(o.rc, RFB_AUTH_FAILED);
}

static void test_client_none_when_that_is_all(void **state)
{
	(void)state;
	struct outcome o = run_client(S38_NONE, "", "secret12", 2000);
	assert_int_equal(o.rc, RFB_OK);
	assert_int_equal(o.f.picked, 1);
	o = run_client(S37_NONE, "", NULL, 2000);
	assert_int_equal(o.rc, RFB_OK);
	o = run_client(S33_NONE, "", NULL, 2000);
	assert_int_equal(o.rc, RFB_OK);
	/* a server that wants a password while the host has none */
	o = run_client(S38_VNC, "secret12", NULL, 2000);
	assert_int_equal(o.rc, RFB_NO_SECURITY);
	o = run_client(S38_TLS_ONLY, "", "secret12", 2000);
	assert_int_equal(o.rc, RFB_NO_SECURITY);
}

static void test_client_refusals_garbage_and_silence(void **state)
{
	(void)state;
	struct outcome o = run_client(S38_REFUSE, "", "x", 2000);
	assert_int_equal(o.rc, RFB_REFUSED);
	assert_string_equal(o.reason, "no more clients");
	o = run_client(S33_REFUSE, "", "x", 2000);
	assert_int_equal(o.rc, RFB_REFUSED);
	assert_string_equal(o.reason, "too many clients");
	o = run_client(GARBAGE, "", "x", 2000);
	assert_int_equal(o.rc, RFB_PROTOCOL);
	o = run_client(S38_SHORT, "", "x", 2000);
	assert_int_equal(o.rc, RFB_IO);
	uint64_t t0 = test_now_us();
	o = run_client(SILENT, "", "x", 300);
	assert_int_equal(o.rc, RFB_IO);
	assert_true(test_now_us() - t0 < 2000000);
}

/* ---------- the None front, against a scripted guest ---------- */

struct guest {
	int fd;
	const char *version;
	int pick; /* the security type it chooses */
	uint8_t got[64];
	size_t got_len;
};

static void *fake_guest(void *arg)
{
	struct guest *g = arg;
	char v[12];
	if (readn(g->fd, v, 12) != 0 || memcmp(v, "RFB 003.008\n", 12) != 0)
		return NULL;
	writen(g->fd, g->version, 12);
	if (strcmp(g->version, "RFB 003.003\n") == 0) {
		g->got_len = readn(g->fd, g->got, 4) == 0 ? 4 : 0;
		return NULL;
	}
	if (readn(g->fd, g->got, 2) != 0)
		return NULL;
	g->got_len = 2;
	uint8_t pick = (uint8_t)g->pick;
	writen(g->fd, &pick, 1);
	ssize_t n; /* whatever else comes until the front closes */
	while (g->got_len < sizeof g->got && (n = read(g->fd, g->got + g->got_len, sizeof g->got - g->got_len)) > 0)
		g->got_len += (size_t)n;
	return NULL;
}

static int run_front(struct guest *g, int *minor)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	g->fd = sv[1];
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, fake_guest, g), 0);
	struct rfb_fd_io io;
	rfb_fd_io_init(&io, sv[0]);
	int rc = rfb_front_none(&io.io, 2000, minor);
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	return rc;
}

static void test_front_offers_none_to_each_version(void **state)
{
	(void)state;
	int minor = -1;
	struct guest g = {.version = "RFB 003.008\n", .pick = 1};
	assert_int_equal(run_front(&g, &minor), RFB_OK);
	assert_int_equal(minor, 8);
	assert_int_equal(g.got_len, 6);
	assert_memory_equal(g.got, "\x01\x01\x00\x00\x00\x00", 6); /* [None], then result OK */

	g = (struct guest){.version = "RFB 003.007\n", .pick = 1};
	assert_int_equal(run_front(&g, &minor), RFB_OK);
	assert_int_equal(minor, 7);
	assert_int_equal(g.got_len, 2); /* 3.7: no result after None */

	g = (struct guest){.version = "RFB 003.003\n"};
	assert_int_equal(run_front(&g, &minor), RFB_OK);
	assert_int_equal(minor, 3);
	assert_int_equal(g.got_len, 4);
	assert_memory_equal(g.got, "\x00\x00\x00\x01", 4);

	g = (struct guest){.version = "RFB 003.005\n"}; /* as the spec says: 3.3 */
	assert_int_equal(run_front(&g, &minor), RFB_OK);
	assert_int_equal(minor, 3);
}

static void test_front_refuses_other_types_and_garbage(void **state)
{
	(void)state;
	struct guest g = {.version = "RFB 003.008\n", .pick = 2};
	assert_int_equal(run_front(&g, NULL), RFB_NO_SECURITY);
	assert_true(g.got_len > 10);
	assert_memory_equal(g.got + 2, "\x00\x00\x00\x01", 4); /* failed, with a reason */
	g = (struct guest){.version = "GET / HTTP/1"};
	assert_int_equal(run_front(&g, NULL), RFB_PROTOCOL);
}

/* ---------- a real x11vnc on Xvfb ---------- */

static bool have(const char *prog)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int connect_port(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	bind(fd, (struct sockaddr *)&sa, sizeof sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	return ntohs(sa.sin_port);
}

/* Authenticates, then ClientInit and the ServerInit's size. */
static int auth_and_init(unsigned port, const char *password, unsigned *w, unsigned *h)
{
	int fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = connect_port(port);
		if (fd < 0)
			usleep(100000);
	}
	if (fd < 0)
		return -100;
	struct rfb_fd_io io;
	rfb_fd_io_init(&io, fd);
	char reason[128];
	int rc = rfb_client_auth(&io.io, password, 10000, NULL, reason, sizeof reason);
	if (rc == RFB_OK) {
		uint8_t shared = 1, init[24];
		writen(fd, &shared, 1);
		if (readn(fd, init, sizeof init) != 0)
			rc = -1;
		*w = (unsigned)init[0] << 8 | init[1];
		*h = (unsigned)init[2] << 8 | init[3];
	}
	close(fd);
	return rc;
}

/* The lock file names a running process (one a killed Xvfb left does not:
 * Xvfb takes such a display number over by itself). */
static bool lock_is_live(const char *lock)
{
	FILE *f = fopen(lock, "r");
	if (!f)
		return false;
	long pid = 0;
	bool read = fscanf(f, "%ld", &pid) == 1;
	fclose(f);
	return !read || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

static bool listening(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void test_real_x11vnc_full_and_view_only_passwords(void **state)
{
	(void)state;
	if (!have("Xvfb") || !have("x11vnc")) {
		print_message("Xvfb or x11vnc not installed: skipped\n");
		skip();
	}
	char dir[256], disp[16], file[300], arg[320], port_text[16];
	assert_int_equal(test_tmpdir(dir, sizeof dir), 0);
	pid_t xvfb = -1;
	for (int n = 70 + (int)(getpid() % 200), tries = 0; tries < 20 && xvfb < 0; n++, tries++) {
		char lock[64], sock[64];
		snprintf(lock, sizeof lock, "/tmp/.X%d-lock", n);
		snprintf(sock, sizeof sock, "/tmp/.X11-unix/X%d", n);
		if (lock_is_live(lock))
			continue;
		snprintf(disp, sizeof disp, ":%d", n);
		char *xargv[] = {"Xvfb", disp, "-noreset", "-nolisten", "tcp", "-screen", "0", "320x240x24", NULL};
		pid_t pid = spawn(xargv);
		for (int i = 0; i < 100; i++) {
			if (listening(sock)) { /* a killed server's socket file may still be there */
				xvfb = pid;
				break;
			}
			if (waitpid(pid, NULL, WNOHANG) == pid)
				break; /* taken meanwhile: the next one */
			usleep(50000);
		}
		if (xvfb < 0)
			stop(pid);
	}
	assert_true(xvfb > 0);
	snprintf(file, sizeof file, "%s/passwd", dir);
	FILE *fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("fullpw12\n__BEGIN_VIEWONLY__\nviewpw34\n", fp);
	fclose(fp);
	chmod(file, 0600);
	snprintf(arg, sizeof arg, "rm:%s", file);
	unsigned port = free_port();
	snprintf(port_text, sizeof port_text, "%u", port);
	char *vargv[] = {"x11vnc",   "-localhost", "-rfbport", port_text,  "-passwdfile", arg,
	                 "-display", disp,         "-shared",  "-forever", "-quiet",      NULL};
	pid_t vnc = spawn(vargv);
	unsigned w = 0, h = 0;
	int full = auth_and_init(port, "fullpw12", &w, &h);
	int view = auth_and_init(port, "viewpw34", &w, &h);
	int wrong = auth_and_init(port, "wrongpw5", &w, &h);
	bool removed = access(file, F_OK) != 0;
	stop(vnc);
	stop(xvfb);
	test_rmtree(dir);
	assert_int_equal(full, RFB_OK);
	assert_int_equal(view, RFB_OK);
	assert_int_equal(w, 320);
	assert_int_equal(h, 240);
	assert_int_equal(wrong, RFB_AUTH_FAILED);
	assert_true(removed); /* rm: x11vnc deleted the password file */
}

/* ---------- remote_host_start ---------- */

static json_t *payload(const char *sid, unsigned port)
{
	char secret[64];
	uint8_t raw[32] = {1, 2, 3};
	sodium_bin2base64(secret, sizeof secret, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
	return json_pack("{s:s, s:{s:s, s:i, s:s}, s:s, s:s, s:s, s:s, s:b}", "session_id", sid, "relay", "host",
	                 "127.0.0.1", "port", (int)port, "ws_url", "", "ticket", "vt1.x.y", "guest_ticket_hash",
	                 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "session_secret", secret,
	                 "guest", "sam", "view_only", 0);
}

static void refused(struct remote_host *h, json_t *p, const char *field, json_t *value, const char *words)
{
	json_t *copy = json_deep_copy(p);
	if (strcmp(field, "port") == 0)
		json_object_set(json_object_get(copy, "relay"), "port", value);
	else if (value)
		json_object_set(copy, field, value);
	else
		json_object_del(copy, field);
	char err[256] = "";
	assert_int_equal(remote_host_start(h, copy, err, sizeof err), -1);
	if (!strstr(err, words))
		fail_msg("%s: \"%s\" does not say \"%s\"", field, err, words);
	json_decref(copy);
	json_decref(value);
}

static void test_remote_host_refuses_bad_payloads_and_a_fifth_session(void **state)
{
	(void)state;
	char dir[256];
	assert_int_equal(test_tmpdir(dir, sizeof dir), 0);
	uint8_t pk[32], sk[64];
	crypto_sign_keypair(pk, sk);
	struct remote_host_config cfg = {.vnc_command = "/nonexistent/x11vnc", /* never starts: not the subject */
	                                 .vnc_server = "",
	                                 .vnc_password_file = "",
	                                 .display = ":999",
	                                 .run_dir = dir,
	                                 .host_sk = sk};
	struct remote_host *h = remote_host_create(&cfg);
	assert_non_null(h);
	/* a "relay" that takes connections and never answers, until we close it */
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(ls, 16), 0);
	getsockname(ls, (struct sockaddr *)&sa, &len);
	unsigned port = ntohs(sa.sin_port);
	json_t *p = payload("sessionaaaaaaaaa", port);

	refused(h, p, "session_id", json_string("../../etc"), "session_id");
	refused(h, p, "session_id", NULL, "session_id");
	refused(h, p, "relay", json_string("relay.example"), "relay");
	refused(h, p, "port", json_integer(70000), "relay");
	refused(h, p, "port", json_string("1970"), "relay");
	refused(h, p, "ticket", json_integer(3), "ticket");
	refused(h, p, "guest_ticket_hash", json_string("abcd"), "guest_ticket_hash");
	refused(h, p, "guest_ticket_hash",
	        json_string("zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"), "guest_ticket_hash");
	refused(h, p, "session_secret", json_string("AAAA"), "session_secret");
	refused(h, p, "session_secret", json_string("not base64 at all!"), "session_secret");
	refused(h, p, "view_only", json_string("yes"), "view_only");
	char big[2000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	refused(h, p, "ticket", json_string(big), "ticket");
	char err[256];
	assert_int_equal(remote_host_start(h, NULL, err, sizeof err), -1);
	assert_int_equal(remote_host_active(h), 0);

	const char *sids[] = {"sessionaaaaaaaaa", "sessionbbbbbbbbb", "sessioncccccccccc", "sessiondddddddddd"};
	for (int i = 0; i < 4; i++) {
		json_t *q = payload(sids[i], port);
		assert_int_equal(remote_host_start(h, q, err, sizeof err), 0);
		json_decref(q);
	}
	assert_int_equal(remote_host_active(h), 4);
	json_t *again = payload("sessionaaaaaaaaa", port);
	assert_int_equal(remote_host_start(h, again, err, sizeof err), -1);
	assert_non_null(strstr(err, "already running"));
	json_decref(again);
	json_t *fifth = payload("sessioneeeeeeeee", port);
	assert_int_equal(remote_host_start(h, fifth, err, sizeof err), -1);
	assert_non_null(strstr(err, "too many"));
	json_decref(fifth);

	/* the relay goes away: every session fails and ends on its own */
	for (int i = 0; i < 4; i++) {
		struct pollfd pfd = {.fd = ls, .events = POLLIN};
		if (poll(&pfd, 1, 2000) == 1) {
			int c = accept(ls, NULL, NULL);
			if (c >= 0)
				close(c);
		}
	}
	close(ls);
	uint64_t t0 = test_now_us();
	while (remote_host_active(h) > 0 && test_now_us() - t0 < 20000000)
		usleep(50000);
	assert_int_equal(remote_host_active(h), 0);
	remote_host_destroy(h);
	json_decref(p);
	test_rmtree(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vnc_response_matches_openssl),
	    cmocka_unit_test(test_client_vnc_auth_each_version),
	    cmocka_unit_test(test_client_wrong_password_is_auth_failed),
	    cmocka_unit_test(test_client_none_when_that_is_all),
	    cmocka_unit_test(test_client_refusals_garbage_and_silence),
	    cmocka_unit_test(test_front_offers_none_to_each_version),
	    cmocka_unit_test(test_front_refuses_other_types_and_garbage),
	    cmocka_unit_test(test_real_x11vnc_full_and_view_only_passwords),
	    cmocka_unit_test(test_remote_host_refuses_bad_payloads_and_a_fifth_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
