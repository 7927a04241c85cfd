/* test_jnum.c: the float writers of common/jbuf.c against printf and strtod, on millions of values. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "jbuf.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A double of random bits with its exponent within 10^-lo .. 10^hi. */
static double
random_double(int lo, int hi)
{
	double m = (double)(next() >> 11) / 9007199254740992.0 + 0.1;
	double v = m * pow(10, (double)((int)(next() % (unsigned)(lo + hi + 1)) - lo));

	return next() & 1 ? -v : v;
}

/* One value through jbuf_num7 and printf's "%.7g"; counts a difference (the first few shown). */
static int bad7, badtrip;

static void
check7(struct jbuf *b, double v)
{
	char want[40], again[40];

	jbuf_reset(b);
	jbuf_num7(b, v);
	snprintf(want, sizeof want, "%.7g", v);
	if (strcmp(want, "-0") == 0)
		strcpy(want, "0");
	if (strcmp(b->p, want) != 0) {
		if (bad7++ < 5)
			CHECK(0, "%.17g: jbuf_num7 wrote %s, printf %s", v, b->p, want);
		return;
	}
	/* Reading the text back and writing it again gives the same text. */
	strcpy(again, b->p);
	jbuf_reset(b);
	jbuf_num7(b, strtod(again, NULL));
	if (strcmp(b->p, again) != 0 && badtrip++ < 5)
		CHECK(0, "%s: written again as %s", again, b->p);
}

static void
test_num7(void)
{
	struct jbuf b = { 0 };
	char t[64];
	long n = 0;
	int i, k;

	for (i = 0; i < 2000000; i++, n++)
		check7(&b, random_double(12, 12));
	for (i = 0; i < 1000000; i++, n++)
		check7(&b, (double)(float)random_double(5, 8));
	/* Ties and near-ties at the 8th digit: d.dddddd5 × 10^k, and its neighbours. */
	for (i = 0; i < 1000000; i++) {
		snprintf(t, sizeof t, "%llu.%06llu5e%d", (unsigned long long)(1 + next() % 9),
		    (unsigned long long)(next() % 1000000), (int)(next() % 17) - 6);
		double v = strtod(t, NULL);

		check7(&b, v);
		check7(&b, nextafter(v, 0));
		check7(&b, nextafter(v, INFINITY));
		n += 3;
	}
	/* Powers of ten, their neighbours, small integers, and the fast path's edges. */
	for (k = -20; k <= 20; k++) {
		double p = pow(10, k);

		check7(&b, p);
		check7(&b, nextafter(p, 0));
		check7(&b, nextafter(p, INFINITY));
		check7(&b, 9.9999995 * p);
		check7(&b, 9.9999994999 * p);
		n += 5;
	}
	for (i = -100000; i <= 100000; i++, n++)
		check7(&b, i);
	check7(&b, -0.0);
	check7(&b, 1e-4);
	check7(&b, 9999999.5);
	check7(&b, 9999999.4);
	check7(&b, 0.00999999996);
	check7(&b, 5e-324);
	check7(&b, 1.7976931348623157e308);
	n += 8;
	CHECK(bad7 == 0, "%d of %ld values written unlike %%.7g", bad7, n);
	CHECK(badtrip == 0, "%d of %ld values not stable when read back", badtrip, n);
	printf("jbuf_num7: %ld values as printf's %%.7g writes them\n", n);
	jbuf_free(&b);
}

/* jbuf_num7_text writes what jbuf_num7 writes of the text's value, for texts of every shape. */
static void
test_num7_text(void)
{
	static const char *const fixed[] = {
		"0", "-0", "0.0", "-0.000", "1", "10", "100.00", "1000000", "9999999", "10000000", "1234567.0",
		"1234567.5", "0.0001", "0.00009999", "0.000123456", "0.0001234567", "0.00012345678", "-3.1400",
		"1.0000001", "123.4560", "0.1", "5e3", "1E-4", "12345678901234567890", "0.000000000000000000001",
		"9999999.4", "9999999.5", "3.4028235e38",
	};
	struct jbuf b = { 0 }, w = { 0 };
	char t[64];
	size_t i;
	int k, bad = 0;

	for (k = 0; k < 3000000 + (int)(sizeof fixed / sizeof fixed[0]); k++) {
		if (k < (int)(sizeof fixed / sizeof fixed[0]))
			snprintf(t, sizeof t, "%s", fixed[k]);
		else {
			int whole = (int)(next() % 9), frac = (int)(next() % 10);
			char *o = t;

			if (next() & 1)
				*o++ = '-';
			if (whole == 0)
				*o++ = '0';
			for (i = 0; i < (size_t)whole; i++)
				*o++ = (char)((i == 0 ? '1' : '0') + next() % (i == 0 ? 9 : 10));
			if (frac > 0) {
				*o++ = '.';
				for (i = 0; i < (size_t)frac; i++)
					*o++ = (char)('0' + (next() % 3 == 0 ? 0 : next() % 10));
			}
			*o = '\0';
		}
		jbuf_reset(&b);
		jbuf_reset(&w);
		if (!jbuf_num7_text(&b, t, strlen(t))) {
			double v = strtod(t, NULL);

			/* Declined: only a text of more digits, or outside [1e-4, 1e7). */
			if (v != 0 && fabs(v) >= 1e-4 && fabs(v) < 1e7 && strlen(t) <= 8 && strchr(t, 'e') == NULL &&
			    strchr(t, 'E') == NULL && bad++ < 5)
				CHECK(0, "%s: declined", t);
			continue;
		}
		jbuf_num7(&w, strtod(t, NULL));
		if (strcmp(b.p, w.p) != 0 && bad++ < 5)
			CHECK(0, "%s: jbuf_num7_text wrote %s, jbuf_num7 %s", t, b.p, w.p);
	}
	CHECK(bad == 0, "%d texts written unlike jbuf_num7", bad);
	jbuf_free(&b);
	jbuf_free(&w);
}

/* The significant digits of a number's text. */
static int
digits(const char *s)
{
	int n = 0, zeros = 0, seen = 0;

	for (; *s != '\0' && *s != 'e'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (*s == '0' && !seen)
			continue;
		seen = 1;
		if (*s == '0') {
			zeros++;
		} else {
			n += zeros + 1;
			zeros = 0;
		}
	}
	return n;
}

/* jbuf_num: the text reads back as the same double, and is no longer than %.17g. */
static void
test_num(void)
{
	struct jbuf b = { 0 };
	int i, bad = 0, longer = 0;

	for (i = 0; i < 2000000; i++) {
		double v = i % 4 == 0 ? (double)(float)random_double(6, 6) : i % 4 == 1 ? random_double(300, 300) :
		    i % 4 == 2 ? round(random_double(3, 3) * 1e4) / 1e4 : random_double(8, 15);

		jbuf_reset(&b);
		jbuf_num(&b, v);
		if (strtod(b.p, NULL) != v && bad++ < 5)
			CHECK(0, "%.17g: jbuf_num wrote %s", v, b.p);
		if (digits(b.p) > 17 && longer++ < 5)
			CHECK(0, "%.17g: jbuf_num wrote %s, more than 17 digits", v, b.p);
	}
	CHECK(bad == 0 && longer == 0, "jbuf_num: %d not read back, %d of more than 17 digits", bad, longer);
	jbuf_free(&b);
}

/* What the fast path costs against printf (shown, not checked: timing is the machine's). */
static void
show_speed(void)
{
	struct jbuf b = { 0 };
	struct timespec t0, t1, t2;
	static double v[200000];
	char t[40];
	size_t i, sink = 0;

	for (i = 0; i < sizeof v / sizeof v[0]; i++)
		v[i] = (double)(float)random_double(3, 3);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		jbuf_reset(&b);
		jbuf_num7(&b, v[i]);
		sink += b.len;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0; i < sizeof v / sizeof v[0]; i++)
		sink += (size_t)snprintf(t, sizeof t, "%.7g", v[i]);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	printf("jbuf_num7 %.0f ns a value, printf %.0f ns (%zu bytes)\n",
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)i,
	    ((double)(t2.tv_sec - t1.tv_sec) * 1e9 + (double)(t2.tv_nsec - t1.tv_nsec)) / (double)i, sink);
	jbuf_free(&b);
}

int
main(void)
{
	test_num7();
	test_num7_text();
	test_num();
	show_speed();
	return check_done();
}
