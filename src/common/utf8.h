/*
 * UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. Used wherever text from outside is counted or cut.
 */
#ifndef VITRINE_UTF8_H
#define VITRINE_UTF8_H

/* Length in bytes of the valid UTF-8 sequence at p (1-4), or -1. p must be
 * NUL-terminated: a truncated sequence is invalid, never over-read. */
int utf8_sequence(const unsigned char *p);

/* Number of code points of the NUL-terminated s, or -1 if it is not valid
 * UTF-8. */
long utf8_chars(const char *s);

#endif
