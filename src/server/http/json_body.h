/*
 * JSON request bodies, checked the way every handler gets them: at most
 * HTTP_JSON_MAX_DEPTH levels of nesting (counted before the parser runs,
 * so a hostile body cannot make it recurse deeply), no duplicate members,
 * and an object at the top. Pure: no request, no reply; http_json_body()
 * (server.h) turns a refusal into 400 invalid_json, and the fuzz target
 * fuzz/fuzz_json_body.c drives this function directly.
 */
#ifndef VITRINE_HTTP_JSON_BODY_H
#define VITRINE_HTTP_JSON_BODY_H

#include <jansson.h>
#include <stddef.h>

/* Nesting depth of a JSON text, counted outside strings. */
int json_body_depth(const char *text, size_t len);

/* Parses a body. Returns the object (the caller's), or NULL with a
 * sentence for the client in msg. */
json_t *json_body_parse(const char *text, size_t len, char *msg, size_t msgsz);

#endif
