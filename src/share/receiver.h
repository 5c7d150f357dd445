/*
 * The share receiver of a display (vitrine-player --share): it listens on
 * the first free command port of share_code_ports, shows its share code and
 * a screen key of its own on the kiosk page, and shows what up to
 * SHARE_MAX_SENDERS senders stream to it side by side (1, 2, 2x2) in a
 * window above everything else on its X display but a bar at the bottom,
 * where the kiosk page lets the display's operator stop a sender or show
 * one alone (promote), and the mouse on a sender's
 * tile goes back to that sender, when it allowed it, as input datagrams.
 * Video is decoded and drawn by GStreamer (vp8dec, ximagesink).
 *
 * It runs on its own threads (one that accepts, one per connection, one
 * for X); every function here may be called from any thread.
 */
#ifndef VITRINE_SHARE_RECEIVER_H
#define VITRINE_SHARE_RECEIVER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "share/code.h"
#include "share/session.h"

struct share_receiver_config {
	const char *address; /* the IPv4 address laptops reach it at; NULL or "": the first private one of
	                        the interfaces. Any other than a private one needs a brokered code. */
	const char *display; /* X display; NULL: $DISPLAY */
};

struct share_receiver;

/* Starts the receiver; NULL with a sentence in err when it cannot (no
 * private address, no command port free, no X display, no GStreamer
 * element). Owned by the caller: share_receiver_stop frees it. */
struct share_receiver *share_receiver_start(const struct share_receiver_config *cfg, char *err, size_t errsz);

/* The code as shown ("DDD-DDD-DDD"), into out; false while a brokered
 * display has none yet. */
bool share_receiver_code(struct share_receiver *r, char out[SHARE_CODE_TEXT_SIZE]);

/* True when the address is not private, so the server must give the code
 * (POST /api/v1/device/share-code with this address and port). */
bool share_receiver_brokered(struct share_receiver *r, char address[INET_ADDRSTRLEN], uint16_t *port);

/* Takes the brokered code the server gave: 1 when it is new (a new key
 * is drawn for it), 0 when it is the one shown, -1 when it is none. Until
 * the first, every sender is refused. */
int share_receiver_set_code(struct share_receiver *r, const char *code);

/* What the kiosk page shows and the operator acts on, as a new JSON object:
 * {"code" (null until a brokered one came), "key", "address", "port", "brokered", "senders": [{"slot", "name", "input",
 * "streaming", "width", "height"}], "promoted", "screen": [w, h],
 * "bar_height"}: while someone shares, the bottom bar_height pixels of the
 * screen are left to the kiosk page (its share bar: who shares, stop, full
 * screen). The caller owns it. */
json_t *share_receiver_status(struct share_receiver *r);

/* Ends the share of the sender in slot; -1 when no sender is there. */
int share_receiver_stop_sender(struct share_receiver *r, int slot);

/* Shows only the sender of slot, full screen (slot -1: all side by side
 * again); -1 when no sender is there. */
int share_receiver_promote(struct share_receiver *r, int slot);

/* Ends every share and frees r. */
void share_receiver_stop(struct share_receiver *r);

#endif
