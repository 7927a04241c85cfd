/* jscan.h: a strict JSON scanner (RFC 8259) over one buffer, for record readers that build no tree. */
#ifndef JSCAN_H
#define JSCAN_H
#include <stddef.h>
#include <stdint.h>

/*
 * The scanner reads values in place: a reader opens an object, takes its
 * members one by one (key, then the value by the reader it expects), and
 * skips what it does not want. What it refuses beyond the grammar, each
 * with its reason: a string holding \u0000 ("\u0000 in a string"), a lone
 * surrogate escape, invalid UTF-8, a key twice in one object ("duplicate
 * key"), nesting deeper than the scanner's depth bound (JSCAN_MAX_DEPTH
 * unless set). Numbers follow the exact grammar; their values read as
 * strtod() reads them.
 *
 * Memory: the scanner keeps the keys of the open objects in a growing
 * array it owns; jscan_init() on a scanner used before keeps that memory,
 * so reading record after record allocates nothing once the largest has
 * been seen. jscan_free() releases it. A zero-initialised struct is a
 * valid scanner before jscan_init().
 *
 * Errors: every reader returns -1 on the first error and leaves the reason
 * in s->err, as "bad JSON at column N: reason" (N the byte column, from 1);
 * after one error every call fails. jscan_fail() lets a reader record its
 * own reason the same way.
 */

#define JSCAN_MAX_DEPTH 64

enum jscan_type {
	JSCAN_END,		/* nothing but white space left, or an error */
	JSCAN_OBJECT,
	JSCAN_ARRAY,
	JSCAN_STRING,
	JSCAN_NUMBER,
	JSCAN_TRUE,
	JSCAN_FALSE,
	JSCAN_NULL,
	JSCAN_BAD		/* a byte no value starts with */
};

/* Raw text: a string's bytes between its quotes (escapes as written), or a whole value. */
struct jspan {
	const char *p;
	size_t n;
	int esc;		/* of a string: it holds a backslash escape */
};

struct jscan_num {
	double d;		/* the value, rounded as strtod() rounds it (±inf beyond range) */
	int64_t i;		/* the value when is_int */
	int is_int;		/* written without fraction or exponent, and within int64 */
	int int_syntax;		/* written without fraction or exponent */
};

struct jscan {
	const char *start, *p, *end;
	int depth, max_depth;
	int depth0;		/* containers around the buffer (see jscan_nest) */
	int failed;
	int reason_at;		/* where the reason starts in err */
	struct jscan_frame {
		size_t base;	/* of an object: its first key in keys */
		size_t count;	/* members or elements read */
	} frame[JSCAN_MAX_DEPTH + 1];
	struct jspan *keys;
	size_t nkeys, cap_keys;
	char err[160];
};

/* Starts reading buf (len bytes, no NUL needed). */
void jscan_init(struct jscan *s, const char *buf, size_t len);
/* Releases the scanner's memory; it may be initialised again. */
void jscan_free(struct jscan *s);
/* Sets the nesting bound (1 to JSCAN_MAX_DEPTH). */
void jscan_set_depth(struct jscan *s, int depth);
/*
 * After jscan_init(): the buffer is a value found inside outer containers of
 * a document that starts at doc, so that the nesting bound and the columns of
 * reasons count from the document.
 */
void jscan_nest(struct jscan *s, const char *doc, int outer);

/* The type of the next value, after white space (no error for JSCAN_BAD or JSCAN_END). */
enum jscan_type jscan_peek(struct jscan *s);
/* 0 when only white space is left, else -1 ("trailing data"). */
int jscan_finish(struct jscan *s);
/* Records reason (printf format) at the current position; returns -1. */
int jscan_fail(struct jscan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The reason of the first error, without the "bad JSON at column N: " prefix. */
const char *jscan_reason(const struct jscan *s);

/*
 * An object: jscan_object() opens it; each jscan_member() returns 1 with the
 * key, the scanner then at its value (which the caller must read or skip
 * before the next call), 0 after the closing brace, -1 on error.
 */
int jscan_object(struct jscan *s);
int jscan_member(struct jscan *s, struct jspan *key);
/* An array the same way: jscan_element() returns 1 when an element follows. */
int jscan_array(struct jscan *s);
int jscan_element(struct jscan *s);

/* A string: its raw span (see jspan). Decode it with jscan_unescape(). */
int jscan_string(struct jscan *s, struct jspan *out);
int jscan_number(struct jscan *s, struct jscan_num *out);
int jscan_bool(struct jscan *s, int *out);
int jscan_null(struct jscan *s);
/* Steps over any value, checking it as the readers would; out (may be NULL) gets its raw text. */
int jscan_skip(struct jscan *s, struct jspan *out);
/*
 * Checks that buf holds one JSON value and nothing else, as the readers
 * would read it: 0, or -1 with the reason in s->err. A tool that refuses a
 * line gives this reason when the line is not valid JSON, so that the same
 * text gets the same reason from every tool.
 */
int jscan_check(struct jscan *s, const char *buf, size_t len);
/*
 * Steps over an array or object by its brackets and strings alone, without
 * checking what lies between (other values as jscan_skip): the caller reads
 * the span again with a scanner of its own (jscan_nest), which checks it.
 */
int jscan_span(struct jscan *s, struct jspan *out);

/*
 * Decodes a string span read by jscan_string() into out, which has room for
 * sp->n bytes (a decoded string is never longer); returns the decoded length.
 */
size_t jscan_unescape(const struct jspan *sp, char *out);
/* 1 when the string span decodes to the n bytes of lit. */
int jscan_eq(const struct jspan *sp, const char *lit, size_t n);
#define jscan_eq_lit(sp, s) jscan_eq((sp), (s), sizeof(s) - 1)

/*
 * Reads a number's text p..end strictly (the JSON grammar, nothing after
 * it); 0 and *out, or -1 when it is not a number.
 */
int jscan_parse_number(const char *p, size_t n, struct jscan_num *out);

#endif
