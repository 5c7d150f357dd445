/*
 * CSV export fields (RFC 4180) safe to open in a spreadsheet: every field
 * quoted, quotes doubled, and a field that starts with = + - @ tab or CR
 * prefixed with ' so that spreadsheet programs do not run it as a formula
 * (CSV injection). Used by the audit log and the chat reports exports.
 */
#ifndef VITRINE_CSV_H
#define VITRINE_CSV_H

#include <stdbool.h>

#include "buf.h"

/* Appends one field and its separator (",", or CRLF when last). BUF_OK or
 * the buf error. */
int csv_field(struct buf *b, const char *s, bool last);

#endif
