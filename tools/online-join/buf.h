/* buf.h: a growable byte buffer for building JSON records by hand (online-join). */
#ifndef BUF_H
#define BUF_H
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *p;
	size_t len, cap;
};

/* Makes room for n more bytes (out of memory ends the program). */
void buf_need(struct buf *b, size_t n);
void buf_put(struct buf *b, const char *s, size_t n);
#define buf_lit(b, s) buf_put((b), (s), sizeof(s) - 1)
void buf_i64(struct buf *b, int64_t v);
/* s as a JSON string: quotes, and escapes for '"', '\\' and control characters. */
void buf_str(struct buf *b, const char *s, size_t n);
/* A number with at most 7 significant digits (a float's precision), as %.7g would print it, shortest form. */
void buf_num7(struct buf *b, double v);
/* A float array as [a,b,…]. */
void buf_floats(struct buf *b, const float *v, size_t n);

#endif
