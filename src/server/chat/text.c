/*
 * The checks of text a person typed, for every chat route: a message
 * (any characters but NUL, valid UTF-8, 1 to 4000 of them) and the other
 * text fields (names, titles, labels, answers: no control characters but,
 * where lines are allowed, newline and tab). Text passing them is stored
 * and shown as the text it is.
 */
#include <stdio.h>
#include <string.h>

#include "../../common/utf8.h"
#include "chat.h"

const char *chat_text_problem(json_t *text)
{
	const char *s = json_string_value(text);
	if (!s || strlen(s) != json_string_length(text))
		return "text must be a string (without NUL characters)";
	long n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
		int len = utf8_sequence(p);
		if (len < 0)
			return "text must be valid UTF-8";
		p += len;
	}
	if (n == 0)
		return "text must not be empty";
	if (n > CHAT_TEXT_MAX_CHARS)
		return "text must be at most 4000 characters";
	return NULL;
}

bool chat_field_ok(json_t *j, const char *name, long min_chars, long max_chars, bool lines, char *why, size_t whysz)
{
	const char *s = json_string_value(j);
	long n = 0;
	bool ok = s && strlen(s) == json_string_length(j);
	for (const unsigned char *p = (const unsigned char *)(ok ? s : ""); ok && *p; n++) {
		int len = utf8_sequence(p);
		if (len < 0 || (*p < 0x20 && !(lines && (*p == '\n' || *p == '\t'))) || *p == 0x7f)
			ok = false;
		else
			p += len;
	}
	if (ok && n >= min_chars && n <= max_chars)
		return true;
	snprintf(why, whysz, "%s must be text of %ld to %ld characters (valid UTF-8%s)", name, min_chars, max_chars,
	         lines ? "" : ", on one line");
	return false;
}
