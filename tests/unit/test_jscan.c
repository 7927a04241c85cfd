/* test_jscan.c: unit tests of the strict JSON scanner (common/jscan.c), and JSONTestSuite's parsing cases. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jscan.h"

#define SUITE "../shared/data/jsontestsuite/test_parsing"

/* The y_ files refused on purpose, and the reason each gets. */
static const struct {
	const char *file, *reason;
} refused[] = {
	{ "y_object_duplicated_key.json", "duplicate key" },
	{ "y_object_duplicated_key_and_value.json", "duplicate key" },
	{ "y_object_escaped_null_in_key.json", "\\u0000 in a string" },
	{ "y_string_null_escape.json", "\\u0000 in a string" },
};

/* Reads one whole document; 0, or -1 with the reason in s->err. */
static int
document(struct jscan *s, const char *buf, size_t len)
{
	jscan_init(s, buf, len);
	if (jscan_skip(s, NULL) != 0)
		return -1;
	return jscan_finish(s);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void
test_suite(void)
{
	struct jscan s = { 0 };
	DIR *d = opendir(SUITE);
	struct dirent *e;
	int ny = 0, nn = 0, ni = 0, ni_ok = 0, nrefused = 0;

	CHECK(d != NULL, "cannot open %s", SUITE);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[512];
		const char *want = NULL;
		size_t len, i;
		char *buf;
		int r;

		if (strlen(e->d_name) < 3 || e->d_name[1] != '_')
			continue;
		snprintf(path, sizeof path, "%s/%s", SUITE, e->d_name);
		buf = slurp(path, &len);
		CHECK(buf != NULL, "cannot read %s", path);
		if (buf == NULL)
			continue;
		r = document(&s, buf, len);
		switch (e->d_name[0]) {
		case 'y':
			ny++;
			for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
				if (strcmp(refused[i].file, e->d_name) == 0)
					want = refused[i].reason;
			if (want != NULL) {
				nrefused++;
				CHECK(r == -1 && strstr(s.err, want) != NULL, "%s: want refused for %s, got %s",
				    e->d_name, want, r == 0 ? "accepted" : s.err);
			} else
				CHECK(r == 0, "%s: refused: %s", e->d_name, s.err);
			break;
		case 'n':
			nn++;
			CHECK(r == -1, "%s: accepted", e->d_name);
			CHECK(r == 0 || strncmp(s.err, "bad JSON at column ", 19) == 0, "%s: reason %s",
			    e->d_name, s.err);
			break;
		case 'i':
			ni++;
			ni_ok += r == 0;
			break;
		}
		free(buf);
	}
	closedir(d);
	jscan_free(&s);
	printf("JSONTestSuite: %d y_ (%d refused with a reason), %d n_ rejected, %d i_ (%d accepted)\n",
	    ny, nrefused, nn, ni, ni_ok);
	CHECK(ny >= 95 && nn >= 188 && ni >= 35, "suite incomplete: %d y_, %d n_, %d i_", ny, nn, ni);
	CHECK(nrefused == (int)(sizeof refused / sizeof refused[0]), "%d refused y_ files found", nrefused);
}

/* An object read member by member: keys, typed values, skipped values, spans. */
static void
test_members(void)
{
	static const char doc[] =
	    " { \"a\" : 1, \"b\":\"x\\u00e9\\n\", \"c\":[1,{\"d\":null}], \"e\":true, \"f\":-2.5e1, \"\\u0067\":null } ";
	struct jscan s = { 0 };
	struct jspan k, v;
	struct jscan_num num;
	char out[32];
	int b, n = 0, r;

	jscan_init(&s, doc, sizeof doc - 1);
	CHECK(jscan_peek(&s) == JSCAN_OBJECT, "peek object");
	CHECK(jscan_object(&s) == 0, "open");
	while ((r = jscan_member(&s, &k)) == 1) {
		n++;
		if (jscan_eq_lit(&k, "a")) {
			CHECK(jscan_number(&s, &num) == 0 && num.is_int && num.i == 1 && num.d == 1, "a");
		} else if (jscan_eq_lit(&k, "b")) {
			CHECK(jscan_string(&s, &v) == 0 && v.esc, "b");
			CHECK(jscan_unescape(&v, out) == 4 && memcmp(out, "x\xc3\xa9\n", 4) == 0, "b decoded");
		} else if (jscan_eq_lit(&k, "c")) {
			CHECK(jscan_skip(&s, &v) == 0 && v.n == 14 && memcmp(v.p, "[1,{\"d\":null}]", 14) == 0,
			    "c span %.*s", (int)v.n, v.p);
		} else if (jscan_eq_lit(&k, "e")) {
			CHECK(jscan_bool(&s, &b) == 0 && b == 1, "e");
		} else if (jscan_eq_lit(&k, "f")) {
			CHECK(jscan_number(&s, &num) == 0 && !num.is_int && !num.int_syntax && num.d == -25, "f");
		} else if (jscan_eq_lit(&k, "g")) {
			CHECK(k.esc && jscan_null(&s) == 0, "g escaped key");
		} else
			CHECK(0, "unexpected key %.*s", (int)k.n, k.p);
	}
	CHECK(r == 0 && n == 6, "members: r %d n %d: %s", r, n, s.err);
	CHECK(jscan_finish(&s) == 0 && s.depth == 0 && s.nkeys == 0, "finish");
	/* An escaped string against a literal holding a backslash: the literal is taken as it is. */
	jscan_init(&s, "[\"a\\\\n\"]", 8);
	CHECK(jscan_array(&s) == 0 && jscan_element(&s) == 1 && jscan_string(&s, &v) == 0 && v.esc, "a\\n");
	CHECK(jscan_eq(&v, "a\\n", 3) && !jscan_eq(&v, "a\n", 2), "a\\n against a literal backslash");
	jscan_free(&s);
}

/* Reasons for what the scanner refuses beyond the grammar. */
static void
test_refusals(void)
{
	static const struct {
		const char *doc, *reason;
	} cases[] = {
		{ "{\"a\":1,\"a\":2}", "duplicate key \"a\"" },
		{ "{\"a\":1,\"\\u0061\":2}", "duplicate key" },
		{ "{\"x\":{\"b\":1,\"c\":{},\"b\":[]}}", "duplicate key \"b\"" },
		{ "[\"\\u0000\"]", "\\u0000 in a string" },
		{ "[\"\\udc00\"]", "lone surrogate" },
		{ "[\"\\ud800x\"]", "lone surrogate" },
		{ "[\"\xc0\x80\"]", "invalid UTF-8" },
		{ "[\"\xed\xa0\x80\"]", "invalid UTF-8" },
		{ "[01]", "leading zero" },
		{ "[1.]", "digit expected after '.'" },
		{ "[1e+]", "exponent" },
		{ "{\"a\" 1}", "':' expected" },
		{ "[1 2]", "',' or ']' expected" },
		{ "[1] x", "trailing data" },
		{ "[\"a\tb\"]", "control character" },
	};
	struct jscan s = { 0 };
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r = document(&s, cases[i].doc, strlen(cases[i].doc));

		CHECK(r == -1 && strstr(s.err, cases[i].reason) != NULL, "%s: want %s, got %s", cases[i].doc,
		    cases[i].reason, r == 0 ? "accepted" : s.err);
	}
	CHECK(document(&s, "{\"a\":1,\"a\":2}", 13) == -1 && strcmp(jscan_reason(&s), "duplicate key \"a\"") == 0 &&
	    strncmp(s.err, "bad JSON at column 8: ", 22) == 0, "column and reason: %s", s.err);
	jscan_free(&s);
}

/* Duplicates in a large object (checked by sorting), and no false alarm there. */
static void
test_large_object(void)
{
	struct jscan s = { 0 };
	char *doc = malloc(200000);
	size_t n = 0;
	int i;

	n += (size_t)sprintf(doc + n, "{");
	for (i = 0; i < 5000; i++)
		n += (size_t)sprintf(doc + n, "%s\"k%d\":%d", i ? "," : "", i, i);
	CHECK(document(&s, doc, (size_t)sprintf(doc + n, "}") + n) == 0, "5000 keys: %s", s.err);
	n += (size_t)sprintf(doc + n, ",\"k\\u0034999\":0}");
	CHECK(document(&s, doc, n) == -1 && strstr(s.err, "duplicate key \"k") != NULL, "5000 keys, one twice: %s",
	    s.err);
	free(doc);
	jscan_free(&s);
}

static void
test_depth(void)
{
	struct jscan s = { 0 };
	char doc[300];
	int i;

	for (i = 0; i < 64; i++)
		doc[i] = '[', doc[127 - i] = ']';
	CHECK(document(&s, doc, 128) == 0, "64 levels: %s", s.err);
	for (i = 0; i < 65; i++)
		doc[i] = '[', doc[129 - i] = ']';
	CHECK(document(&s, doc, 130) == -1 && strstr(s.err, "nested deeper than 64") != NULL, "65 levels: %s", s.err);
	jscan_set_depth(&s, 3);
	CHECK(document(&s, "[[[1]]]", 7) == 0 && document(&s, "[[[[1]]]]", 9) == -1, "depth 3");
	jscan_free(&s);
}

/* Numbers: the value strtod() gives, integers exactly within int64, and the grammar's edges. */
static void
test_numbers(void)
{
	static const char *const nums[] = {
		"0", "-0", "1", "-1", "0.1", "0.30000000000000004", "1e22", "1e23", "123456789012345678",
		"9007199254740993", "1.7976931348623157e308", "2.2250738585072014e-308", "4.9e-324", "1e-400",
		"1e400", "-1e400", "0.000001234", "12345678901234567890123", "1.00000000000000011102230246251565404236316680908203125",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
		"3.14159265358979323846264338327950288", "100000000000000000000000000000000000e-30",
		"0.00000000000000000000000000000000000000000000000000000000000000000001e60", "123.456e-2",
	};
	struct jscan_num v;
	size_t i;
	char buf[64];
	unsigned long long seed = 1;
	int bad = 0, k;

	for (i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		double want = strtod(nums[i], NULL);

		CHECK(jscan_parse_number(nums[i], strlen(nums[i]), &v) == 0, "%s", nums[i]);
		CHECK(memcmp(&v.d, &want, sizeof want) == 0, "%s: %.17g, want %.17g", nums[i], v.d, want);
	}
	CHECK(jscan_parse_number("9223372036854775807", 19, &v) == 0 && v.is_int && v.i == INT64_MAX, "max");
	CHECK(jscan_parse_number("-9223372036854775808", 20, &v) == 0 && v.is_int && v.i == INT64_MIN, "min");
	CHECK(jscan_parse_number("9223372036854775808", 19, &v) == 0 && !v.is_int && v.int_syntax, "max + 1");
	CHECK(jscan_parse_number("12345678901234567890", 20, &v) == 0 && !v.is_int, "20 digits");
	CHECK(jscan_parse_number("-0", 2, &v) == 0 && v.is_int && v.i == 0 && signbit(v.d), "-0");
	CHECK(jscan_parse_number("1.0", 3, &v) == 0 && !v.is_int && v.d == 1, "1.0");
	CHECK(jscan_parse_number("1 ", 2, &v) == -1 && jscan_parse_number("+1", 2, &v) == -1 &&
	    jscan_parse_number(".5", 2, &v) == -1 && jscan_parse_number("1e", 2, &v) == -1 &&
	    jscan_parse_number("-", 1, &v) == -1 && jscan_parse_number("00", 2, &v) == -1, "bad grammar");
	/* Random texts of many shapes read as strtod reads them. */
	for (k = 0; k < 1000000; k++) {
		double want;
		int n;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		switch ((seed >> 60) & 3) {
		case 0:
			n = snprintf(buf, sizeof buf, "%llu", (seed >> 11) >> ((seed >> 33) & 31));
			break;
		case 1:
			n = snprintf(buf, sizeof buf, "%.*g", 1 + (int)((seed >> 20) % 17),
			    (double)(seed >> 11) * pow(10, (double)((int)((seed >> 40) % 80) - 50)));
			break;
		case 2:
			n = snprintf(buf, sizeof buf, "-%llu.%llue%d", (seed >> 40) % 1000, (seed >> 8) % 100000000000ULL,
			    (int)((seed >> 50) % 40) - 20);
			break;
		default:
			n = snprintf(buf, sizeof buf, "%.17g", (double)(seed >> 12) / (double)((seed >> 52) + 1));
			break;
		}
		want = strtod(buf, NULL);
		if (jscan_parse_number(buf, (size_t)n, &v) != 0 || memcmp(&v.d, &want, sizeof want) != 0) {
			if (bad++ < 5)
				CHECK(0, "%s: %.17g, want %.17g", buf, v.d, want);
		}
	}
	CHECK(bad == 0, "%d of a million numbers read unlike strtod", bad);
}

int
main(void)
{
	test_suite();
	test_members();
	test_refusals();
	test_large_object();
	test_depth();
	test_numbers();
	return check_done();
}
