/*
 * `vitrine share CODE`: shares this computer's screen to the display that
 * shows CODE. The code gives the display's address and command port
 * (src/share/code.h); the key the display shows beside it (--key, the
 * VITRINE_SHARE_KEY environment variable, or asked on the terminal)
 * authenticates both ends (src/share/session.h). Then the screen is
 * captured from X11 (GStreamer's ximagesrc), encoded in VP8 (or H.264 with
 * --codec h264, x264) for low latency (one frame in, one frame out: no
 * look-ahead, no B-frames, a real-time deadline) and
 * streamed, encrypted, on the stream port the display gives. Mouse input
 * the display sends back is replayed on this screen through XTest, unless
 * --no-input. Exit 0 when the share ends (Ctrl-C, or the display stopped
 * it), 1 when the display refused or the network failed, 2 on a bad code or
 * command line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include "cli.h"
#include "prompt.h"
#include "share/code.h"
#include "share/session.h"

#define SHARE_CONNECT_TIMEOUT_S 5
#define SHARE_IO_TIMEOUT_S      10

enum { OPT_KEY = CLI_OPT_FIRST_COMMAND, OPT_NAME, OPT_NO_INPUT, OPT_DISPLAY, OPT_FPS, OPT_BITRATE, OPT_CODEC };

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;
	if (write(stop_pipe[1], &c, 1) < 0) {
		/* full: a stop is already pending */
	}
	errno = saved;
}

static int connect_to(uint32_t ipv4, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = SHARE_CONNECT_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(ipv4);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		int saved = errno;
		close(fd);
		errno = saved == EINPROGRESS ? ETIMEDOUT : saved;
		return -1;
	}
	tv.tv_sec = SHARE_IO_TIMEOUT_S;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static const char *welcome_sentence(int status)
{
	switch (status) {
	case SHARE_WELCOME_WRONG_KEY:
		return "the display refused the key: type the key the display shows beside its code";
	case SHARE_WELCOME_LOCKED:
		return "the display refused the key and, after too many wrong keys, shows a new one: type the new key";
	case SHARE_WELCOME_FULL:
		return "four senders are sharing to this display already";
	case -1:
		return "the other end did not prove it knows the key: it is not the display of this code";
	}
	return "the display answered the handshake with something unknown";
}

/* The encoder's frames, sent as records while the share lasts. */
struct streamer {
	GstElement *sink;
	struct share_channel *stream;
	volatile int stop;
	int failed_errno;
	unsigned long frames;
};

static void *stream_main(void *arg)
{
	struct streamer *s = arg;
	while (!s->stop) {
		GstSample *sample = gst_app_sink_try_pull_sample(GST_APP_SINK(s->sink), 100 * GST_MSECOND);
		if (!sample) {
			if (gst_app_sink_is_eos(GST_APP_SINK(s->sink))) {
				s->failed_errno = EIO;
				break;
			}
			continue;
		}
		GstBuffer *buf = gst_sample_get_buffer(sample);
		GstMapInfo map;
		int rc = 0;
		if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
			if (map.size > 0)
				rc = share_channel_send(s->stream, map.data, map.size);
			gst_buffer_unmap(buf, &map);
		}
		gst_sample_unref(sample);
		if (rc != 0) {
			s->failed_errno = errno;
			break;
		}
		s->frames++;
	}
	s->stop = 1;
	char c = 's';
	if (write(stop_pipe[1], &c, 1) < 0) {
		/* a stop is pending already */
	}
	return NULL;
}

/* Replays one input event of the display on this screen. */
static void replay_input(Display *dpy, const struct share_input *in, int w, int h)
{
	int x = (int)((double)in->x * (w - 1) / 65535.0 + 0.5), y = (int)((double)in->y * (h - 1) / 65535.0 + 0.5);
	XTestFakeMotionEvent(dpy, DefaultScreen(dpy), x, y, CurrentTime);
	if ((in->type == SHARE_INPUT_PRESS || in->type == SHARE_INPUT_RELEASE) && in->button >= 1 && in->button <= 9)
		XTestFakeButtonEvent(dpy, in->button, in->type == SHARE_INPUT_PRESS, CurrentTime);
	XFlush(dpy);
}

/* A code of the brokered range: the server says where its display listens
 * (GET /api/v1/share-codes/{code}, no login needed). The server is --server,
 * else the one of the last login. */
static int resolve_brokered(struct cli *cli, struct share_code_target *t)
{
	char server[1024];
	int rc;
	if (cli->server_opt) {
		if (api_normalize_url(cli->server_opt, server, sizeof server) != 0)
			return cli_usage_error(cli, "--server must be an http:// or https:// URL");
		rc = cli_connect_anonymous(cli, server, cli->ca_opt);
	} else {
		rc = cli_connect(cli);
		if (rc != CLI_OK)
			cli_error(
			    "this code is brokered by a Vitrine server (the display is outside the private address "
			    "ranges): pass --server URL");
	}
	if (rc != CLI_OK)
		return rc;
	char path[64], digits[SHARE_CODE_DIGITS + 1], code[SHARE_CODE_TEXT_SIZE];
	share_code_brokered(t->broker_index, code);
	snprintf(digits, sizeof digits, "%.3s%.3s%.3s", code, code + 4, code + 8);
	snprintf(path, sizeof path, "/api/v1/share-codes/%s", digits);
	struct api_resp resp;
	if (api_call(&cli->api, "GET", path, NULL, 30, &resp) != 0 || resp.status != 200) {
		rc = cli_fail(cli, &resp, "resolving the share code");
		api_resp_free(&resp);
		return rc;
	}
	const char *address = json_string_value(json_object_get(resp.json, "address"));
	json_int_t port = json_integer_value(json_object_get(resp.json, "port"));
	struct in_addr a;
	if (!address || inet_pton(AF_INET, address, &a) != 1 || port <= 0 || port > 65535) {
		api_resp_free(&resp);
		cli_error("the server's answer for this share code has no address and port");
		return CLI_FAILED;
	}
	t->ipv4 = ntohl(a.s_addr);
	t->port = (uint16_t)port;
	api_resp_free(&resp);
	return CLI_OK;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cmd_share(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, OPT_KEY},     {"name", required_argument, NULL, OPT_NAME},
	    {"no-input", no_argument, NULL, OPT_NO_INPUT}, {"display", required_argument, NULL, OPT_DISPLAY},
	    {"fps", required_argument, NULL, OPT_FPS},     {"bitrate", required_argument, NULL, OPT_BITRATE},
	    {"codec", required_argument, NULL, OPT_CODEC}, {NULL, 0, NULL, 0}};
	int c, rc = CLI_FAILED;
	const char *key_opt = getenv("VITRINE_SHARE_KEY"), *name = NULL, *display = NULL;
	bool input = true, h264 = false;
	unsigned long fps = 30, kbps = 6000;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_KEY)
			key_opt = optarg;
		else if (c == OPT_NAME)
			name = optarg;
		else if (c == OPT_NO_INPUT)
			input = false;
		else if (c == OPT_DISPLAY)
			display = optarg;
		else if (c == OPT_FPS && parse_uint(optarg, 1, 60, &fps) != 0)
			return cli_usage_error(cli, "--fps takes frames per second, 1-60");
		else if (c == OPT_BITRATE && parse_uint(optarg, 100, 100000, &kbps) != 0)
			return cli_usage_error(cli, "--bitrate takes kilobits per second, 100-100000");
		else if (c == OPT_CODEC && strcmp(optarg, "vp8") != 0 && strcmp(optarg, "h264") != 0)
			return cli_usage_error(cli, "--codec is vp8 or h264");
		else if (c == OPT_CODEC)
			h264 = strcmp(optarg, "h264") == 0;
	}
	if (argc - optind != 1)
		return cli_usage_error(cli, "needs CODE, the nine digits the display shows (DDD-DDD-DDD)");
	struct share_code_target target;
	enum share_code_status status = share_code_parse(argv[optind], &target);
	if (status != SHARE_CODE_OK)
		return cli_usage_error(cli, "%s", share_code_status_message(status));
	if (target.kind == SHARE_CODE_BROKERED && (rc = resolve_brokered(cli, &target)) != CLI_OK)
		return rc;
	char hostname[65] = "";
	if (!name) {
		if (gethostname(hostname, sizeof hostname - 1) != 0 || !*hostname)
			snprintf(hostname, sizeof hostname, "laptop");
		name = hostname;
	}
	if (!*name || strlen(name) > 64)
		return cli_usage_error(cli, "--name takes 1-64 bytes");
	if (!display)
		display = getenv("DISPLAY");
	if (!display || !*display) {
		cli_error(getenv("WAYLAND_DISPLAY")
		              ? "this is a Wayland session without X11: capturing through the PipeWire portal is not "
		                "supported yet; share from an X11 session (or XWayland with DISPLAY set)"
		              : "no X display to capture: set DISPLAY or pass --display");
		return CLI_FAILED;
	}
	/* it goes into a GStreamer launch line: a name, never more elements */
	if (strspn(display, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:._-/") != strlen(display))
		return cli_usage_error(cli, "the X display is a name like :0 or host:1.0");
	char key[32] = "";
	if (key_opt) {
		snprintf(key, sizeof key, "%s", key_opt);
	} else {
		enum prompt_result pr = prompt_tty("Key shown on the display: ", false, key, sizeof key);
		if (pr != PROMPT_OK) {
			cli_error("needs the key the display shows beside its code: --key KEY, VITRINE_SHARE_KEY, or a "
			          "terminal to ask on");
			return CLI_USAGE;
		}
	}
	char digits[SHARE_CODE_DIGITS + 1], code[SHARE_CODE_TEXT_SIZE];
	if (target.kind == SHARE_CODE_BROKERED)
		share_code_brokered(target.broker_index, code);
	else
		share_code_direct(target.ipv4, target.port, code);
	snprintf(digits, sizeof digits, "%.3s%.3s%.3s", code, code + 4, code + 8);
	uint8_t auth[SHARE_AUTH_SIZE];
	if (share_auth_key(digits, key, auth) != 0) {
		sodium_memzero(key, sizeof key);
		return cli_usage_error(cli, "the key is the %d digits the display shows beside its code",
		                       SHARE_KEY_DIGITS);
	}
	sodium_memzero(key, sizeof key);

	GError *gerr = NULL;
	if (!gst_init_check(NULL, NULL, &gerr)) {
		cli_error("GStreamer does not start: %s", gerr ? gerr->message : "?");
		g_clear_error(&gerr);
		return CLI_FAILED;
	}
	XInitThreads();
	Display *dpy = XOpenDisplay(display);
	if (!dpy) {
		cli_error("cannot open the X display %s", display);
		return CLI_FAILED;
	}
	int width = DisplayWidth(dpy, DefaultScreen(dpy)), height = DisplayHeight(dpy, DefaultScreen(dpy));
	int xtest_event, xtest_error, xtest_major, xtest_minor;
	if (input && !XTestQueryExtension(dpy, &xtest_event, &xtest_error, &xtest_major, &xtest_minor)) {
		cli_note(cli, "this X display has no XTest extension: input from the display is off");
		input = false;
	}

	char where[64];
	struct in_addr ina = {.s_addr = htonl(target.ipv4)};
	inet_ntop(AF_INET, &ina, where, sizeof where);
	int fd = -1, sfd = -1, ufd = -1;
	GstElement *pipeline = NULL;
	struct share_channel cmd, stream;
	memset(&cmd, 0, sizeof cmd);
	memset(&stream, 0, sizeof stream);
	rc = CLI_FAILED;
	if ((fd = connect_to(target.ipv4, target.port)) < 0) {
		cli_error("cannot reach the display at %s port %u: %s", where, target.port, strerror(errno));
		goto out;
	}
	struct share_sender_handshake hs;
	uint8_t greeting[SHARE_GREETING_SIZE], hello[SHARE_HELLO_SIZE], welcome[SHARE_WELCOME_SIZE];
	struct share_keys keys;
	if (share_read_all(fd, greeting, sizeof greeting) != 0 || !share_sender_hello(&hs, auth, greeting, hello)) {
		cli_error("%s port %u is not a Vitrine display (no share greeting)", where, target.port);
		goto out;
	}
	if (share_write_all(fd, hello, sizeof hello) != 0 || share_read_all(fd, welcome, sizeof welcome) != 0) {
		cli_error("the display closed the connection during the handshake");
		goto out;
	}
	int verdict = share_sender_finish(&hs, welcome, &keys);
	if (verdict != SHARE_WELCOME_OK) {
		cli_error("%s", welcome_sentence(verdict));
		goto out;
	}
	share_channel_init(&cmd, fd, keys.command_to_display, keys.command_to_sender);

	uint16_t input_port = 0;
	if (input) {
		/* the first free of the share range, which /firewall lists */
		ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		for (unsigned port = SHARE_STREAM_PORT_FIRST; ufd >= 0 && !input_port && port <= SHARE_STREAM_PORT_LAST;
		     port++) {
			struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
			if (bind(ufd, (struct sockaddr *)&a, sizeof a) == 0)
				input_port = (uint16_t)port;
		}
		if (!input_port) {
			cli_error("cannot open an input port in UDP 49200-49400: %s", strerror(errno));
			goto out;
		}
	}
	if (share_channel_send_json(&cmd, json_pack("{s:s, s:s, s:i, s:i, s:s, s:b, s:i}", "type", "offer", "name",
	                                            name, "width", width, "height", height, "codec",
	                                            h264 ? "h264" : "vp8", "input", input, "input_port", input_port)) !=
	    0) {
		cli_error("the display closed the connection: %s", strerror(errno));
		goto out;
	}
	json_t *answer = share_channel_recv_json(&cmd);
	const char *type = json_string_value(json_object_get(answer, "type"));
	if (!type || strcmp(type, "accept") != 0) {
		const char *message = json_string_value(json_object_get(answer, "message"));
		cli_error("the display refused the share: %s", message ? message : "no answer");
		json_decref(answer);
		goto out;
	}
	json_int_t slot = json_integer_value(json_object_get(answer, "slot"));
	json_int_t stream_port = json_integer_value(json_object_get(answer, "stream_port"));
	json_decref(answer);
	if (stream_port < SHARE_STREAM_PORT_FIRST || stream_port > SHARE_STREAM_PORT_LAST) {
		cli_error("the display gave a stream port outside 49200-49400");
		goto out;
	}
	if ((sfd = connect_to(target.ipv4, (uint16_t)stream_port)) < 0) {
		cli_error("cannot reach the display's stream port %lld: %s", (long long)stream_port, strerror(errno));
		goto out;
	}
	share_channel_init(&stream, sfd, keys.stream_to_display, NULL);
	if (share_channel_send(&stream, "stream", 6) != 0) {
		cli_error("the display closed the stream: %s", strerror(errno));
		goto out;
	}

	/* low latency: no look-ahead, no B-frames, a real-time deadline, a key
	 * frame every 2 s (SPS/PPS with each, for H.264) */
	char encoder[512], launch[1024];
	if (h264)
		snprintf(
		    encoder, sizeof encoder,
		    "x264enc tune=zerolatency speed-preset=ultrafast bitrate=%lu key-int-max=%lu bframes=0 threads=2 "
		    "! video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 "
		    "! video/x-h264,stream-format=byte-stream,alignment=au",
		    kbps, fps * 2);
	else
		snprintf(encoder, sizeof encoder,
		         "vp8enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate=%lu keyframe-max-dist=%lu "
		         "lag-in-frames=0 error-resilient=default threads=2",
		         kbps * 1000, fps * 2);
	snprintf(launch, sizeof launch,
	         "ximagesrc display-name=\"%s\" use-damage=false show-pointer=true ! video/x-raw,framerate=%lu/1 "
	         "! queue max-size-buffers=2 leaky=downstream ! videoconvert ! video/x-raw,format=I420 ! %s "
	         "! appsink name=out sync=false max-buffers=4",
	         display, fps, encoder);
	pipeline = gst_parse_launch(launch, &gerr);
	if (!pipeline) {
		cli_error("cannot build the capture pipeline (ximagesrc and vp8enc are in gstreamer1.0-plugins-good, "
		          "x264enc in -ugly, h264parse in -bad): %s",
		          gerr ? gerr->message : "?");
		g_clear_error(&gerr);
		goto out;
	}
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		cli_error("%s", strerror(errno));
		goto out;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct streamer st = {.sink = gst_bin_get_by_name(GST_BIN(pipeline), "out"), .stream = &stream};
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	pthread_t streamer;
	if (pthread_create(&streamer, NULL, stream_main, &st) != 0) {
		cli_error("cannot start a thread");
		gst_object_unref(st.sink);
		goto out;
	}
	cli_info(cli, "sharing %s (%dx%d) to %s port %u as sender %lld%s", display, width, height, where, target.port,
	         (long long)slot + 1, input ? ", input from the display allowed" : "");
	const char *ended = NULL;
	uint64_t last_seq = 0;
	while (!ended) {
		struct pollfd p[3] = {{.fd = stop_pipe[0], .events = POLLIN},
		                      {.fd = fd, .events = POLLIN},
		                      {.fd = ufd, .events = POLLIN}};
		if (poll(p, ufd >= 0 ? 3 : 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			char why = 0;
			if (read(stop_pipe[0], &why, 1) < 0) {
				/* nothing to read: a spurious wake-up */
			}
			ended = why == 's' ? "" : "stopped here";
			/* the stream fails when the display ends the share: did it say why? */
			struct pollfd q = {.fd = fd, .events = POLLIN};
			if (why == 's' && poll(&q, 1, 1000) == 1) {
				json_t *msg = share_channel_recv_json(&cmd);
				const char *t = json_string_value(json_object_get(msg, "type"));
				if (t && strcmp(t, "stop") == 0)
					ended = "the display stopped it";
				json_decref(msg);
			}
		} else if (p[1].revents) {
			json_t *msg = share_channel_recv_json(&cmd);
			const char *t = json_string_value(json_object_get(msg, "type"));
			ended = t && strcmp(t, "stop") == 0 ? "the display stopped it" : "the display ended it";
			json_decref(msg);
		} else if (ufd >= 0 && p[2].revents) {
			uint8_t dgram[128];
			struct sockaddr_in from;
			socklen_t fl = sizeof from;
			ssize_t n = recvfrom(ufd, dgram, sizeof dgram, 0, (struct sockaddr *)&from, &fl);
			struct share_input in;
			if (n > 0 && from.sin_addr.s_addr == htonl(target.ipv4) &&
			    share_input_open(keys.input_to_sender, dgram, (size_t)n, &in) && in.seq > last_seq) {
				last_seq = in.seq;
				replay_input(dpy, &in, width, height);
			}
		}
	}
	st.stop = 1;
	pthread_join(streamer, NULL);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(st.sink);
	if (ended && !*ended) {
		cli_error("the stream to the display failed after %lu frames: %s", st.frames,
		          st.failed_errno ? strerror(st.failed_errno) : "the capture ended");
	} else {
		if (ended && strcmp(ended, "stopped here") == 0)
			share_channel_send_json(&cmd, json_pack("{s:s}", "type", "bye"));
		cli_info(cli, "share ended (%s) after %lu frames", ended ? ended : "?", st.frames);
		rc = CLI_OK;
	}
out:
	if (pipeline)
		gst_object_unref(pipeline);
	sodium_memzero(auth, sizeof auth);
	sodium_memzero(&keys, sizeof keys);
	share_channel_wipe(&cmd);
	share_channel_wipe(&stream);
	if (fd >= 0)
		close(fd);
	if (sfd >= 0)
		close(sfd);
	if (ufd >= 0)
		close(ufd);
	XCloseDisplay(dpy);
	return rc;
}
