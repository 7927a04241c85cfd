/* session.h: experience-collect's session store — sessions and their open pages, found by key, by request, by age and by wake-up time. */
#ifndef EC_SESSION_H
#define EC_SESSION_H
#include <stddef.h>
#include <stdint.h>

#include "ec.h"

/* --- tables: the collector's sessions (by user and session id) and open pages (by request id) --- */

uint64_t key_hash(const char *k, size_t len);
/* The session whose key (keylen bytes, hash h) is given, or NULL. */
struct session *table_find_session(struct table *t, const char *key, size_t keylen, uint64_t h);
/* The open page of request rid (hash h), or NULL. */
struct page *table_find_page(struct table *t, const char *rid, uint64_t h);
/* Adds entry e with hash h; the table does not own it. */
void table_add(struct table *t, void *e, uint64_t h, void **(*next_of)(void *), uint64_t (*hash_of)(void *));
/* Unlinks entry e, which must be in the table. */
void table_del(struct table *t, void *e, uint64_t h, void **(*next_of)(void *));
void **session_next(void *e);
uint64_t session_hash(void *e);
void **page_next(void *e);
uint64_t page_hash(void *e);

/* --- the watermark a session progresses by, and when it may --- */

/* The watermark of partition-table index part: that partition's, or the one of file input (-1). */
int64_t part_wm(int32_t part);
/* The watermark that s progresses by. */
int64_t wm_of(const struct session *s);
/* An empty heap of sessions by wake-up time (a partition's, or the one of file input). */
void session_heap_init(struct heap *h);
/* Sets the watermark at which s can next progress, and its place in its wake-up heap. */
void session_rewake(struct session *s);

/* --- pages --- */

/* Copies s into the strings of p; returns its offset. */
uint32_t page_add_str(struct page *p, const char *s);
/* Copies n floats into the numbers of p; returns the offset of the first. */
uint32_t page_add_floats(struct page *p, const float *v, size_t n);
/* Frees p and what it holds; NULL is a no-op. */
void page_free(struct page *p);
/* qsort order of items by position. */
int item_cmp_pos(const void *a, const void *b);

/* --- sessions --- */

const char *session_user(const struct session *s);
const char *session_id(const struct session *s);
/* Takes s out of, or puts it last into, the least-recently-fed list. */
void lru_unlink(struct session *s);
void lru_append(struct session *s);
/* Empties the history of s. */
void hist_clear(struct session *s);
/* Appends a copy of id to the history of s, dropping the oldest past --hist-len. */
void hist_push(struct session *s, const char *id);
/* A new, empty session, in every index; key is copied. Never NULL. */
struct session *session_new(const char *key, size_t keylen, size_t userlen, uint64_t h, int32_t part);
/* Removes s from every index and frees it with its pages, written or not. */
void session_free(struct session *s);
/* The first open page of s in (page, ts) order, and the one after it; NULL when there is none. O(1). */
struct page *session_first(const struct session *s);
struct page *session_second(const struct session *s);
/* Adds the new page p to the open pages of s. O(log n). */
void session_add_page(struct session *s, struct page *p);
/* Removes the first open page of s (there is one) from s and the request table, and frees it. O(log n). */
void session_drop_first(struct session *s);
/* Notes that a sample of s's partition at offset was rejected as late while s was open. */
void session_note_late(struct session *s, int64_t offset);

#endif
