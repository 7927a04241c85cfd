/* heap.c: an intrusive binary min-heap of pointers (see heap.h). */
#include <stdlib.h>

#include "heap.h"
#include "xalloc.h"

void
heap_init(struct heap *h, int (*before)(const void *, const void *), void (*place)(void *, size_t))
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->before = before;
	h->place = place;
}

void
heap_free(struct heap *h)
{
	if (h == NULL)
		return;
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

static void
heap_set(struct heap *h, size_t i, void *e)
{
	h->v[i] = e;
	if (h->place != NULL)
		h->place(e, i);
}

/* Moves the element at i towards the root while it comes before its parent; returns its new index. */
static size_t
sift_up(struct heap *h, size_t i)
{
	void *e = h->v[i];

	while (i > 0 && h->before(e, h->v[(i - 1) / 2])) {
		heap_set(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(h, i, e);
	return i;
}

/* Moves the element at i towards the leaves while a child comes before it. */
static void
sift_down(struct heap *h, size_t i)
{
	void *e = h->v[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->before(h->v[c + 1], h->v[c]))
			c++;
		if (!h->before(h->v[c], e))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, e);
}

void
heap_push(struct heap *h, void *e)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 4;
		h->v = xreallocarray(h->v, h->cap, sizeof *h->v);
	}
	h->v[h->n++] = e;
	sift_up(h, h->n - 1);
}

void *
heap_top(const struct heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

void *
heap_pop(struct heap *h)
{
	void *top;

	if (h->n == 0)
		return NULL;
	top = h->v[0];
	heap_remove(h, 0);
	return top;
}

void
heap_remove(struct heap *h, size_t i)
{
	void *last = h->v[--h->n];

	if (i == h->n)
		return;
	heap_set(h, i, last);
	heap_fix(h, i);
}

void
heap_fix(struct heap *h, size_t i)
{
	if (sift_up(h, i) == i)
		sift_down(h, i);
}
