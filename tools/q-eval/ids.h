/* ids.h: q-eval's string interner — each distinct id (item, page, session, request) gets a dense number. */
#ifndef IDS_H
#define IDS_H
#include <stddef.h>
#include <stdint.h>

#define QE_NOID UINT32_MAX

struct qe_ids;

/* An empty set. Never NULL. */
struct qe_ids *qe_ids_new(void);
/* NULL is a no-op. */
void qe_ids_free(struct qe_ids *ids);
/* The number of s (len bytes), adding it when new (*added set to 1 then, else 0; added may be NULL). */
uint32_t qe_ids_add(struct qe_ids *ids, const char *s, size_t len, int *added);
/* The number of s, or QE_NOID when it was never added. */
uint32_t qe_ids_find(const struct qe_ids *ids, const char *s, size_t len);
/* The id numbered i (NUL-terminated, owned by ids); i must be below qe_ids_count(). */
const char *qe_ids_name(const struct qe_ids *ids, uint32_t i);
size_t qe_ids_count(const struct qe_ids *ids);

#endif
