/* dedup.h: log-collect's window of the last n event ids, to drop duplicates. */
#ifndef DEDUP_H
#define DEDUP_H
#include <stddef.h>

struct dedup;

/* A window of n ids (n > 0). */
struct dedup *dedup_new(size_t n);
/* Forgets every id (the records since the last commit are read again after an aborted transaction); arg is the window. */
void dedup_forget(void *arg);
void dedup_free(struct dedup *d);
/*
 * Returns 1 when the id was seen among the last n ids; otherwise remembers it
 * (forgetting the oldest when the window is full) and returns 0.
 */
int dedup_seen(struct dedup *d, const char *id, size_t len);

#endif
