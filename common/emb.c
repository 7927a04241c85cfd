/* emb.c: the item embedding table — growable in memory, or mapped from its checksummed file with the id index inside. */
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
	/* mapped tables */
	struct tfile *file;
};

static uint64_t id_hash(const char *id, size_t len)
{
	return hash64(id, len, 0x656d62);
}

int64_t emb_find(const struct emb *e, const char *id, size_t len)
{
	if (len == 0)
		return -1;
	uint32_t mask = e->nslots - 1;
	for (uint32_t s = (uint32_t)id_hash(id, len) & mask, probes = 0; probes < e->nslots; s = (s + 1) & mask, probes++) {
		uint32_t r = e->index[s];
		if (r == 0)
			return -1;
		r--;
		uint64_t a = e->id_off[r], b = e->id_off[r + 1];
		if (b - a == len && memcmp(e->ids + a, id, len) == 0)
			return r;
	}
	return -1;
}

/*
 * Each stage touches what the one before requested; a chunk this long keeps
 * enough misses in flight without scratch memory beyond the stack.
 */
#define EMB_BATCH 32

void emb_find_many(const struct emb *e, size_t n, const char *const *ids, const size_t *lens, int64_t *rows)
{
	uint32_t mask = e->nslots - 1, slot[EMB_BATCH];

	for (size_t b = 0; b < n; b += EMB_BATCH) {
		size_t m = n - b < EMB_BATCH ? n - b : EMB_BATCH, i;
		for (i = 0; i < m; i++) {
			slot[i] = (uint32_t)id_hash(ids[b + i], lens[b + i]) & mask;
			__builtin_prefetch(&e->index[slot[i]]);
		}
		for (i = 0; i < m; i++) {
			uint32_t r = e->index[slot[i]];
			if (r != 0)
				__builtin_prefetch(&e->id_off[r - 1]);
		}
		for (i = 0; i < m; i++) {
			uint32_t r = e->index[slot[i]];
			if (r != 0)
				__builtin_prefetch(e->ids + e->id_off[r - 1]);
		}
		/* the probes themselves, as emb_find's, now mostly on lines already fetched */
		for (i = 0; i < m; i++) {
			const char *id = ids[b + i];
			size_t len = lens[b + i];
			int64_t found = -1;
			if (len > 0)
				for (uint32_t s = slot[i], probes = 0; probes < e->nslots; s = (s + 1) & mask, probes++) {
					uint32_t r = e->index[s];
					if (r == 0)
						break;
					r--;
					uint64_t a = e->id_off[r];
					if (e->id_off[r + 1] - a == len && memcmp(e->ids + a, id, len) == 0) {
						found = r;
						break;
					}
				}
			rows[b + i] = found;
		}
	}
}

static void index_put(uint32_t *index, uint32_t nslots, const char *id, size_t len, uint32_t row)
{
	uint32_t mask = nslots - 1, s = (uint32_t)id_hash(id, len) & mask;
	while (index[s])
		s = (s + 1) & mask;
	index[s] = row + 1;
}

struct emb *emb_new(uint32_t d)
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

int emb_feature_row(float *row, uint32_t d, const float *x, uint32_t nx)
{
	/* the features themselves: the state network and the heads read the item's categories */
	if (nx != d)
		return -1;
	memcpy(row, x, (size_t)d * sizeof *row);
	return 0;
}

uint32_t emb_add(struct emb *e, const char *id, size_t len)
{
	if (e->file || len == 0 || len > EMB_ID_MAX)
		return 0;
	int64_t r = emb_find(e, id, len);
	if (r >= 0)
		return (uint32_t)r;
	if (e->n == UINT32_MAX - 1)
		return 0;
	if (e->n == e->cap_rows) {
		e->cap_rows *= 2;
		e->rows = xreallocarray(e->rows, e->cap_rows * e->d, sizeof(float));
		e->id_off = xreallocarray(e->id_off, e->cap_rows + 1, sizeof(uint64_t));
	}
	uint64_t end = e->id_off[e->n];
	if (end + len > e->cap_ids) {
		while (end + len > e->cap_ids)
			e->cap_ids *= 2;
		e->ids = xrealloc(e->ids, e->cap_ids);
	}
	memcpy(e->ids + end, id, len);
	uint32_t row = e->n++;
	e->id_off[e->n] = end + len;
	memset(e->rows + (size_t)row * e->d, 0, e->d * sizeof(float));
	if ((uint64_t)e->n * 2 > e->nslots) {
		uint32_t ns = e->nslots * 2;
		uint32_t *ix = xcalloc(ns, sizeof *ix);
		for (uint32_t i = 1; i < e->n; i++)
			index_put(ix, ns, e->ids + e->id_off[i], e->id_off[i + 1] - e->id_off[i], i);
		free(e->index);
		e->index = ix;
		e->nslots = ns;
	} else {
		index_put(e->index, e->nslots, id, len, row);
	}
	return row;
}

struct emb *emb_dup(const struct emb *src)
{
	struct emb *e = emb_new(src->d);
	for (uint32_t r = 1; r < src->n; r++) {
		size_t len;
		const char *id = emb_id(src, r, &len);
		emb_add(e, id, len);
	}
	memcpy(e->rows, src->rows, (size_t)src->n * src->d * sizeof(float));
	return e;
}

void emb_free(struct emb *e)
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

uint32_t emb_dim(const struct emb *e) { return e->d; }
uint32_t emb_rows(const struct emb *e) { return e->n; }
const float *emb_row(const struct emb *e, uint32_t r) { return e->rows + (size_t)r * e->d; }
float *emb_row_mut(struct emb *e, uint32_t r) { return e->file ? NULL : e->rows + (size_t)r * e->d; }

const float *emb_lookup(const struct emb *e, const char *id, size_t len, int *known)
{
	int64_t r = emb_find(e, id, len);
	if (known)
		*known = r >= 0;
	return emb_row(e, r >= 0 ? (uint32_t)r : 0);
}

const char *emb_id(const struct emb *e, uint32_t r, size_t *len)
{
	*len = e->id_off[r + 1] - e->id_off[r];
	return e->ids + e->id_off[r];
}

int emb_write(const struct emb *e, const char *path, char *err, size_t errlen)
{
	uint32_t meta[4] = { e->d, e->n, e->nslots, 0 };
	struct tfile_tensor t[5];
	memset(t, 0, sizeof t);
	strcpy(t[0].name, "meta");
	t[0].dtype = TFILE_U32; t[0].rank = 1; t[0].shape[0] = 4; t[0].data = meta;
	strcpy(t[1].name, "rows");
	t[1].dtype = TFILE_F32; t[1].rank = 2; t[1].shape[0] = e->n; t[1].shape[1] = e->d; t[1].data = e->rows;
	strcpy(t[2].name, "id_off");
	t[2].dtype = TFILE_U64; t[2].rank = 1; t[2].shape[0] = e->n + 1; t[2].data = e->id_off;
	strcpy(t[3].name, "ids");
	t[3].dtype = TFILE_U8; t[3].rank = 1; t[3].shape[0] = (uint32_t)e->id_off[e->n]; t[3].data = e->ids;
	strcpy(t[4].name, "index");
	t[4].dtype = TFILE_U32; t[4].rank = 1; t[4].shape[0] = e->nslots; t[4].data = e->index;
	if (e->id_off[e->n] > UINT32_MAX)
		return tfile_errf(err, errlen, "%s: ids too large", path), -1;
	return tfile_write(path, EMB_MAGIC, t, 5, err, errlen);
}

struct emb *emb_load(const char *path, uint32_t want_d, char *err, size_t errlen)
{
	struct tfile *f = xcalloc(1, sizeof *f);
	struct emb *e = NULL;
	if (tfile_open(f, path, EMB_MAGIC, "embedding", err, errlen) < 0) {
		free(f);
		return NULL;
	}
	const struct tfile_tensor *tm = tfile_get(f, "meta", TFILE_U32, 1, err, errlen);
	const struct tfile_tensor *tr = tm ? tfile_get(f, "rows", TFILE_F32, 2, err, errlen) : NULL;
	const struct tfile_tensor *to = tr ? tfile_get(f, "id_off", TFILE_U64, 1, err, errlen) : NULL;
	const struct tfile_tensor *ti = to ? tfile_get(f, "ids", TFILE_U8, 1, err, errlen) : NULL;
	const struct tfile_tensor *tx = ti ? tfile_get(f, "index", TFILE_U32, 1, err, errlen) : NULL;
	if (!tx)
		goto err;
	if (tm->shape[0] != 4) {
		tfile_errf(err, errlen, "%s: tensor 'meta': bad size", path);
		goto err;
	}
	const uint32_t *meta = tm->data;
	uint32_t d = meta[0], n = meta[1], ns = meta[2];
	if (d < 1 || d > QNET_MAX_DIM || n < 1) {
		tfile_errf(err, errlen, "%s: bad dims: d %u, %u rows", path, d, n);
		goto err;
	}
	if (want_d && d != want_d) {
		tfile_errf(err, errlen, "%s: wrong dims: d is %u, want %u", path, d, want_d);
		goto err;
	}
	if (tr->shape[0] != n || tr->shape[1] != d) {
		tfile_errf(err, errlen, "%s: tensor 'rows': shape %u×%u, want %u×%u", path, tr->shape[0], tr->shape[1], n, d);
		goto err;
	}
	if (to->shape[0] != (uint64_t)n + 1 || tx->shape[0] != ns || ns == 0 || (ns & (ns - 1)) || ns < n) {
		tfile_errf(err, errlen, "%s: bad index sizes", path);
		goto err;
	}
	const uint64_t *off = to->data;
	if (off[0] != 0 || off[n] != ti->shape[0]) {
		tfile_errf(err, errlen, "%s: bad id offsets", path);
		goto err;
	}
	for (uint32_t r = 0; r < n; r++) {
		if (off[r + 1] < off[r] || off[r + 1] - off[r] > EMB_ID_MAX || (r > 0 && off[r + 1] == off[r])) {
			tfile_errf(err, errlen, "%s: bad id offsets at row %u", path, r);
			goto err;
		}
	}
	const uint32_t *ix = tx->data;
	uint32_t used = 0;
	for (uint32_t s = 0; s < ns; s++) {
		if (ix[s] > n || ix[s] == 1) {
			tfile_errf(err, errlen, "%s: bad index entry %u", path, s);
			goto err;
		}
		used += ix[s] != 0;
	}
	if (used != n - 1 || used == ns) {
		tfile_errf(err, errlen, "%s: index holds %u ids, want %u", path, used, n - 1);
		goto err;
	}
	e = xcalloc(1, sizeof *e);
	e->d = d;
	e->n = n;
	e->rows = (float *)tr->data;
	e->id_off = (uint64_t *)off;
	e->ids = (char *)ti->data;
	e->index = (uint32_t *)ix;
	e->nslots = ns;
	e->file = f;
	for (uint32_t r = 1; r < n; r++) {
		size_t len;
		const char *id = emb_id(e, r, &len);
		if (emb_find(e, id, len) != r) {
			tfile_errf(err, errlen, "%s: index does not find row %u", path, r);
			e->file = NULL;
			free(e);
			goto err;
		}
	}
	return e;
err:
	tfile_close(f);
	free(f);
	return NULL;
}
