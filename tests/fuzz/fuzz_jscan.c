/* fuzz_jscan.c: libFuzzer target — any bytes through the strict JSON scanner, skipped whole and read value by value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jscan.h"
#include "xalloc.h"

/* Reads the value at s's position with the typed readers, checking what they return. */
static int
walk(struct jscan *s, char *tmp)
{
	struct jscan_num v;
	struct jspan sp;
	size_t n;
	int r, b;

	switch (jscan_peek(s)) {
	case JSCAN_OBJECT:
		if (jscan_object(s) != 0)
			return -1;
		while ((r = jscan_member(s, &sp)) == 1) {
			if (jscan_unescape(&sp, tmp) > sp.n || (!sp.esc && memchr(sp.p, '\\', sp.n) != NULL))
				abort();
			if (walk(s, tmp) != 0)
				return -1;
		}
		return r;
	case JSCAN_ARRAY:
		if (jscan_array(s) != 0)
			return -1;
		while ((r = jscan_element(s)) == 1)
			if (walk(s, tmp) != 0)
				return -1;
		return r;
	case JSCAN_STRING:
		if (jscan_string(s, &sp) != 0)
			return -1;
		n = jscan_unescape(&sp, tmp);
		if (n > sp.n || memchr(tmp, '\0', n) != NULL)
			abort();	/* \u0000 is refused, so no decoded string holds a NUL */
		if (!jscan_eq(&sp, tmp, n))
			abort();
		return 0;
	case JSCAN_NUMBER:
		if (jscan_number(s, &v) != 0)
			return -1;
		if (v.is_int && (!v.int_syntax || (double)v.i != v.d))
			abort();
		return 0;
	case JSCAN_TRUE:
	case JSCAN_FALSE:
		return jscan_bool(s, &b);
	case JSCAN_NULL:
		return jscan_null(s);
	default:
		return jscan_skip(s, NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jscan s;
	const char *buf = (const char *)data;
	char *tmp = xmalloc(size + 1);
	struct jspan all;
	int skipped, walked;

	/* Skipping the document and reading it value by value agree on whether it is JSON. */
	jscan_init(&s, buf, size);
	skipped = jscan_skip(&s, &all) == 0 && jscan_finish(&s) == 0;
	if (skipped && (all.p < buf || all.p + all.n > buf + size))
		abort();
	jscan_init(&s, buf, size);
	walked = walk(&s, tmp) == 0 && jscan_finish(&s) == 0;
	if (skipped != walked)
		abort();
	if (!skipped && strncmp(s.err, "bad JSON at column ", 19) != 0)
		abort();
	free(tmp);
	return 0;
}
