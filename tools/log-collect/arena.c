/* arena.c: log-collect's allocator for the JSON tree of one line. */
#include <stddef.h>
#include <stdlib.h>

#include <jansson.h>

#include "arena.h"

/*
 * An arena for the JSON tree of one line: jansson's allocations while a line
 * is parsed come from a few large chunks, its frees of them cost nothing, and
 * the whole tree goes at once when the next line starts. Blocks allocated
 * outside a parse (by the rest of the program) are plain malloc blocks, and
 * freeing them still works: arena_free() tells the two apart by address.
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	max_align_t data[];
};

static struct {
	struct arena_chunk *head;	/* the chunk being filled; the oldest is last */
	int on;				/* nonzero while a line is parsed */
} arena;

#define ARENA_CHUNK (256 * 1024)
/* jansson's structures hold pointers, sizes, 64-bit integers and doubles: 8-byte alignment suffices. */
#define ARENA_ALIGN 8
/* Under AddressSanitizer every block stays a malloc block of its own, to be checked. */
#ifdef __SANITIZE_ADDRESS__
#define ARENA_USED 0
#else
#define ARENA_USED 1
#endif

static void *
arena_malloc(size_t n)
{
	struct arena_chunk *c = arena.head;
	void *p;

	if (!arena.on)
		return malloc(n);
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (c == NULL || c->size - c->used < n) {
		/* Each new chunk twice the last, so that a huge line needs few chunks. */
		size_t size = c == NULL ? ARENA_CHUNK : 2 * c->size;

		if (size < n)
			size = n;

		if ((c = malloc(sizeof *c + size)) == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = arena.head;
		arena.head = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void
arena_free(void *p)
{
	for (struct arena_chunk *c = arena.head; c != NULL; c = c->next)
		if ((char *)p >= (char *)c->data && (char *)p < (char *)c->data + c->size)
			return;
	free(p);
}

/* Forgets every block of the arena, keeping its first chunk for the next line. */
static void
arena_reset(void)
{
	while (arena.head != NULL && arena.head->next != NULL) {
		struct arena_chunk *c = arena.head;

		arena.head = c->next;
		free(c);
	}
	if (arena.head != NULL)
		arena.head->used = 0;
}

/* Frees the arena itself (after every tree from it is gone). */
void
arena_free_all(void)
{
	arena_reset();
	free(arena.head);
	arena.head = NULL;
}

void
arena_install(void)
{
	if (ARENA_USED)
		json_set_alloc_funcs(arena_malloc, arena_free);
}

void
arena_begin(void)
{
	arena_reset();
	arena.on = 1;
}

void
arena_end(void)
{
	arena.on = 0;
}
