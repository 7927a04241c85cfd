/* arena.h: log-collect's allocator for the JSON tree of one line. */
#ifndef ARENA_H
#define ARENA_H

/* Makes jansson allocate from the arena (a no-op under AddressSanitizer). */
void arena_install(void);
/* Forgets the last line's tree and starts taking jansson's allocations for the next. */
void arena_begin(void);
/* Ends a line's parse: allocations go to malloc again. */
void arena_end(void);
/* Frees the arena itself (after every tree from it is gone). */
void arena_free_all(void);

#endif
