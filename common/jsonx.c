/* jsonx.c: typed access to jansson objects for validating records, and compact output. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "jsonx.h"


json_t *
jsonx_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;

	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		diag_errf(err, errlen, "bad JSON at column %d: %s", je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		diag_errf(err, errlen, "not a JSON object");
		return NULL;
	}
	return j;
}

int
jsonx_get_id(const json_t *obj, const char *key, char out[257], char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n, i;

	if (v == NULL)
		return diag_errf(err, errlen, "missing field '%s'", key);
	if (json_is_integer(v)) {
		snprintf(out, 257, "%lld", (long long)json_integer_value(v));
		return 0;
	}
	if (!json_is_string(v))
		return diag_errf(err, errlen, "field '%s': expected string or integer id", key);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0)
		return diag_errf(err, errlen, "field '%s': empty id", key);
	if (n > 256)
		return diag_errf(err, errlen, "field '%s': id longer than 256 bytes", key);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return diag_errf(err, errlen, "field '%s': control character in id", key);
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int
jsonx_get_str(const json_t *obj, const char *key, size_t maxlen, const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return diag_errf(err, errlen, "missing field '%s'", key);
	if (!json_is_string(v))
		return diag_errf(err, errlen, "field '%s': expected string", key);
	if (json_string_length(v) > maxlen)
		return diag_errf(err, errlen, "field '%s': longer than %zu bytes", key, maxlen);
	*out = json_string_value(v);
	return 0;
}

int
jsonx_get_int(const json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	json_int_t i;
	double d;

	if (v == NULL)
		return diag_errf(err, errlen, "missing field '%s'", key);
	if (json_is_integer(v))
		i = json_integer_value(v);
	else if (json_is_real(v)) {
		d = json_real_value(v);
		if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
			return diag_errf(err, errlen, "field '%s': expected integer", key);
		i = (json_int_t)d;
	} else
		return diag_errf(err, errlen, "field '%s': expected integer", key);
	if (i < lo || i > hi)
		return diag_errf(err, errlen, "field '%s': %lld out of range [%lld, %lld]", key,
		    (long long)i, (long long)lo, (long long)hi);
	*out = i;
	return 0;
}

int
jsonx_get_num(const json_t *obj, const char *key, double lo, double hi, double *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	double d;

	if (v == NULL)
		return diag_errf(err, errlen, "missing field '%s'", key);
	if (!json_is_number(v))
		return diag_errf(err, errlen, "field '%s': expected number", key);
	d = json_number_value(v);
	if (!isfinite(d))
		return diag_errf(err, errlen, "field '%s': not a finite number", key);
	if (d < lo || d > hi)
		return diag_errf(err, errlen, "field '%s': %g out of range [%g, %g]", key, d, lo, hi);
	*out = d;
	return 0;
}

int
jsonx_get_floats(const json_t *obj, const char *key, size_t maxn, float *out, size_t *n, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key), *e;
	size_t i, len;
	double d;

	if (v == NULL)
		return diag_errf(err, errlen, "missing field '%s'", key);
	if (!json_is_array(v))
		return diag_errf(err, errlen, "field '%s': expected array of numbers", key);
	len = json_array_size(v);
	if (len > maxn)
		return diag_errf(err, errlen, "field '%s': more than %zu numbers", key, maxn);
	for (i = 0; i < len; i++) {
		e = json_array_get(v, i);
		if (!json_is_number(e))
			return diag_errf(err, errlen, "field '%s'[%zu]: expected number", key, i);
		d = json_number_value(e);
		if (!isfinite(d) || fabs(d) > 3.4e38)
			return diag_errf(err, errlen, "field '%s'[%zu]: not a finite float", key, i);
		out[i] = (float)d;
	}
	*n = len;
	return 0;
}

int
jsonx_get_flag(const json_t *obj, const char *key, int *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return diag_errf(err, errlen, "missing field '%s'", key);
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
		*out = (int)json_integer_value(v);
		return 0;
	}
	return diag_errf(err, errlen, "field '%s': expected 0 or 1", key);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
parse_rfc3339_ms(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100;
	int64_t t, off = 0;
	const char *p;

	if (strlen(s) < 20)
		return -1;
	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (int64_t)(oh * 60 + om) * 60000;
		if (*p == '+')
			off = -off;
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	if (sec == 60)
		sec = 59;	/* a leap second maps onto the second before it */
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	*ms = t * 1000 + frac + off;
	return 0;
}

int
jsonx_get_ts(const json_t *obj, const char *key, int64_t *ms, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return diag_errf(err, errlen, "missing field '%s'", key);
	if (json_is_string(v)) {
		if (parse_rfc3339_ms(json_string_value(v), ms) != 0)
			return diag_errf(err, errlen, "field '%s': not an RFC 3339 time", key);
		return 0;
	}
	if (json_is_number(v))
		return jsonx_get_int(obj, key, INT64_MIN, INT64_MAX, ms, err, errlen) == 0 ? 0 :
		    diag_errf(err, errlen, "field '%s': expected integer ms or RFC 3339 string", key);
	return diag_errf(err, errlen, "field '%s': expected integer ms or RFC 3339 string", key);
}

json_t *
jsonx_floats(const float *v, size_t n)
{
	json_t *a = json_array();
	char buf[32];
	size_t i;

	for (i = 0; i < n; i++) {
		/* Round to the float's own precision so that the text is short and exact enough. */
		snprintf(buf, sizeof buf, "%.7g", (double)v[i]);
		json_array_append_new(a, json_real(strtod(buf, NULL)));
	}
	return a;
}

char *
jsonx_dump(const json_t *obj, size_t *len)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));

	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
