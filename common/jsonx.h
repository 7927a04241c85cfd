/* jsonx.h: typed access to jansson objects for validating records, and compact output. */
#ifndef JSONX_H
#define JSONX_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/*
 * Ownership: every json_t returned by these getters is borrowed from the
 * object (do not decref). jsonx_parse returns a new reference.
 *
 * The getters return 0 on success and -1 when the field is missing or of
 * the wrong type, writing a short reason ("field 'ts': expected integer")
 * into err (size errlen). Optional getters return 1 when the field is absent.
 */

/* Parses one line; NaN/Infinity and duplicate keys are rejected. NULL with a reason in err. */
json_t *jsonx_parse(const char *buf, size_t len, char *err, size_t errlen);

/* An id: a non-empty string (at most 256 bytes, no control characters) or an integer, as a string into out[257]. */
int jsonx_get_id(const json_t *obj, const char *key, char out[257], char *err, size_t errlen);
/* A string of at most maxlen bytes (borrowed pointer). */
int jsonx_get_str(const json_t *obj, const char *key, size_t maxlen, const char **out, char *err, size_t errlen);
/* An integer in [lo, hi] (a real with an integral value, such as 3.0, counts as one). */
int jsonx_get_int(const json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen);
/* A finite number (integer or real) in [lo, hi]. */
int jsonx_get_num(const json_t *obj, const char *key, double lo, double hi, double *out, char *err, size_t errlen);
/* An array of at most maxn finite numbers, into out (caller-sized, maxn entries); *n gets the count. */
int jsonx_get_floats(const json_t *obj, const char *key, size_t maxn, float *out, size_t *n, char *err, size_t errlen);
/* A 0/1 flag (also accepts true/false). */
int jsonx_get_flag(const json_t *obj, const char *key, int *out, char *err, size_t errlen);

/* Event time: integer ms since the epoch (integral reals too, as jsonx_get_int), or an RFC 3339 string ("2024-11-23T06:01:18.123Z", offsets allowed). -1 with a reason when invalid. */
int jsonx_get_ts(const json_t *obj, const char *key, int64_t *ms, char *err, size_t errlen);
/* Parses RFC 3339 into ms since the epoch; 0 on success, -1 when invalid. */
int parse_rfc3339_ms(const char *s, int64_t *ms);

/* A float array as a new JSON array (numbers printed with up to 7 significant digits). */
json_t *jsonx_floats(const float *v, size_t n);

/* Compact serialisation preserving key order, into a malloc'd string. */
char *jsonx_dump(const json_t *obj, size_t *len);

/* Milliseconds since the epoch, wall clock. */
int64_t now_ms(void);

#endif
