/*
 * The daemon and its life cycle: the libmicrohttpd daemons (the API with
 * epoll, a thread pool and optional TLS; the plain-HTTP listener that
 * redirects to HTTPS), their listening sockets (bound before the daemons
 * start, so that root can be given up in between), options and limits,
 * start, graceful stop and the signal wait, and the server's accessors.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/log.h"
#include "internal.h"

/* TLS 1.3, and TLS 1.2 with forward-secret AEAD suites only: ECDHE key
 * exchange (no static RSA, no DHE), AES-GCM or ChaCha20-Poly1305 (no CBC,
 * so no SHA-1 MACs). */
#define TLS_PRIORITIES                                                                                                 \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-CIPHER-ALL:+AES-256-GCM:"         \
	"+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD"

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
	struct server *srv = cls;
	bool opened = code == MHD_CONNECTION_NOTIFY_STARTED;
	metrics_connection_delta(srv->metrics, opened ? 1 : -1);
	if (opened) {
		deadline_conn_opened(srv->guard, conn, socket_ctx);
		unsigned s = srv->cfg.header_timeout_s ? srv->cfg.header_timeout_s : 30;
		deadline_set(conn, wake_now_ms() + (uint64_t)s * 1000u);
	} else {
		deadline_conn_closed(srv->guard, socket_ctx);
	}
}

/* The redirect listener's connections: the same deadline (a whole
 * redirect must be asked for within the header timeout), no metrics. */
static void on_redirect_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                                   enum MHD_ConnectionNotificationCode code)
{
	struct server *srv = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		deadline_conn_opened(srv->guard, conn, socket_ctx);
		unsigned s = srv->cfg.header_timeout_s ? srv->cfg.header_timeout_s : 30;
		deadline_set(conn, wake_now_ms() + (uint64_t)s * 1000u);
	} else {
		deadline_conn_closed(srv->guard, socket_ctx);
	}
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* a client that went away mid-response is ordinary life, not a warning */
	bool routine =
	    strstr(msg, "Failed to send") || strstr(msg, "closed by remote") || strstr(msg, "Connection reset");
	log_event(routine ? LOG_DEBUG : LOG_WARN, "libmicrohttpd", "detail", msg, NULL);
}

/* ---------- plain HTTP -> HTTPS redirect ---------- */

static enum MHD_Result on_redirect(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
	(void)method;
	(void)version;
	(void)upload_data;
	struct server *srv = cls;
	if (!*con_cls) {
		*con_cls = (void *)1;
		return MHD_YES;
	}
	*upload_data_size = 0;
	/* The Location never echoes the request's Host (a forged Host would
	 * send users elsewhere): public_url when set, else the host of the
	 * HTTPS listen address when it names one; a wildcard listen address
	 * without public_url gets 421 and a sentence saying what to set. */
	char location[1024];
	const char *pub = srv->cfg.public_url;
	int n;
	if (pub && strncmp(pub, "https://", 8) == 0)
		n = snprintf(location, sizeof location, "%s%s", pub, url);
	else if (srv->redirect_host[0])
		n = snprintf(location, sizeof location, "https://%s:%u%s", srv->redirect_host, srv->port, url);
	else
		n = -1;
	if (n >= 0 && (size_t)n >= sizeof location)
		n = pub && strncmp(pub, "https://", 8) == 0
		        ? snprintf(location, sizeof location, "%s/", pub)
		        : snprintf(location, sizeof location, "https://%s:%u/", srv->redirect_host, srv->port);
	if (n < 0) {
		static const char nowhere[] = "This server is reached over HTTPS; its address is not configured "
		                              "(set public_url).\n";
		struct MHD_Response *resp =
		    MHD_create_response_from_buffer(sizeof nowhere - 1, (void *)nowhere, MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
		enum MHD_Result ret = MHD_queue_response(conn, 421, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	static const char body[] = "This server is reached over HTTPS.\n";
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	enum MHD_Result ret = MHD_queue_response(conn, 308, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---------- life cycle ---------- */

static int parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *port;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host)
			return -1;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon || (size_t)(colon - text) >= sizeof host)
			return -1;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
	                *res = NULL;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The host part of a listen address ("[::1]" kept bracketed), or "" for a
 * wildcard (0.0.0.0, ::, empty), which names no host to redirect to. */
static void listen_host(const char *listen, char *out, size_t outsz)
{
	out[0] = '\0';
	const char *end = listen[0] == '[' ? strchr(listen, ']') : strrchr(listen, ':');
	if (!end)
		return;
	size_t n = (size_t)(end - listen) + (listen[0] == '[');
	if (n == 0 || n >= outsz)
		return;
	memcpy(out, listen, n);
	out[n] = '\0';
	if (strcmp(out, "0.0.0.0") == 0 || strcmp(out, "[::]") == 0 || strcmp(out, "::") == 0 || strcmp(out, "*") == 0)
		out[0] = '\0';
}

static uint16_t daemon_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : 0;
}

struct server *server_create(const struct server_config *cfg, const struct route *routes, size_t n_routes,
                             const struct server_hooks *hooks)
{
	if (router_validate(routes, n_routes) != 0)
		return NULL;
	if (!hooks->authenticate || !hooks->tx_begin || !hooks->tx_end)
		return NULL;
	struct server *srv = calloc(1, sizeof *srv);
	if (!srv)
		return NULL;
	srv->cfg = *cfg;
	srv->routes = routes;
	srv->n_routes = n_routes;
	srv->hooks = *hooks;
	srv->listen_fd = srv->redirect_fd = -1;
	srv->hub = wake_hub_create();
	srv->metrics = metrics_create(routes, n_routes);
	if (!srv->hub || !srv->metrics) {
		server_destroy(srv);
		return NULL;
	}
	return srv;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* MHD's accept policy: every connection while running, none once
 * server_stop has begun (the socket is closed at once). */
static enum MHD_Result accept_while_running(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	(void)addr;
	(void)addrlen;
	const struct server *srv = cls;
	return atomic_load(&srv->stopping) ? MHD_NO : MHD_YES;
}

/* A listening socket on text (HOST:PORT), made as MHD makes its own:
 * close-on-exec, SO_REUSEADDR, IPv6 only on an IPv6 address. The fd, its
 * family and its port (the one the kernel chose for port 0); -1 with the
 * reason logged. */
static int bind_listener(const char *text, const char *what, int *family, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (parse_listen(text, &ss, &len) != 0) {
		log_event(LOG_ERROR, "cannot parse the listen address (HOST:PORT)", what, text, NULL);
		return -1;
	}
	int on = 1, fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 4096) != 0) {
		int e = errno;
		log_event(LOG_ERROR,
		          e == EACCES ? "cannot listen: a port below 1024 needs root or CAP_NET_BIND_SERVICE"
		                      : "cannot listen (address in use?)",
		          what, text, "error", strerror(e), NULL);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct sockaddr_storage got;
	socklen_t glen = sizeof got;
	*port = 0;
	if (getsockname(fd, (struct sockaddr *)&got, &glen) == 0)
		*port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
		                                        : ((struct sockaddr_in *)&got)->sin_port);
	*family = ss.ss_family;
	return fd;
}

int server_bind(struct server *srv)
{
	int family;
	if (srv->listen_fd < 0) {
		srv->listen_fd = bind_listener(srv->cfg.listen, "listen", &family, &srv->port);
		if (srv->listen_fd < 0)
			return -1;
	}
	if (srv->redirect_fd < 0 && srv->cfg.http_listen && srv->cfg.http_listen[0]) {
		srv->redirect_fd = bind_listener(srv->cfg.http_listen, "http_listen", &family, &srv->redirect_port);
		if (srv->redirect_fd < 0)
			return -1;
	}
	return 0;
}

/* The address family of a bound socket (AF_INET when it cannot be told). */
static int socket_family(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 ? ss.ss_family : AF_INET;
}

int server_start(struct server *srv)
{
	if (server_bind(srv) != 0)
		return -1;
	raise_fd_limit();
	struct rlimit rl;
	unsigned limit = srv->cfg.connection_limit;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && limit + 64 > rl.rlim_cur)
		limit = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;

	if (work_pool_start(srv) != 0)
		return -1;
	srv->guard = deadline_guard_start();
	if (!srv->guard)
		return -1;
	listen_host(srv->cfg.listen, srv->redirect_host, sizeof srv->redirect_host);
	/* behind a reverse proxy every connection comes from the proxy: the
	 * per-address limit is then the proxy's job */
	unsigned per_ip = srv->cfg.n_trusted_proxies ? 0 : srv->cfg.per_ip_connection_limit;

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	                 MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_TURBO;
	if (socket_family(srv->listen_fd) == AF_INET6)
		flags |= MHD_USE_IPv6;
	bool tls = srv->cfg.tls_cert_pem && srv->cfg.tls_key_pem;
	if (tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)srv->cfg.tls_cert_pem},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)srv->cfg.tls_key_pem},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
	    {MHD_OPTION_END, 0, NULL},
	};
	srv->daemon = MHD_start_daemon(
	    flags, 0, accept_while_running, srv, pipeline_on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)srv->cfg.threads, MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
	    /* the per-connection pool holds the request line and headers and
	     * the send buffer; 8 KiB (nginx's header limit) keeps an idle
	     * long-poll cheap, TLS records need more */
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(tls ? 32768 : 8192), MHD_OPTION_NOTIFY_COMPLETED, pipeline_on_completed, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_ARRAY, tls ? tls_opts : &tls_opts[3],
	    MHD_OPTION_END);
	/* the daemon owns the socket now (MHD_stop_daemon closes it); after a
	 * failure it may have closed it already: it is not closed twice */
	srv->listen_fd = -1;
	if (!srv->daemon) {
		log_event(LOG_ERROR, "cannot start the HTTP server (bad TLS files?)", "listen", srv->cfg.listen, NULL);
		return -1;
	}
	if (daemon_port(srv->daemon))
		srv->port = daemon_port(srv->daemon);
	if (srv->redirect_fd >= 0) {
		int fd = srv->redirect_fd;
		srv->redirect_fd = -1;
		srv->redirect = MHD_start_daemon(
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
		        (socket_family(fd) == AF_INET6 ? MHD_USE_IPv6 : 0),
		    0, NULL, NULL, on_redirect, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192,
		    MHD_OPTION_NOTIFY_CONNECTION, on_redirect_connection, srv, MHD_OPTION_END);
		if (!srv->redirect) {
			log_event(LOG_ERROR, "cannot start the HTTP redirect listener", "listen", srv->cfg.http_listen,
			          NULL);
			return -1;
		}
		if (daemon_port(srv->redirect))
			srv->redirect_port = daemon_port(srv->redirect);
	}
	return 0;
}

uint16_t server_port(struct server *srv)
{
	return srv->port;
}
uint16_t server_redirect_port(struct server *srv)
{
	return srv->redirect_port;
}
struct wake_hub *server_hub(struct server *srv)
{
	return srv->hub;
}
const struct server_config *server_config(struct server *srv)
{
	return &srv->cfg;
}

char *server_render_metrics(struct server *srv)
{
	return metrics_render(srv->metrics, wake_suspended_count(srv->hub), wake_resumes_total(srv->hub));
}

void server_stop(struct server *srv, unsigned grace_ms)
{
	if (!srv->daemon)
		return;
	if (srv->redirect) {
		MHD_stop_daemon(srv->redirect);
		srv->redirect = NULL;
	}
	/* From here new connections are closed as soon as they are accepted
	 * (accept_while_running). Not MHD_quiesce_daemon: with a thread pool
	 * and epoll, it races each worker removing the listen socket from its
	 * own epoll set, and the loser aborts the process ("Failed to remove
	 * listen FD from epoll set"). Long-polls answer now and new requests
	 * on open connections at once, 503 + Retry-After + Connection: close;
	 * streams end; uploads and other requests in flight may finish within
	 * the grace. */
	atomic_store(&srv->stopping, true);
	wake_shutdown(srv->hub);
	uint64_t until = wake_now_ms() + grace_ms;
	while (atomic_load(&srv->in_flight) > 0 && wake_now_ms() < until)
		usleep(10000);
	long left = atomic_load(&srv->in_flight);
	if (left > 0) {
		char n[24];
		snprintf(n, sizeof n, "%ld", left);
		log_event(LOG_WARN, "stopping with requests still in flight", "count", n, NULL);
	}
	/* work pool: finish queued jobs so nobody stays suspended */
	work_pool_stop(srv);
	MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
	deadline_guard_stop(srv->guard); /* after MHD's last close notice */
	srv->guard = NULL;
}

void server_destroy(struct server *srv)
{
	if (!srv)
		return;
	if (srv->daemon)
		server_stop(srv, 0);
	if (srv->listen_fd >= 0) /* bound, never served */
		close(srv->listen_fd);
	if (srv->redirect_fd >= 0)
		close(srv->redirect_fd);
	deadline_guard_stop(srv->guard);
	free(srv->pool.threads);
	wake_hub_destroy(srv->hub);
	metrics_destroy(srv->metrics);
	free(srv);
}

void server_run_until_signal(struct server *srv)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	int sig = 0;
	sigwait(&set, &sig);
	log_event(LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	server_stop(srv, srv->cfg.stop_grace_ms ? srv->cfg.stop_grace_ms : 10000);
}
