/* The kiosk page files (web/player/), embedded at build time. */
#ifndef VITRINE_PLAYER_KIOSK_ASSETS_H
#define VITRINE_PLAYER_KIOSK_ASSETS_H

#include <stddef.h>

struct embedded_asset {
	const char *name;
	const unsigned char *data;
	size_t len;
};
extern const struct embedded_asset kiosk_assets[];
extern const size_t kiosk_assets_count;

#endif
