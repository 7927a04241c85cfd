/* dedup.c: log-collect's window of the last n event ids, to drop duplicates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "hash.h"
#include "xalloc.h"

/*
 * The set of the last n event ids seen: a ring of 16-byte id hashes in
 * arrival order (the oldest is evicted first) and an open-addressing table of
 * ring indices (linear probing, backward-shift deletion).
 */
struct dedup {
	unsigned char (*ring)[16];
	uint32_t *slot;		/* ring index + 1; 0 marks an empty slot */
	size_t n, head, count, mask;
};

/* A dedup window of n ids (n > 0). */
struct dedup *
dedup_new(size_t n)
{
	struct dedup *d = xcalloc(1, sizeof *d);
	size_t cap = 16;

	while (cap < n + n / 2)
		cap *= 2;
	d->n = n;
	d->mask = cap - 1;
	d->ring = xcalloc(n, sizeof *d->ring);
	d->slot = xcalloc(cap, sizeof *d->slot);
	return d;
}

/* Forgets every id (the records since the last commit are read again after an aborted transaction). */
void
dedup_forget(void *arg)
{
	struct dedup *d = arg;

	memset(d->slot, 0, (d->mask + 1) * sizeof *d->slot);
	d->head = d->count = 0;
}

void
dedup_free(struct dedup *d)
{
	if (d == NULL)
		return;
	free(d->ring);
	free(d->slot);
	free(d);
}

static size_t
dedup_home(const struct dedup *d, const unsigned char *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof h);
	return (size_t)h & d->mask;
}

/* Removes the table entry at slot i, shifting later entries of its probe run back. */
static void
dedup_unslot(struct dedup *d, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) & d->mask;
		if (d->slot[j] == 0)
			break;
		size_t k = dedup_home(d, d->ring[d->slot[j] - 1]);
		/* The entry at j may move to i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		d->slot[i] = d->slot[j];
		i = j;
	}
	d->slot[i] = 0;
}

/*
 * Returns 1 when the id was seen among the last n ids; otherwise remembers it
 * (forgetting the oldest when the window is full) and returns 0.
 */
int
dedup_seen(struct dedup *d, const char *id, size_t len)
{
	unsigned char key[16];
	uint64_t h[2] = { hash64(id, len, 0x6c6f67636f6c6c31ULL), hash64(id, len, 0x6465647570696473ULL) };
	size_t i;

	memcpy(key, h, sizeof key);
	for (i = dedup_home(d, key); d->slot[i] != 0; i = (i + 1) & d->mask)
		if (memcmp(d->ring[d->slot[i] - 1], key, sizeof key) == 0)
			return 1;
	if (d->count == d->n) {
		size_t j;

		for (j = dedup_home(d, d->ring[d->head]); d->slot[j] != d->head + 1; j = (j + 1) & d->mask)
			;
		dedup_unslot(d, j);
		d->count--;
		/* The deletion may have shifted the empty slot found above. */
		for (i = dedup_home(d, key); d->slot[i] != 0; i = (i + 1) & d->mask)
			;
	}
	memcpy(d->ring[d->head], key, sizeof key);
	d->slot[i] = (uint32_t)(d->head + 1);
	d->head = (d->head + 1) % d->n;
	d->count++;
	return 0;
}
