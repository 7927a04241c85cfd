/* emit.h: experience-collect's output — one transition a page. */
#ifndef EC_EMIT_H
#define EC_EMIT_H

#include "ec.h"

/*
 * Emits the transition of the first open page of s, chained to the page
 * after it; when_last is the end to report when there is no next page. Then
 * removes that page and carries its clicks into the history of s.
 */
void emit_first(struct session *s, enum chain_end when_last);

#endif
