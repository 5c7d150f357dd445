/*
 * Screen rules: the small language that filters the screens list and
 * defines dynamic groups ("version < 1.5 and tag = lobby"). A rule is
 * parsed once into a tree (rule_parse), then evaluated against the JSON
 * view of a screen (rule_match) — the same view GET /api/v1/screens
 * returns, with its inventory — so a rule means the same thing in the
 * list, in a group and in a bulk action.
 *
 *   rule  := or
 *   or    := and { "or" and }
 *   and   := unary { "and" unary }
 *   unary := "not" unary | "(" rule ")" | field op value
 *   op    := "=" | "!=" | "<" | "<=" | ">" | ">=" | "~" (contains) | "!~"
 *   value := word of [A-Za-z0-9._:/@*-] | "quoted string" (\" and \\ inside)
 *
 * Outside quotes "+" reads as a space (a rule in a form-encoded query
 * string: ?rule=tag+%3D+lobby); inside quotes it is itself.
 *
 * Field names are in rule_fields (rule.c). A field can have several values
 * (the tags, every disk, every address): "=", "<", "~"... hold when one of
 * them does; "!=" and "!~" hold when none is equal / contains. Two numbers
 * compare as numbers; anything else compares case-insensitively, runs of
 * digits as numbers (so "1.10" > "1.9" and "v2" < "v10"). A field the
 * screen has not reported has no value: only "!=" and "!~" hold for it.
 */
#ifndef VITRINE_SCREENS_RULE_H
#define VITRINE_SCREENS_RULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define RULE_MAX_TEXT  1000
#define RULE_MAX_NODES 64

struct rule;

/* Parses text. Returns the rule, or NULL with a sentence in err that says
 * where and what is wrong ("at character 12: ..."). */
struct rule *rule_parse(const char *text, char *err, size_t errsz);
void rule_free(struct rule *r);

/* True when the screen (its JSON view) matches the rule. */
bool rule_match(const struct rule *r, json_t *screen);

/* The field names, comma separated, for error messages and the docs. */
const char *rule_field_names(void);

#endif
