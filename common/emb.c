/* emb.c: the item embedding table — growable in memory, or loaded read-only from its checksummed file with the id index inside. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emb.h"
#include "hash.h"
#include "qnet.h"
#include "tfile.h"
#include "xalloc.h"

struct emb {
	uint32_t d, n;		/* dimension, rows */
	float *rows;		/* n × d */
	uint64_t *id_off;	/* n + 1 */
	char *ids;		/* id bytes, id r at [id_off[r], id_off[r+1]) */
	uint32_t *index;	/* nslots entries: row + 1, 0 empty */
	uint32_t nslots;	/* power of two */
	/* growable tables */
	size_t cap_rows, cap_ids;
	/* loaded tables: rows, id_off, ids and index point into file's bytes */
	struct tfile *file;
};

/*
 * Each stage touches what the one before requested; a chunk this long keeps
 * enough misses in flight without scratch memory beyond the stack.
 */
#define EMB_BATCH 32

static uint64_t
id_hash(const char *id, size_t len)
{
	return hash64(id, len, 0x656d62);
}

/* The row of id probing from slot s, or -1. */
static int64_t
probe(const struct emb *e, uint32_t s, const char *id, size_t len)
{
	uint32_t mask = e->nslots - 1, probes, r;
	uint64_t a;

	for (probes = 0; probes < e->nslots; s = (s + 1) & mask, probes++) {
		r = e->index[s];
		if (r == 0)
			return -1;
		r--;
		a = e->id_off[r];
		if (e->id_off[r + 1] - a == len && memcmp(e->ids + a, id, len) == 0)
			return r;
	}
	return -1;
}

int64_t
emb_find(const struct emb *e, const char *id, size_t len)
{
	if (len == 0)
		return -1;
	return probe(e, (uint32_t)id_hash(id, len) & (e->nslots - 1), id, len);
}

void
emb_find_many(const struct emb *e, size_t n, const char *const *ids, const size_t *lens, int64_t *rows)
{
	uint32_t mask = e->nslots - 1, slot[EMB_BATCH], r;
	size_t b, m, i;

	for (b = 0; b < n; b += EMB_BATCH) {
		m = n - b < EMB_BATCH ? n - b : EMB_BATCH;
		for (i = 0; i < m; i++) {
			slot[i] = (uint32_t)id_hash(ids[b + i], lens[b + i]) & mask;
			__builtin_prefetch(&e->index[slot[i]]);
		}
		for (i = 0; i < m; i++) {
			r = e->index[slot[i]];
			if (r != 0)
				__builtin_prefetch(&e->id_off[r - 1]);
		}
		for (i = 0; i < m; i++) {
			r = e->index[slot[i]];
			if (r != 0)
				__builtin_prefetch(e->ids + e->id_off[r - 1]);
		}
		/* the probes themselves, as emb_find's, now mostly on lines already fetched */
		for (i = 0; i < m; i++)
			rows[b + i] = lens[b + i] > 0 ? probe(e, slot[i], ids[b + i], lens[b + i]) : -1;
	}
}

static void
index_put(uint32_t *index, uint32_t nslots, const char *id, size_t len, uint32_t row)
{
	uint32_t mask = nslots - 1, s = (uint32_t)id_hash(id, len) & mask;

	while (index[s])
		s = (s + 1) & mask;
	index[s] = row + 1;
}

struct emb *
emb_new(uint32_t d)
{
	struct emb *e = xcalloc(1, sizeof *e);

	e->d = d;
	e->n = 1;
	e->cap_rows = 64;
	e->rows = xcalloc(e->cap_rows * d, sizeof(float));
	e->id_off = xcalloc(e->cap_rows + 1, sizeof(uint64_t));
	e->cap_ids = 1024;
	e->ids = xmalloc(e->cap_ids);
	e->nslots = 128;
	e->index = xcalloc(e->nslots, sizeof(uint32_t));
	return e;
}

int
emb_feature_row(float *row, uint32_t d, const float *x, uint32_t nx)
{
	/* the features themselves: the state network and the heads read the item's categories */
	if (nx != d)
		return -1;
	memcpy(row, x, (size_t)d * sizeof *row);
	return 0;
}

/* Doubles the index of e and puts every id in again. */
static void
grow_index(struct emb *e)
{
	uint32_t ns = e->nslots * 2, i;
	uint32_t *ix = xcalloc(ns, sizeof *ix);

	for (i = 1; i < e->n; i++)
		index_put(ix, ns, e->ids + e->id_off[i], e->id_off[i + 1] - e->id_off[i], i);
	free(e->index);
	e->index = ix;
	e->nslots = ns;
}

uint32_t
emb_add(struct emb *e, const char *id, size_t len)
{
	uint64_t end;
	int64_t r;
	uint32_t row;

	if (e->file || len == 0 || len > EMB_ID_MAX)
		return 0;
	r = emb_find(e, id, len);
	if (r >= 0)
		return (uint32_t)r;
	if (e->n == UINT32_MAX - 1)
		return 0;
	if (e->n == e->cap_rows) {
		e->cap_rows *= 2;
		e->rows = xreallocarray(e->rows, e->cap_rows * e->d, sizeof(float));
		e->id_off = xreallocarray(e->id_off, e->cap_rows + 1, sizeof(uint64_t));
	}
	end = e->id_off[e->n];
	if (end + len > e->cap_ids) {
		while (end + len > e->cap_ids)
			e->cap_ids *= 2;
		e->ids = xrealloc(e->ids, e->cap_ids);
	}
	memcpy(e->ids + end, id, len);
	row = e->n++;
	e->id_off[e->n] = end + len;
	memset(e->rows + (size_t)row * e->d, 0, e->d * sizeof(float));
	if ((uint64_t)e->n * 2 > e->nslots)
		grow_index(e);
	else
		index_put(e->index, e->nslots, id, len, row);
	return row;
}

struct emb *
emb_dup(const struct emb *src)
{
	struct emb *e = emb_new(src->d);
	const char *id;
	size_t len;
	uint32_t r;

	for (r = 1; r < src->n; r++) {
		id = emb_id(src, r, &len);
		emb_add(e, id, len);
	}
	memcpy(e->rows, src->rows, (size_t)src->n * src->d * sizeof(float));
	return e;
}

void
emb_free(struct emb *e)
{
	if (!e)
		return;
	if (e->file) {
		tfile_close(e->file);
		free(e->file);
	} else {
		free(e->rows);
		free(e->id_off);
		free(e->ids);
		free(e->index);
	}
	free(e);
}

uint32_t
emb_dim(const struct emb *e)
{
	return e->d;
}

uint32_t
emb_rows(const struct emb *e)
{
	return e->n;
}

const float *
emb_row(const struct emb *e, uint32_t r)
{
	return e->rows + (size_t)r * e->d;
}

float *
emb_row_mut(struct emb *e, uint32_t r)
{
	return e->file ? NULL : e->rows + (size_t)r * e->d;
}

const float *
emb_lookup(const struct emb *e, const char *id, size_t len, int *known)
{
	int64_t r = emb_find(e, id, len);

	if (known)
		*known = r >= 0;
	return emb_row(e, r >= 0 ? (uint32_t)r : 0);
}

const char *
emb_id(const struct emb *e, uint32_t r, size_t *len)
{
	*len = e->id_off[r + 1] - e->id_off[r];
	return e->ids + e->id_off[r];
}

int64_t
emb_nonfinite(const struct emb *e)
{
	size_t i, n = (size_t)e->n * e->d;

	for (i = 0; i < n; i++)
		if (!isfinite(e->rows[i]))
			return (int64_t)(i / e->d);
	return -1;
}

/* Sets tensor t: name, type, a shape of rank 1 or 2 (d1 0), data. */
static void
tensor_set(struct tfile_tensor *t, const char *name, uint32_t dtype, uint32_t d0, uint32_t d1, const void *data)
{
	strcpy(t->name, name);
	t->dtype = dtype;
	t->rank = d1 ? 2 : 1;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->data = data;
}

int
emb_write(const struct emb *e, const char *path, char *err, size_t errlen)
{
	uint32_t meta[4] = { e->d, e->n, e->nslots, 0 };
	struct tfile_tensor t[5];

	memset(t, 0, sizeof t);
	tensor_set(&t[0], "meta", TFILE_U32, 4, 0, meta);
	tensor_set(&t[1], "rows", TFILE_F32, e->n, e->d, e->rows);
	tensor_set(&t[2], "id_off", TFILE_U64, e->n + 1, 0, e->id_off);
	tensor_set(&t[3], "ids", TFILE_U8, (uint32_t)e->id_off[e->n], 0, e->ids);
	tensor_set(&t[4], "index", TFILE_U32, e->nslots, 0, e->index);
	if (e->id_off[e->n] > UINT32_MAX) {
		tfile_errf(err, errlen, "%s: ids too large", path);
		return -1;
	}
	return tfile_write(path, EMB_MAGIC, t, 5, err, errlen);
}

/* The tensors of an embedding file. */
struct emb_tensors {
	const struct tfile_tensor *meta, *rows, *id_off, *ids, *index;
};

/* Finds the tensors of f and checks how they fit (dims, offsets, index). 0, or -1 with the reason in err. */
static int
check_tensors(const struct tfile *f, uint32_t want_d, struct emb_tensors *tt, char *err, size_t errlen)
{
	const char *path = f->path;
	const uint32_t *meta, *ix;
	const uint64_t *off;
	uint32_t d, n, ns, r, s, used;

	tt->meta = tfile_get(f, "meta", TFILE_U32, 1, err, errlen);
	tt->rows = tt->meta ? tfile_get(f, "rows", TFILE_F32, 2, err, errlen) : NULL;
	tt->id_off = tt->rows ? tfile_get(f, "id_off", TFILE_U64, 1, err, errlen) : NULL;
	tt->ids = tt->id_off ? tfile_get(f, "ids", TFILE_U8, 1, err, errlen) : NULL;
	tt->index = tt->ids ? tfile_get(f, "index", TFILE_U32, 1, err, errlen) : NULL;
	if (!tt->index)
		return -1;
	if (tt->meta->shape[0] != 4) {
		tfile_errf(err, errlen, "%s: tensor 'meta': bad size", path);
		return -1;
	}
	meta = tt->meta->data;
	d = meta[0];
	n = meta[1];
	ns = meta[2];
	if (d < 1 || d > QNET_MAX_DIM || n < 1) {
		tfile_errf(err, errlen, "%s: bad dims: d %u, %u rows", path, d, n);
		return -1;
	}
	if (want_d && d != want_d) {
		tfile_errf(err, errlen, "%s: wrong dims: d is %u, want %u", path, d, want_d);
		return -1;
	}
	if (tt->rows->shape[0] != n || tt->rows->shape[1] != d) {
		tfile_errf(err, errlen, "%s: tensor 'rows': shape %u×%u, want %u×%u", path, tt->rows->shape[0],
		    tt->rows->shape[1], n, d);
		return -1;
	}
	if (tt->id_off->shape[0] != (uint64_t)n + 1 || tt->index->shape[0] != ns || ns == 0 || (ns & (ns - 1)) ||
	    ns < n) {
		tfile_errf(err, errlen, "%s: bad index sizes", path);
		return -1;
	}
	off = tt->id_off->data;
	if (off[0] != 0 || off[n] != tt->ids->shape[0]) {
		tfile_errf(err, errlen, "%s: bad id offsets", path);
		return -1;
	}
	for (r = 0; r < n; r++) {
		if (off[r + 1] < off[r] || off[r + 1] - off[r] > EMB_ID_MAX || (r > 0 && off[r + 1] == off[r])) {
			tfile_errf(err, errlen, "%s: bad id offsets at row %u", path, r);
			return -1;
		}
	}
	ix = tt->index->data;
	used = 0;
	for (s = 0; s < ns; s++) {
		if (ix[s] > n || ix[s] == 1) {
			tfile_errf(err, errlen, "%s: bad index entry %u", path, s);
			return -1;
		}
		used += ix[s] != 0;
	}
	if (used != n - 1 || used == ns) {
		tfile_errf(err, errlen, "%s: index holds %u ids, want %u", path, used, n - 1);
		return -1;
	}
	return 0;
}

struct emb *
emb_load(const char *path, uint32_t want_d, char *err, size_t errlen)
{
	struct tfile *f = xcalloc(1, sizeof *f);
	struct emb_tensors tt;
	struct emb *e = NULL;
	const uint32_t *meta;
	const char *id;
	int64_t bad;
	size_t len;
	uint32_t r;

	if (tfile_open(f, path, EMB_MAGIC, "embedding", err, errlen) < 0) {
		free(f);
		return NULL;
	}
	if (check_tensors(f, want_d, &tt, err, errlen) < 0)
		goto err;
	meta = tt.meta->data;
	e = xcalloc(1, sizeof *e);
	e->d = meta[0];
	e->n = meta[1];
	e->rows = (float *)tt.rows->data;
	e->id_off = (uint64_t *)tt.id_off->data;
	e->ids = (char *)tt.ids->data;
	e->index = (uint32_t *)tt.index->data;
	e->nslots = meta[2];
	e->file = f;
	for (r = 1; r < e->n; r++) {
		id = emb_id(e, r, &len);
		if (emb_find(e, id, len) != r) {
			tfile_errf(err, errlen, "%s: index does not find row %u", path, r);
			goto err_emb;
		}
	}
	bad = emb_nonfinite(e);
	if (bad >= 0) {
		id = emb_id(e, (uint32_t)bad, &len);
		tfile_errf(err, errlen, "%s: row %lld ('%.*s'): not finite", path, (long long)bad, (int)len, id);
		goto err_emb;
	}
	return e;
err_emb:
	e->file = NULL;
	free(e);
err:
	tfile_close(f);
	free(f);
	return NULL;
}
