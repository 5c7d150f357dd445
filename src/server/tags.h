/*
 * Tags on screens and media: one rule for both areas, so what a screen
 * accepts a media item accepts too.
 */
#ifndef VITRINE_TAGS_H
#define VITRINE_TAGS_H

#include <jansson.h>
#include <stdbool.h>

struct http_req;

/* Checks a "tags" value: at most 32 strings of 1-64 bytes without quotes
 * (tags are searched inside their JSON text). Replies 400 and returns false
 * otherwise. */
bool tags_check(struct http_req *r, json_t *tags);

#endif
