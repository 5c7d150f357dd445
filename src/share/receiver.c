/*
 * The share receiver of a display; see receiver.h. Threads:
 *   - the acceptor takes command connections on the command port and
 *     starts a connection thread for each (at most HANDSHAKES_MAX at once);
 *   - a connection thread runs the handshake, takes the sender's offer,
 *     gives it a slot and a stream port, waits for the stream connection
 *     (refusing any that does not speak with the session's stream key) and
 *     then feeds the stream's frames to its slot's GStreamer pipeline until
 *     either side ends;
 *   - the X thread owns the receiver's windows: one above everything (mapped
 *     while someone streams), one child per slot placed by the layout, into
 *     which the slot's ximagesink draws; it reads the mouse on the children
 *     and sends it to the senders that allowed input.
 * One mutex guards the receiver's state; a pipe wakes the X thread when the
 * layout changes.
 */
#include "share/receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/videooverlay.h>

#include "common/log.h"

#define HANDSHAKES_MAX 8
#define WRONG_KEYS_MAX 5  /* then the display draws a new key */
#define IO_TIMEOUT_S   10 /* handshake, offer, the stream's first record */

struct slot {
	bool used, streaming;
	int cmd_fd, stream_fd;
	char name[65];
	bool input;
	struct sockaddr_in input_to;
	uint8_t input_key[32];
	uint64_t input_seq;
	int width, height; /* of the sender's screen, from its offer */
	bool h264;         /* else VP8 */
	GstElement *pipeline, *size, *sink;
	Window window;
	bool want_window; /* the X thread creates or destroys the window */
	bool stopped;     /* the operator ended it */
};

struct share_receiver {
	pthread_mutex_t mu;
	pthread_cond_t window_ready;
	int listen_fd, wake[2], input_fd;
	uint16_t port;
	uint32_t ipv4;
	char address[INET_ADDRSTRLEN], code[SHARE_CODE_TEXT_SIZE], digits[SHARE_CODE_DIGITS + 1];
	char key[SHARE_KEY_DIGITS + 1];
	uint8_t auth[SHARE_AUTH_SIZE];
	bool brokered; /* the address is not private: the server gives the code */
	bool have_code;
	unsigned wrong_keys, handshakes;
	struct slot slots[SHARE_MAX_SENDERS];
	int promoted;
	Display *dpy;
	Window top;
	int screen_w, screen_h;
	int bar_h; /* the strip left to the kiosk page's share bar while someone shares */
	pthread_t acceptor, x_thread;
	bool stopping;
};

static bool can_decode_h264(void);

struct connection {
	struct share_receiver *r;
	int fd;
	struct sockaddr_in peer;
};

static void wake_x(struct share_receiver *r)
{
	char c = 1;
	if (write(r->wake[1], &c, 1) < 0 && errno != EAGAIN)
		log_event(LOG_WARN, "share: cannot wake the window thread", "error", strerror(errno), NULL);
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A new screen key and its authentication key (Argon2, outside the lock). */
static int new_key(struct share_receiver *r)
{
	char key[SHARE_KEY_DIGITS + 1], digits[SHARE_CODE_DIGITS + 1];
	uint8_t auth[SHARE_AUTH_SIZE];
	pthread_mutex_lock(&r->mu);
	memcpy(digits, r->digits, sizeof digits);
	pthread_mutex_unlock(&r->mu);
	share_new_screen_key(key);
	if (share_auth_key(digits, key, auth) != 0)
		return -1;
	pthread_mutex_lock(&r->mu);
	memcpy(r->key, key, sizeof key);
	memcpy(r->auth, auth, sizeof auth);
	r->wrong_keys = 0;
	pthread_mutex_unlock(&r->mu);
	sodium_memzero(auth, sizeof auth);
	sodium_memzero(key, sizeof key);
	return 0;
}

/* --- layout ------------------------------------------------------------- */

struct tile {
	int x, y, w, h;
	bool shown;
};

/* Where each slot's window goes, in the screen above the bar: the
 * streaming slots in slot order fill 1 (all of it), 2 (halves side by side)
 * or 3-4 (quadrants); a promoted slot has all of it and the others are
 * hidden. Under r->mu. */
static int layout(const struct share_receiver *r, struct tile tiles[SHARE_MAX_SENDERS])
{
	int order[SHARE_MAX_SENDERS], n = 0;
	memset(tiles, 0, sizeof(struct tile) * SHARE_MAX_SENDERS);
	for (int i = 0; i < SHARE_MAX_SENDERS; i++)
		if (r->slots[i].used && r->slots[i].streaming)
			order[n++] = i;
	if (r->promoted >= 0 && r->slots[r->promoted].used && r->slots[r->promoted].streaming) {
		tiles[r->promoted] = (struct tile){0, 0, r->screen_w, r->screen_h - r->bar_h, true};
		return 1;
	}
	int W = r->screen_w, H = r->screen_h - r->bar_h;
	for (int k = 0; k < n; k++) {
		struct tile *t = &tiles[order[k]];
		if (n == 1)
			*t = (struct tile){0, 0, W, H, true};
		else if (n == 2)
			*t = (struct tile){k * (W / 2), 0, W / 2, H, true};
		else
			*t = (struct tile){(k % 2) * (W / 2), (k / 2) * (H / 2), W / 2, H / 2, true};
	}
	return n;
}

/* The size the slot's video is scaled to: its tile (videoscale letterboxes). */
static void apply_size(struct slot *s, const struct tile *t)
{
	if (!s->size || !t->shown)
		return;
	/* ximagesink offers only its window's size, which it reads again here */
	gst_video_overlay_expose(GST_VIDEO_OVERLAY(s->sink));
	GstCaps *caps = gst_caps_new_simple("video/x-raw", "width", G_TYPE_INT, t->w & ~1, "height", G_TYPE_INT,
	                                    t->h & ~1, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
	g_object_set(s->size, "caps", caps, NULL);
	gst_caps_unref(caps);
}

/* --- the X thread --------------------------------------------------------- */

static int slot_of_window(struct share_receiver *r, Window w)
{
	for (int i = 0; i < SHARE_MAX_SENDERS; i++)
		if (r->slots[i].used && r->slots[i].window == w)
			return i;
	return -1;
}

/* Maps a point of a slot's window to 0..65535 of the sender's screen, through
 * the letterbox; false outside the picture. Under r->mu. */
static bool to_sender(const struct slot *s, const struct tile *t, int x, int y, uint16_t *sx, uint16_t *sy)
{
	if (s->width <= 0 || s->height <= 0 || t->w <= 0 || t->h <= 0)
		return false;
	double scale =
	    (double)t->w / s->width < (double)t->h / s->height ? (double)t->w / s->width : (double)t->h / s->height;
	double pw = s->width * scale, ph = s->height * scale;
	double ox = (t->w - pw) / 2, oy = (t->h - ph) / 2;
	double fx = (x - ox) / pw, fy = (y - oy) / ph;
	if (fx < 0 || fy < 0 || fx > 1 || fy > 1)
		return false;
	*sx = (uint16_t)(fx * 65535.0 + 0.5);
	*sy = (uint16_t)(fy * 65535.0 + 0.5);
	return true;
}

static void send_input(struct share_receiver *r, Window w, uint8_t type, unsigned button, int x, int y)
{
	uint8_t datagram[SHARE_INPUT_SIZE];
	struct sockaddr_in to;
	bool send_it = false;
	pthread_mutex_lock(&r->mu);
	int i = slot_of_window(r, w);
	if (i >= 0 && r->slots[i].input && r->slots[i].streaming) {
		struct tile tiles[SHARE_MAX_SENDERS];
		layout(r, tiles);
		struct share_input in = {.seq = ++r->slots[i].input_seq, .type = type, .button = (uint8_t)button};
		if (to_sender(&r->slots[i], &tiles[i], x, y, &in.x, &in.y)) {
			share_input_seal(r->slots[i].input_key, &in, datagram);
			to = r->slots[i].input_to;
			send_it = true;
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (send_it && sendto(r->input_fd, datagram, sizeof datagram, 0, (struct sockaddr *)&to, sizeof to) < 0)
		log_event(LOG_WARN, "share: an input event was not sent", "error", strerror(errno), NULL);
}

/* Creates, places, shows and hides the windows as the slots say. */
static void arrange(struct share_receiver *r)
{
	pthread_mutex_lock(&r->mu);
	struct tile tiles[SHARE_MAX_SENDERS];
	int shown = layout(r, tiles);
	for (int i = 0; i < SHARE_MAX_SENDERS; i++) {
		struct slot *s = &r->slots[i];
		if (s->want_window && !s->window) {
			XSetWindowAttributes a = {.background_pixel = BlackPixel(r->dpy, DefaultScreen(r->dpy)),
			                          .event_mask =
			                              ButtonPressMask | ButtonReleaseMask | PointerMotionMask};
			s->window = XCreateWindow(r->dpy, r->top, 0, 0, 16, 16, 0, CopyFromParent, InputOutput,
			                          CopyFromParent, CWBackPixel | CWEventMask, &a);
			pthread_cond_broadcast(&r->window_ready);
		} else if (!s->want_window && s->window) {
			XDestroyWindow(r->dpy, s->window);
			s->window = 0;
			pthread_cond_broadcast(&r->window_ready);
		}
		if (!s->window)
			continue;
		if (tiles[i].shown) {
			XMoveResizeWindow(r->dpy, s->window, tiles[i].x, tiles[i].y, (unsigned)tiles[i].w,
			                  (unsigned)tiles[i].h);
			XMapWindow(r->dpy, s->window);
			XSync(r->dpy, False);
			apply_size(s, &tiles[i]);
		} else {
			XUnmapWindow(r->dpy, s->window);
		}
	}
	if (shown) {
		XMoveResizeWindow(r->dpy, r->top, 0, 0, (unsigned)r->screen_w, (unsigned)(r->screen_h - r->bar_h));
		XMapRaised(r->dpy, r->top);
	} else {
		XUnmapWindow(r->dpy, r->top);
	}
	pthread_mutex_unlock(&r->mu);
	XFlush(r->dpy);
}

static void *x_main(void *arg)
{
	struct share_receiver *r = arg;
	int xfd = ConnectionNumber(r->dpy);
	arrange(r);
	for (;;) {
		while (XPending(r->dpy)) {
			XEvent ev;
			XNextEvent(r->dpy, &ev);
			if (ev.type == ButtonPress || ev.type == ButtonRelease)
				send_input(r, ev.xbutton.window,
				           ev.type == ButtonPress ? SHARE_INPUT_PRESS : SHARE_INPUT_RELEASE,
				           ev.xbutton.button, ev.xbutton.x, ev.xbutton.y);
			else if (ev.type == MotionNotify)
				send_input(r, ev.xmotion.window, SHARE_INPUT_MOTION, 0, ev.xmotion.x, ev.xmotion.y);
		}
		struct pollfd p[2] = {{.fd = xfd, .events = POLLIN}, {.fd = r->wake[0], .events = POLLIN}};
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			char buf[64];
			while (read(r->wake[0], buf, sizeof buf) > 0)
				;
			pthread_mutex_lock(&r->mu);
			bool stopping = r->stopping;
			pthread_mutex_unlock(&r->mu);
			if (stopping)
				break;
			arrange(r);
		}
	}
	return NULL;
}

/* --- one sender ------------------------------------------------------------ */

/* A slot's pipeline drawing into its window. */
static bool start_pipeline(struct share_receiver *r, int i)
{
	GError *error = NULL;
	pthread_mutex_lock(&r->mu);
	bool h264 = r->slots[i].h264;
	pthread_mutex_unlock(&r->mu);
	char launch[512];
	snprintf(launch, sizeof launch,
	         "appsrc name=src is-live=true do-timestamp=true format=time caps=%s ! queue max-size-buffers=8 "
	         "leaky=downstream ! %s ! videoconvert ! videoscale ! capsfilter name=size ! videoconvert ! ximagesink "
	         "name=sink sync=false handle-events=false",
	         h264 ? "video/x-h264,stream-format=byte-stream,alignment=au" : "video/x-vp8",
	         h264 ? "h264parse ! avdec_h264" : "vp8dec");
	GstElement *p = gst_parse_launch(launch, &error);
	if (!p) {
		log_event(LOG_ERROR, "share: cannot build the decoding pipeline", "error", error ? error->message : "?",
		          NULL);
		g_clear_error(&error);
		return false;
	}
	/* the window first, placed at its tile: the sink draws into it */
	pthread_mutex_lock(&r->mu);
	struct slot *s = &r->slots[i];
	s->streaming = true;
	s->want_window = true;
	pthread_mutex_unlock(&r->mu);
	wake_x(r);
	pthread_mutex_lock(&r->mu);
	while (!s->window && !r->stopping)
		pthread_cond_wait(&r->window_ready, &r->mu);
	Window w = s->window;
	pthread_mutex_unlock(&r->mu);
	if (!w) { /* the receiver stops */
		gst_object_unref(p);
		return false;
	}
	GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
	gst_video_overlay_set_window_handle(GST_VIDEO_OVERLAY(sink), (guintptr)w);
	pthread_mutex_lock(&r->mu);
	s->pipeline = p;
	s->sink = sink;
	s->size = gst_bin_get_by_name(GST_BIN(p), "size");
	pthread_mutex_unlock(&r->mu);
	wake_x(r); /* sized before it plays */
	gst_element_set_state(p, GST_STATE_PLAYING);
	return true;
}

static void end_pipeline(struct share_receiver *r, int i)
{
	pthread_mutex_lock(&r->mu);
	struct slot *s = &r->slots[i];
	GstElement *p = s->pipeline, *size = s->size, *sink = s->sink;
	s->pipeline = s->size = s->sink = NULL;
	s->streaming = false;
	pthread_mutex_unlock(&r->mu);
	if (p) {
		gst_element_set_state(p, GST_STATE_NULL);
		gst_object_unref(size);
		gst_object_unref(sink);
		gst_object_unref(p);
	}
	pthread_mutex_lock(&r->mu);
	s->want_window = false;
	pthread_mutex_unlock(&r->mu);
	wake_x(r);
	pthread_mutex_lock(&r->mu);
	while (s->window && !r->stopping)
		pthread_cond_wait(&r->window_ready, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

static json_t *refusal(const char *code, const char *message)
{
	return json_pack("{s:s, s:s, s:s}", "type", "refuse", "code", code, "message", message);
}

/* The stream listener of a slot: the first free port of the stream range. */
static int listen_stream(uint16_t *port)
{
	for (unsigned p = SHARE_STREAM_PORT_FIRST; p <= SHARE_STREAM_PORT_LAST; p++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
		a.sin_addr.s_addr = htonl(INADDR_ANY);
		if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0) {
			*port = (uint16_t)p;
			return fd;
		}
		close(fd);
	}
	return -1;
}

/* Waits for the sender's stream connection: the first one whose first
 * record opens with the session's stream key (from the sender's address);
 * any other is closed. The connected channel, or -1 after IO_TIMEOUT_S. */
static int accept_stream(int lfd, const struct sockaddr_in *sender, const uint8_t key[32], struct share_channel *out)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = IO_TIMEOUT_S * 1000L -
		            ((now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L);
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		int fd = accept4(lfd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		set_timeouts(fd, IO_TIMEOUT_S);
		share_channel_init(out, fd, NULL, key);
		uint8_t first[64];
		ssize_t n = share_channel_recv(out, first, sizeof first);
		if (from.sin_addr.s_addr == sender->sin_addr.s_addr && n == 6 && memcmp(first, "stream", 6) == 0)
			return fd;
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &from.sin_addr, a, sizeof a);
		log_event(LOG_WARN, "share: refused a stream connection that is not the sender's", "from", a, NULL);
		share_channel_wipe(out);
		close(fd);
	}
}

/* True (and logged) when the pipeline reported an error. */
static bool pipeline_failed(GstElement *pipeline)
{
	GstBus *bus = gst_element_get_bus(pipeline);
	GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
	gst_object_unref(bus);
	if (!m)
		return false;
	GError *e = NULL;
	gst_message_parse_error(m, &e, NULL);
	log_event(LOG_ERROR, "share: the decoding pipeline failed", "error", e ? e->message : "?", NULL);
	g_clear_error(&e);
	gst_message_unref(m);
	return true;
}

/* Feeds the slot's pipeline until the stream, the sender's commands or the
 * operator end it. */
static void play(struct share_receiver *r, int i, struct share_channel *cmd, struct share_channel *stream)
{
	uint8_t *frame = malloc(SHARE_RECORD_MAX);
	if (!frame)
		return;
	set_timeouts(stream->fd, 0);
	for (;;) {
		struct pollfd p[2] = {{.fd = stream->fd, .events = POLLIN}, {.fd = cmd->fd, .events = POLLIN}};
		int n = poll(p, 2, 1000);
		pthread_mutex_lock(&r->mu);
		bool over = r->stopping || r->slots[i].stopped;
		GstElement *pipeline = r->slots[i].pipeline;
		pthread_mutex_unlock(&r->mu);
		if (over || n < 0)
			break;
		if (pipeline_failed(pipeline))
			break;
		if (p[1].revents) {
			json_t *msg = share_channel_recv_json(cmd); /* the sender's only command is bye */
			json_decref(msg);
			break;
		}
		if (!p[0].revents)
			continue;
		ssize_t len = share_channel_recv(stream, frame, SHARE_RECORD_MAX);
		if (len <= 0)
			break;
		GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
		GstFlowReturn fr = gst_app_src_push_buffer(GST_APP_SRC(src), gst_buffer_new_memdup(frame, (gsize)len));
		gst_object_unref(src);
		if (fr != GST_FLOW_OK)
			break;
	}
	free(frame);
}

static int take_slot(struct share_receiver *r)
{
	for (int i = 0; i < SHARE_MAX_SENDERS; i++)
		if (!r->slots[i].used) {
			r->slots[i] = (struct slot){.used = true, .cmd_fd = -1, .stream_fd = -1};
			return i;
		}
	return -1;
}

static void serve_sender(struct share_receiver *r, int fd, const struct sockaddr_in *peer,
                         const struct share_keys *keys)
{
	struct share_channel cmd;
	share_channel_init(&cmd, fd, keys->command_to_sender, keys->command_to_display);
	json_t *offer = share_channel_recv_json(&cmd);
	const char *name = json_string_value(json_object_get(offer, "name"));
	json_int_t input_port = json_integer_value(json_object_get(offer, "input_port"));
	json_int_t width = json_integer_value(json_object_get(offer, "width"));
	json_int_t height = json_integer_value(json_object_get(offer, "height"));
	const char *type = json_string_value(json_object_get(offer, "type"));
	const char *codec = json_string_value(json_object_get(offer, "codec"));
	if (!codec)
		codec = "vp8";
	if (!offer || !type || strcmp(type, "offer") != 0 || !name || !*name || strlen(name) > 64 || width <= 0 ||
	    width > 16384 || height <= 0 || height > 16384 || !json_is_boolean(json_object_get(offer, "input")) ||
	    input_port < 0 || input_port > 65535) {
		share_channel_send_json(&cmd, refusal("bad_offer",
		                                      "the offer needs type, name (1-64 bytes), width, height, input "
		                                      "and input_port"));
		json_decref(offer);
		return;
	}
	bool h264 = strcmp(codec, "h264") == 0;
	if (!h264 && strcmp(codec, "vp8") != 0) {
		share_channel_send_json(&cmd, refusal("bad_offer", "codec is vp8 or h264"));
		json_decref(offer);
		return;
	}
	if (h264 && !can_decode_h264()) {
		share_channel_send_json(
		    &cmd, refusal("codec", "this display cannot decode H.264 (its GStreamer lacks h264parse or "
		                           "avdec_h264: gstreamer1.0-plugins-bad, gstreamer1.0-libav); share VP8"));
		json_decref(offer);
		return;
	}
	pthread_mutex_lock(&r->mu);
	int i = take_slot(r);
	if (i >= 0) {
		struct slot *s = &r->slots[i];
		s->cmd_fd = fd;
		snprintf(s->name, sizeof s->name, "%s", name);
		s->input = json_is_true(json_object_get(offer, "input")) && input_port > 0;
		s->input_to = *peer;
		s->input_to.sin_port = htons((uint16_t)input_port);
		memcpy(s->input_key, keys->input_to_sender, 32);
		s->width = (int)width;
		s->height = (int)height;
		s->h264 = h264;
	}
	pthread_mutex_unlock(&r->mu);
	json_decref(offer);
	if (i < 0) {
		share_channel_send_json(&cmd, refusal("full", "four senders are sharing to this display already"));
		return;
	}
	uint16_t stream_port = 0;
	int lfd = listen_stream(&stream_port);
	struct share_channel stream;
	int sfd = -1;
	if (lfd < 0) {
		share_channel_send_json(&cmd, refusal("no_port", "the display has no free stream port (49200-49400)"));
	} else if (share_channel_send_json(&cmd, json_pack("{s:s, s:i, s:i}", "type", "accept", "slot", i,
	                                                   "stream_port", stream_port)) == 0 &&
	           (sfd = accept_stream(lfd, peer, keys->stream_to_display, &stream)) >= 0) {
		close(lfd);
		lfd = -1;
		pthread_mutex_lock(&r->mu);
		r->slots[i].stream_fd = sfd;
		pthread_mutex_unlock(&r->mu);
		char who[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &peer->sin_addr, who, sizeof who);
		char slot_text[4];
		snprintf(slot_text, sizeof slot_text, "%d", i);
		log_event(LOG_INFO, "share: a sender is streaming", "slot", slot_text, "name", r->slots[i].name, "from",
		          who, NULL);
		if (start_pipeline(r, i)) {
			play(r, i, &cmd, &stream);
			pthread_mutex_lock(&r->mu);
			bool stopped = r->slots[i].stopped;
			pthread_mutex_unlock(&r->mu);
			if (stopped)
				share_channel_send_json(&cmd, json_pack("{s:s}", "type", "stop"));
			end_pipeline(r, i);
		}
		log_event(LOG_INFO, "share: a sender ended", "slot", slot_text, NULL);
		share_channel_wipe(&stream);
		close(sfd);
	}
	if (lfd >= 0)
		close(lfd);
	pthread_mutex_lock(&r->mu);
	sodium_memzero(&r->slots[i], sizeof r->slots[i]);
	if (r->promoted == i)
		r->promoted = -1;
	pthread_mutex_unlock(&r->mu);
	wake_x(r);
	share_channel_wipe(&cmd);
}

static void *connection_main(void *arg)
{
	struct connection *c = arg;
	struct share_receiver *r = c->r;
	set_timeouts(c->fd, IO_TIMEOUT_S);
	struct share_display_handshake hs;
	uint8_t greeting[SHARE_GREETING_SIZE], hello[SHARE_HELLO_SIZE], welcome[SHARE_WELCOME_SIZE];
	uint8_t auth[SHARE_AUTH_SIZE];
	struct share_keys keys;
	share_display_greeting(&hs, greeting);
	char who[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &c->peer.sin_addr, who, sizeof who);
	if (share_write_all(c->fd, greeting, sizeof greeting) == 0 && share_read_all(c->fd, hello, sizeof hello) == 0) {
		pthread_mutex_lock(&r->mu);
		memcpy(auth, r->auth, sizeof auth);
		bool have_code = r->have_code;
		pthread_mutex_unlock(&r->mu);
		bool ok = have_code && share_display_check(&hs, auth, hello, &keys, welcome);
		if (!have_code)
			share_display_refusal(SHARE_WELCOME_WRONG_KEY, welcome);
		sodium_memzero(auth, sizeof auth);
		bool rotate = false;
		if (!ok) {
			pthread_mutex_lock(&r->mu);
			rotate = ++r->wrong_keys >= WRONG_KEYS_MAX;
			pthread_mutex_unlock(&r->mu);
			if (rotate)
				share_display_refusal(SHARE_WELCOME_LOCKED, welcome);
			log_event(LOG_WARN, "share: refused a sender with a wrong key", "from", who, NULL);
		}
		if (share_write_all(c->fd, welcome, sizeof welcome) == 0 && ok)
			serve_sender(r, c->fd, &c->peer, &keys);
		if (rotate) {
			log_event(LOG_WARN, "share: too many wrong keys; the display shows a new key", NULL);
			if (new_key(r) != 0)
				log_event(LOG_ERROR, "share: cannot draw a new key", NULL);
		}
	}
	sodium_memzero(&keys, sizeof keys);
	close(c->fd);
	pthread_mutex_lock(&r->mu);
	r->handshakes--;
	pthread_mutex_unlock(&r->mu);
	free(c);
	return NULL;
}

static void *acceptor_main(void *arg)
{
	struct share_receiver *r = arg;
	for (;;) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof peer;
		int fd = accept4(r->listen_fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		pthread_mutex_lock(&r->mu);
		bool stopping = r->stopping, busy = r->handshakes >= HANDSHAKES_MAX + SHARE_MAX_SENDERS;
		if (fd >= 0 && !stopping && !busy)
			r->handshakes++;
		pthread_mutex_unlock(&r->mu);
		if (stopping) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		if (fd < 0)
			continue;
		struct connection *c = busy ? NULL : malloc(sizeof *c);
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (c) {
			*c = (struct connection){.r = r, .fd = fd, .peer = peer};
			if (pthread_create(&t, &attr, connection_main, c) != 0) {
				free(c);
				c = NULL;
			}
		}
		pthread_attr_destroy(&attr);
		if (!c) {
			close(fd);
			pthread_mutex_lock(&r->mu);
			if (!busy)
				r->handshakes--;
			pthread_mutex_unlock(&r->mu);
		}
	}
}

/* --- start and stop ----------------------------------------------------- */

static bool first_private_address(uint32_t *out)
{
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs) != 0)
		return false;
	bool found = false;
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
			uint32_t a = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
			if (share_code_is_private(a)) {
				*out = a;
				found = true;
			}
		}
	freeifaddrs(ifs);
	return found;
}

static int listen_command(uint16_t *port)
{
	for (int i = 0; i < SHARE_CODE_PORT_COUNT; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(share_code_ports[i])};
		a.sin_addr.s_addr = htonl(INADDR_ANY);
		if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 16) == 0) {
			*port = share_code_ports[i];
			return fd;
		}
		close(fd);
	}
	return -1;
}

static const char *missing_of(const char *const *needed, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		GstElementFactory *f = gst_element_factory_find(needed[i]);
		if (!f)
			return needed[i];
		gst_object_unref(f);
	}
	return NULL;
}

static const char *missing_element(void)
{
	static const char *const needed[] = {"appsrc", "queue", "vp8dec", "videoconvert", "videoscale", "ximagesink"};
	return missing_of(needed, sizeof needed / sizeof needed[0]);
}

static bool can_decode_h264(void)
{
	static const char *const needed[] = {"h264parse", "avdec_h264"};
	return !missing_of(needed, sizeof needed / sizeof needed[0]);
}

struct share_receiver *share_receiver_start(const struct share_receiver_config *cfg, char *err, size_t errsz)
{
	GError *gerr = NULL;
	if (!gst_init_check(NULL, NULL, &gerr)) {
		snprintf(err, errsz, "share: GStreamer does not start: %s", gerr ? gerr->message : "?");
		g_clear_error(&gerr);
		return NULL;
	}
	const char *missing = missing_element();
	if (missing) {
		snprintf(
		    err, errsz,
		    "share: GStreamer has no %s element (install gstreamer1.0-plugins-base, -good and gstreamer1.0-x)",
		    missing);
		return NULL;
	}
	struct share_receiver *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errsz, "share: out of memory");
		return NULL;
	}
	r->listen_fd = r->input_fd = r->wake[0] = r->wake[1] = -1;
	r->promoted = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->window_ready, NULL);
	if (cfg->address && *cfg->address) {
		struct in_addr a;
		if (inet_pton(AF_INET, cfg->address, &a) != 1) {
			snprintf(err, errsz, "share: --share-address must be an IPv4 address");
			goto fail;
		}
		r->ipv4 = ntohl(a.s_addr);
	} else if (!first_private_address(&r->ipv4)) {
		snprintf(err, errsz,
		         "share: this display has no private IPv4 address (10/8, 172.16/12, 192.168/16): give the "
		         "address laptops reach it at with --share-address, and the server brokers its code");
		goto fail;
	}
	r->brokered = !share_code_is_private(r->ipv4);
	struct in_addr ina = {.s_addr = htonl(r->ipv4)};
	inet_ntop(AF_INET, &ina, r->address, sizeof r->address);
	if ((r->listen_fd = listen_command(&r->port)) < 0) {
		snprintf(err, errsz, "share: none of the command ports 7385, 29736, 2067, 39458 is free");
		goto fail;
	}
	if (!r->brokered) {
		share_code_direct(r->ipv4, r->port, r->code);
		snprintf(r->digits, sizeof r->digits, "%.3s%.3s%.3s", r->code, r->code + 4, r->code + 8);
		r->have_code = true;
		if (new_key(r) != 0) {
			snprintf(err, errsz, "share: out of memory for the key");
			goto fail;
		}
	}
	if ((r->input_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		snprintf(err, errsz, "share: %s", strerror(errno));
		goto fail;
	}
	XInitThreads();
	r->dpy = XOpenDisplay(cfg->display);
	if (!r->dpy) {
		snprintf(err, errsz, "share: cannot open the X display %s",
		         cfg->display        ? cfg->display
		         : getenv("DISPLAY") ? getenv("DISPLAY")
		                             : "(DISPLAY is not set)");
		goto fail;
	}
	int screen = DefaultScreen(r->dpy);
	r->screen_w = DisplayWidth(r->dpy, screen);
	r->screen_h = DisplayHeight(r->dpy, screen);
	r->bar_h = (r->screen_h / 14) & ~1;
	XSetWindowAttributes a = {.override_redirect = True, .background_pixel = BlackPixel(r->dpy, screen)};
	r->top = XCreateWindow(r->dpy, RootWindow(r->dpy, screen), 0, 0, (unsigned)r->screen_w, (unsigned)r->screen_h,
	                       0, CopyFromParent, InputOutput, CopyFromParent, CWOverrideRedirect | CWBackPixel, &a);
	XStoreName(r->dpy, r->top, "Vitrine share");
	XFlush(r->dpy);
	if (pthread_create(&r->x_thread, NULL, x_main, r) != 0) {
		snprintf(err, errsz, "share: cannot start a thread");
		goto fail;
	}
	if (pthread_create(&r->acceptor, NULL, acceptor_main, r) != 0) {
		pthread_mutex_lock(&r->mu);
		r->stopping = true;
		pthread_mutex_unlock(&r->mu);
		wake_x(r);
		pthread_join(r->x_thread, NULL);
		snprintf(err, errsz, "share: cannot start a thread");
		goto fail;
	}
	char port[8];
	snprintf(port, sizeof port, "%u", r->port);
	log_event(LOG_INFO, "share receiver listening", "address", r->address, "port", port, NULL);
	return r;
fail:
	if (r->dpy)
		XCloseDisplay(r->dpy);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	if (r->input_fd >= 0)
		close(r->input_fd);
	if (r->wake[0] >= 0) {
		close(r->wake[0]);
		close(r->wake[1]);
	}
	sodium_memzero(r, sizeof *r);
	free(r);
	return NULL;
}

bool share_receiver_code(struct share_receiver *r, char out[SHARE_CODE_TEXT_SIZE])
{
	pthread_mutex_lock(&r->mu);
	bool have = r->have_code;
	memcpy(out, r->code, SHARE_CODE_TEXT_SIZE);
	pthread_mutex_unlock(&r->mu);
	return have;
}

bool share_receiver_brokered(struct share_receiver *r, char address[INET_ADDRSTRLEN], uint16_t *port)
{
	memcpy(address, r->address, INET_ADDRSTRLEN);
	*port = r->port;
	return r->brokered;
}

int share_receiver_set_code(struct share_receiver *r, const char *code)
{
	struct share_code_target t;
	if (!r->brokered || share_code_parse(code, &t) != SHARE_CODE_OK || t.kind != SHARE_CODE_BROKERED)
		return -1;
	pthread_mutex_lock(&r->mu);
	bool same = r->have_code && strcmp(r->code, code) == 0;
	if (!same) {
		share_code_brokered(t.broker_index, r->code);
		snprintf(r->digits, sizeof r->digits, "%.3s%.3s%.3s", r->code, r->code + 4, r->code + 8);
	}
	pthread_mutex_unlock(&r->mu);
	if (same)
		return 0;
	if (new_key(r) != 0) /* a key for this code */
		return -1;
	pthread_mutex_lock(&r->mu);
	r->have_code = true;
	pthread_mutex_unlock(&r->mu);
	return 1;
}

json_t *share_receiver_status(struct share_receiver *r)
{
	json_t *senders = json_array();
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < SHARE_MAX_SENDERS; i++) {
		const struct slot *s = &r->slots[i];
		if (s->used)
			json_array_append_new(senders, json_pack("{s:i, s:s, s:b, s:b, s:i, s:i, s:s}", "slot", i,
			                                         "name", s->name, "input", s->input, "streaming",
			                                         s->streaming, "width", s->width, "height", s->height,
			                                         "codec", s->h264 ? "h264" : "vp8"));
	}
	json_t *st =
	    json_pack("{s:o, s:o, s:s, s:i, s:o, s:o, s:[i, i], s:i, s:b}", "code",
	              r->have_code ? json_string(r->code) : json_null(), "key",
	              r->have_code ? json_string(r->key) : json_null(), "address", r->address, "port", r->port,
	              "senders", senders, "promoted", r->promoted >= 0 ? json_integer(r->promoted) : json_null(),
	              "screen", r->screen_w, r->screen_h, "bar_height", r->bar_h, "brokered", r->brokered);
	pthread_mutex_unlock(&r->mu);
	return st;
}

int share_receiver_stop_sender(struct share_receiver *r, int slot)
{
	int rc = -1;
	pthread_mutex_lock(&r->mu);
	if (slot >= 0 && slot < SHARE_MAX_SENDERS && r->slots[slot].used) {
		r->slots[slot].stopped = true;
		rc = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int share_receiver_promote(struct share_receiver *r, int slot)
{
	int rc = -1;
	pthread_mutex_lock(&r->mu);
	if (slot == -1 || (slot >= 0 && slot < SHARE_MAX_SENDERS && r->slots[slot].used)) {
		r->promoted = slot;
		rc = 0;
	}
	pthread_mutex_unlock(&r->mu);
	if (rc == 0)
		wake_x(r);
	return rc;
}

void share_receiver_stop(struct share_receiver *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	for (int i = 0; i < SHARE_MAX_SENDERS; i++)
		r->slots[i].stopped = true;
	pthread_cond_broadcast(&r->window_ready);
	pthread_mutex_unlock(&r->mu);
	shutdown(r->listen_fd, SHUT_RDWR);
	pthread_join(r->acceptor, NULL);
	/* a streaming connection sees stopping within a second (its poll), one
	 * in a handshake or waiting for its stream within IO_TIMEOUT_S */
	for (int waited = 0; waited < (IO_TIMEOUT_S + 5) * 10; waited++) {
		pthread_mutex_lock(&r->mu);
		unsigned left = r->handshakes;
		pthread_mutex_unlock(&r->mu);
		if (!left)
			break;
		usleep(100000);
	}
	wake_x(r);
	pthread_join(r->x_thread, NULL);
	XCloseDisplay(r->dpy);
	close(r->listen_fd);
	close(r->input_fd);
	close(r->wake[0]);
	close(r->wake[1]);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->window_ready);
	sodium_memzero(r, sizeof *r);
	free(r);
}
