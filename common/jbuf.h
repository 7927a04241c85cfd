/* jbuf.h: a growable byte buffer for writing JSON records fast, by hand, without building jansson trees. */
#ifndef JBUF_H
#define JBUF_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

/*
 * Zero-initialise; the buffer owns p, which is NUL-terminated once anything
 * was written (len excludes the NUL). Nothing here fails: out of memory ends
 * the program.
 */
struct jbuf {
	char *p;
	size_t len, cap;
};

/* Makes room for n more bytes (and the NUL). */
void jbuf_need(struct jbuf *b, size_t n);
static inline void
jbuf_put(struct jbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len <= n)
		jbuf_need(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}
#define jbuf_lit(b, s) jbuf_put((b), (s), sizeof(s) - 1)
void jbuf_puts(struct jbuf *b, const char *s);
void jbuf_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jbuf_i64(struct jbuf *b, int64_t v);
/* s (n bytes) as a JSON string: quotes, and escapes for '"', '\\' and control characters. */
void jbuf_str(struct jbuf *b, const char *s, size_t n);
/* The NUL-terminated s as a JSON string. */
void jbuf_strz(struct jbuf *b, const char *s);
/* "key": */
void jbuf_key(struct jbuf *b, const char *key);
/*
 * A finite number rounded to 7 significant digits (a float's precision), as
 * printf's "%.7g" writes it, -0 as 0; reading the text back and writing it
 * again gives the same text.
 */
void jbuf_num7(struct jbuf *b, double v);
/*
 * When the JSON number text t (n bytes) has at most 7 significant digits,
 * no exponent, and a value in [1e-4, 1e7) or zero: appends what
 * jbuf_num7(strtod(t)) would, without reading the value, and returns 1.
 * Otherwise appends nothing and returns 0.
 */
int jbuf_num7_text(struct jbuf *b, const char *t, size_t n);
/* A finite number in the shortest form that reads back as the same double. */
void jbuf_num(struct jbuf *b, double v);
/* A float array as [a,b,…], each number as jbuf_num7(). */
void jbuf_floats(struct jbuf *b, const float *v, size_t n);
/* Any JSON value, compact, keys in their order, reals as jbuf_num(). Does not take the reference. */
void jbuf_json(struct jbuf *b, const json_t *v);
/* Empties the buffer, keeping its memory. */
void jbuf_reset(struct jbuf *b);
/* Frees the memory; the buffer is empty and usable again. */
void jbuf_free(struct jbuf *b);

#endif
