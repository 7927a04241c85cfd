/* heap.h: an intrusive binary min-heap of pointers — an element may learn its index, so that it can be re-placed or removed in O(log n). */
#ifndef HEAP_H
#define HEAP_H
#include <stddef.h>

/*
 * before(a, b): whether a comes out before b, a strict weak order; elements
 * that tie come out in an order that depends on the history of the heap.
 * place(e, i), when not NULL, is called whenever element e moves to index i,
 * so that it can keep its own index (for heap_fix and heap_remove). The
 * heap holds pointers it does not own.
 */
struct heap {
	void **v;
	size_t n, cap;
	int (*before)(const void *a, const void *b);
	void (*place)(void *e, size_t i);
};

/* An empty heap ordered by before, telling moves to place (may be NULL). Cannot fail. */
void heap_init(struct heap *h, int (*before)(const void *, const void *), void (*place)(void *, size_t));
/* Frees the heap's array (not its elements) and leaves it empty; NULL is a no-op. */
void heap_free(struct heap *h);

/* Adds e; aborts when out of memory, as xmalloc does. */
void heap_push(struct heap *h, void *e);
/* The first element, or NULL when empty. */
void *heap_top(const struct heap *h);
/* Removes and returns the first element, or NULL when empty. */
void *heap_pop(struct heap *h);
/* Removes the element at index i (< h->n). */
void heap_remove(struct heap *h, size_t i);
/* Restores the order after the key of the element at index i (< h->n) changed. */
void heap_fix(struct heap *h, size_t i);

#endif
