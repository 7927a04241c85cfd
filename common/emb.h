/* emb.h: the item embedding table — one row of d floats per item id; row 0 is the "unknown" row (id ""). */
#ifndef EMB_H
#define EMB_H
#include <stddef.h>
#include <stdint.h>

/*
 * In memory a table grows as ids are added; on disk it is a tensor file
 * (tfile.h) of the rows, the ids and an open-addressing index, which a
 * reader loads and probes without parsing. See pageturn-model(5).
 */

#define EMB_MAGIC "PTEMB\0\0\1"	/* 8 bytes */
#define EMB_ID_MAX 256			/* longest item id in bytes */

struct emb;

/* An empty, growable table of dimension d with its unknown row (zeros). Never NULL. */
struct emb *emb_new(uint32_t d);
/*
 * Reads an embedding file into memory of its own, read-only, and validates it
 * (magic, version, sizes, every crc32, the index, every row finite). want_d
 * 0 accepts any dimension. NULL with the reason in err. The table does not
 * depend on the file afterwards: it may be rewritten, cut short or removed.
 */
struct emb *emb_load(const char *path, uint32_t want_d, char *err, size_t errlen);
/* A growable in-memory copy of any table (e.g. to go on training a loaded one). Never NULL. */
struct emb *emb_dup(const struct emb *e);
/* NULL is a no-op. */
void emb_free(struct emb *e);

uint32_t emb_dim(const struct emb *e);
/* Number of rows, the unknown row included. */
uint32_t emb_rows(const struct emb *e);
/* The row index of id, or -1 when absent. O(1): a hash index, the file's own when loaded. */
int64_t emb_find(const struct emb *e, const char *id, size_t len);
/*
 * rows[i] = emb_find(e, ids[i], lens[i]) for i < n, the probes interleaved
 * so that the cache misses of a table larger than the cache overlap (q-score
 * looks up a request's candidates at once).
 */
void emb_find_many(const struct emb *e, size_t n, const char *const *ids, const size_t *lens, int64_t *rows);
/* Row r (r < emb_rows), d floats; valid while e lives. */
const float *emb_row(const struct emb *e, uint32_t r);
/* The row of id, or the unknown row (row 0) when absent; *known (may be NULL) says which. */
const float *emb_lookup(const struct emb *e, const char *id, size_t len, int *known);
/* The id of row r (not NUL-terminated; *len gets its length). */
const char *emb_id(const struct emb *e, uint32_t r, size_t *len);
/* Writable row r of a growable table; NULL for a loaded one. */
float *emb_row_mut(struct emb *e, uint32_t r);
/* The row of id, adding a zeroed one when absent (growable tables only; returns 0 for a loaded table or an id longer than EMB_ID_MAX). */
uint32_t emb_add(struct emb *e, const char *id, size_t len);
/*
 * The row of an item under feature rows (q-train --feature-embeddings,
 * manifest "rows":"features"): built from its features x (nx floats) into
 * row (d floats). The one construction shared by q-train, which fills the
 * table with it, and q-score, which gives it to a candidate the table does
 * not hold. 0, or -1 when nx != d (row untouched).
 */
int emb_feature_row(float *row, uint32_t d, const float *x, uint32_t nx);
/* The first row holding a NaN or an infinity, or -1 when every value is finite. */
int64_t emb_nonfinite(const struct emb *e);
/*
 * Writes the table to path atomically (temporary name in the same
 * directory, fsync, rename). 0, or -1 with the reason in err.
 */
int emb_write(const struct emb *e, const char *path, char *err, size_t errlen);

#endif
