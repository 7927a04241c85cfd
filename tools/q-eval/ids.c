/* ids.c: q-eval's string interner — an open-addressing table over one arena of names. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "ids.h"
#include "xalloc.h"

struct qe_ids {
	char *arena;		/* names, each NUL-terminated */
	size_t alen, acap;
	size_t *off;		/* name i starts at arena + off[i] */
	uint32_t *len;
	size_t n, ncap;
	uint32_t *slot;		/* QE_NOID or a name's number; a power of two in size */
	size_t nslot;
};

struct qe_ids *
qe_ids_new(void)
{
	struct qe_ids *ids = xcalloc(1, sizeof *ids);
	size_t i;

	ids->nslot = 1024;
	ids->slot = xmalloc(ids->nslot * sizeof *ids->slot);
	for (i = 0; i < ids->nslot; i++)
		ids->slot[i] = QE_NOID;
	return ids;
}

void
qe_ids_free(struct qe_ids *ids)
{
	if (ids == NULL)
		return;
	free(ids->arena);
	free(ids->off);
	free(ids->len);
	free(ids->slot);
	free(ids);
}

static size_t
find_slot(const struct qe_ids *ids, const char *s, size_t len, uint64_t h)
{
	size_t mask = ids->nslot - 1, i = (size_t)h & mask;
	uint32_t k;

	while ((k = ids->slot[i]) != QE_NOID) {
		if (ids->len[k] == len && memcmp(ids->arena + ids->off[k], s, len) == 0)
			return i;
		i = (i + 1) & mask;
	}
	return i;
}

static void
grow(struct qe_ids *ids)
{
	size_t i, j, mask;
	uint32_t k;

	free(ids->slot);
	ids->nslot *= 2;
	mask = ids->nslot - 1;
	ids->slot = xmalloc(ids->nslot * sizeof *ids->slot);
	for (i = 0; i < ids->nslot; i++)
		ids->slot[i] = QE_NOID;
	for (k = 0; k < ids->n; k++) {
		j = (size_t)hash64(ids->arena + ids->off[k], ids->len[k], 0) & mask;
		while (ids->slot[j] != QE_NOID)
			j = (j + 1) & mask;
		ids->slot[j] = k;
	}
}

uint32_t
qe_ids_add(struct qe_ids *ids, const char *s, size_t len, int *added)
{
	uint64_t h = hash64(s, len, 0);
	size_t i = find_slot(ids, s, len, h);
	uint32_t k;

	if (added != NULL)
		*added = 0;
	if (ids->slot[i] != QE_NOID)
		return ids->slot[i];
	if (ids->n + 1 >= QE_NOID)
		abort();
	if (ids->alen + len + 1 > ids->acap) {
		ids->acap = (ids->alen + len + 1) * 2;
		ids->arena = xrealloc(ids->arena, ids->acap);
	}
	if (ids->n == ids->ncap) {
		ids->ncap = ids->ncap ? ids->ncap * 2 : 256;
		ids->off = xreallocarray(ids->off, ids->ncap, sizeof *ids->off);
		ids->len = xreallocarray(ids->len, ids->ncap, sizeof *ids->len);
	}
	k = (uint32_t)ids->n++;
	ids->off[k] = ids->alen;
	ids->len[k] = (uint32_t)len;
	memcpy(ids->arena + ids->alen, s, len);
	ids->arena[ids->alen + len] = '\0';
	ids->alen += len + 1;
	ids->slot[i] = k;
	if (ids->n * 2 > ids->nslot)
		grow(ids);
	if (added != NULL)
		*added = 1;
	return k;
}

uint32_t
qe_ids_find(const struct qe_ids *ids, const char *s, size_t len)
{
	return ids->slot[find_slot(ids, s, len, hash64(s, len, 0))];
}

const char *
qe_ids_name(const struct qe_ids *ids, uint32_t i)
{
	return ids->arena + ids->off[i];
}

size_t
qe_ids_count(const struct qe_ids *ids)
{
	return ids->n;
}
