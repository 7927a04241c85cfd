/* test_heap.c: the intrusive binary heap of common/ — order, the indices it tells its elements, removal and re-placement from anywhere, against a plain scan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "heap.h"

struct el {
	long key;
	int id;
	size_t idx;
	int in;
};

static int
el_before(const void *a, const void *b)
{
	const struct el *x = a, *y = b;

	return x->key < y->key || (x->key == y->key && x->id < y->id);
}

static int
key_before(const void *a, const void *b)
{
	return ((const struct el *)a)->key < ((const struct el *)b)->key;
}

static void
el_place(void *e, size_t i)
{
	((struct el *)e)->idx = i;
}

static uint64_t rng = 88172645463325252ULL;

static long
rnd(long n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (long)(rng % (uint64_t)n);
}

/* Whether h is a heap whose every element knows its index. */
static int
well_formed(const struct heap *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (((struct el *)h->v[i])->idx != i)
			return 0;
		if (i > 0 && h->before(h->v[i], h->v[(i - 1) / 2]))
			return 0;
	}
	return 1;
}

/* The element among v[0..n) that a heap ordered by el_before must give first, or NULL. */
static struct el *
least(struct el *v, size_t n)
{
	struct el *m = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].in && (m == NULL || el_before(&v[i], m)))
			m = &v[i];
	return m;
}

int
main(void)
{
	enum { N = 2000, OPS = 200000 };
	struct el *v = calloc(N, sizeof *v), *e, *top, a = { 5, 1, 0, 0 }, b = { 5, 2, 0, 0 };
	struct heap h;
	size_t n = 0, k, bad = 0, badidx = 0;
	long last;
	int op, sorted = 1;

	heap_init(&h, el_before, el_place);
	CHECK(heap_top(&h) == NULL && heap_pop(&h) == NULL && h.n == 0, "an empty heap has no top");
	for (k = 0; k < N; k++)
		v[k].id = (int)k;

	/* Random pushes, pops, removals from anywhere and key changes, checked after each. */
	for (k = 0; k < OPS; k++) {
		op = (int)rnd(4);
		e = &v[rnd(N)];
		if (op == 0 && !e->in) {
			e->key = rnd(1000);
			e->in = 1;
			heap_push(&h, e);
			n++;
		} else if (op == 1 && n > 0) {
			top = heap_pop(&h);
			if (top != least(v, N))
				bad++;
			top->in = 0;
			n--;
		} else if (op == 2 && e->in) {
			heap_remove(&h, e->idx);
			e->in = 0;
			n--;
		} else if (op == 3 && e->in) {
			e->key = rnd(1000);
			heap_fix(&h, e->idx);
		}
		if (h.n != n || (k % 97 == 0 && !well_formed(&h)))
			badidx++;
		if (heap_top(&h) != least(v, N))
			bad++;
	}
	CHECK(bad == 0, "the top is always the least element: %zu wrong in %d operations", bad, OPS);
	CHECK(badidx == 0 && well_formed(&h), "sizes and indices hold: %zu wrong", badidx);

	/* Popping everything gives ascending keys, then nothing. */
	last = -1;
	while ((top = heap_pop(&h)) != NULL) {
		if (top->key < last)
			sorted = 0;
		last = top->key;
		top->in = 0;
	}
	CHECK(sorted && h.n == 0, "heap_pop drains in order");

	/* Without place (elements that need no index) and with ties. */
	heap_free(&h);
	heap_init(&h, key_before, NULL);
	heap_push(&h, &b);
	heap_push(&h, &a);
	CHECK(heap_pop(&h) != NULL && heap_pop(&h) != NULL && heap_pop(&h) == NULL, "ties both come out");
	CHECK(a.idx == 0 && b.idx == 0, "no place callback, no index written");

	heap_free(&h);
	CHECK(h.v == NULL && h.n == 0, "heap_free leaves it empty");
	heap_free(NULL);
	free(v);
	return check_done();
}
