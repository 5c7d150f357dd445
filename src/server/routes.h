/* The route table of vitrine-server (routes.c). */
#ifndef VITRINE_ROUTES_H
#define VITRINE_ROUTES_H

#include <stddef.h>

#include "http/router.h"

extern const struct route server_routes[];
extern const size_t server_routes_count;

#endif
