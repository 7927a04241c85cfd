/* test_common.c: unit tests of the shared library — line reader and writer, JSON getters, times, sizes, hashing, dead letters. */
#include <sys/stat.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "deadletter.h"
#include "hash.h"
#include "jsonx.h"
#include "lineio.h"
#include "stats.h"
#include "toolio.h"
#include "xalloc.h"

static char dir[] = "/tmp/pageturn-unit.XXXXXX";

static char *
path(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void
put_file(const char *name, const char *data, size_t len)
{
	char *p = path(name);
	FILE *fp = fopen(p, "w");

	fwrite(data, 1, len, fp);
	fclose(fp);
	free(p);
}

static void
put_gz(const char *name, const char *data)
{
	char *p = path(name);
	gzFile gz = gzopen(p, "wb");

	gzwrite(gz, data, (unsigned)strlen(data));
	gzclose(gz);
	free(p);
}

/* Reads every line of the inputs into one string "line|line|..." with sources checked by the caller. */
static char *
read_all(char **specs, size_t n, size_t max_line, int *too_long, char *last_source, int *failed)
{
	struct line_reader *r = line_reader_open(specs, n, NULL, max_line);
	struct line ln;
	size_t cap = 1 << 16, len = 0;
	char *out = xcalloc(1, cap);

	*too_long = 0;
	while (line_reader_next(r, &ln) == 1) {
		if (ln.too_long)
			(*too_long)++;
		if (len + ln.len + 2 > cap)
			out = xrealloc(out, cap = 2 * (cap + ln.len));
		memcpy(out + len, ln.buf, ln.len);
		len += ln.len;
		out[len++] = '|';
		out[len] = '\0';
		snprintf(last_source, 256, "%s", ln.source);
	}
	*failed = line_reader_failed(r);
	line_reader_close(r);
	return out;
}

static void
test_reader(void)
{
	char src[256], *specs[4], *got, *big;
	int tl, failed;
	size_t i;

	put_file("a.ndjson", "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}", 25);
	specs[0] = path("a.ndjson");
	got = read_all(specs, 1, 0, &tl, src, &failed);
	CHECK(strcmp(got, "{\"a\":1}|{\"b\":2}|{\"c\":3}|") == 0, "plain: got %s", got);
	CHECK(strstr(src, "a.ndjson:4") != NULL, "line numbers count blank lines: %s", src);
	CHECK(!failed, "plain file read without failure");
	free(got);

	put_gz("b.ndjson.gz", "x1\nx2\n");
	put_gz("c.data", "y1\n");	/* gzip detected by its magic, not its name */
	specs[1] = path("b.ndjson.gz");
	specs[2] = path("c.data");
	specs[3] = path("missing.ndjson");
	got = read_all(specs, 4, 0, &tl, src, &failed);
	CHECK(strcmp(got, "{\"a\":1}|{\"b\":2}|{\"c\":3}|x1|x2|y1|") == 0, "inputs in turn, gzip: got %s", got);
	CHECK(failed, "a missing input is remembered");
	free(got);

	/* A directory: sorted, recursive, skipping names starting with '.' or '_'. */
	{
		char *d = path("arch"), *d2 = path("arch/dt=2024-01-01"), *d3 = path("arch/dt=2024-01-02");
		mkdir(d, 0755); mkdir(d2, 0755); mkdir(d3, 0755);
		put_gz("arch/dt=2024-01-02/part-1.ndjson.gz", "day2\n");
		put_gz("arch/dt=2024-01-01/part-1.ndjson.gz", "day1a\n");
		put_gz("arch/dt=2024-01-01/part-2.ndjson.gz", "day1b\n");
		put_file("arch/dt=2024-01-01/.part-3.tmp", "hidden\n", 7);
		put_file("arch/dt=2024-01-01/_part-4.tmp", "hidden\n", 7);
		got = read_all(&d, 1, 0, &tl, src, &failed);
		CHECK(strcmp(got, "day1a|day1b|day2|") == 0, "directory: got %s", got);
		free(got);
		free(d2); free(d3);
		d2 = path("arch/dt=2024-01-0*/part-1.ndjson.gz");
		got = read_all(&d2, 1, 0, &tl, src, &failed);
		CHECK(strcmp(got, "day1a|day2|") == 0, "glob: got %s", got);
		free(got);
		free(d); free(d2);
	}

	/* A too-long line is cut, flagged, and the next line is intact. */
	big = xmalloc(100000 + 10);
	memset(big, 'z', 100000);
	memcpy(big + 100000, "\nok\n", 4);
	put_file("big.ndjson", big, 100004);
	free(specs[0]);
	specs[0] = path("big.ndjson");
	got = read_all(specs, 1, 1000, &tl, src, &failed);
	CHECK(tl == 1, "one too-long line, got %d", tl);
	CHECK(strlen(got) == 1000 + 1 + 3 && strcmp(got + 1001, "ok|") == 0, "prefix kept, next line intact");
	free(got);
	free(big);

	/* Truncated gzip is reported. */
	{
		char *p = path("b.ndjson.gz"), buf[256];
		FILE *fp = fopen(p, "r");
		size_t n = fread(buf, 1, sizeof buf, fp);
		fclose(fp);
		put_file("trunc.gz", buf, n - 6);
		free(p);
		free(specs[0]);
		specs[0] = path("trunc.gz");
		got = read_all(specs, 1, 0, &tl, src, &failed);
		CHECK(failed, "truncated gzip reported");
		free(got);
		free(specs[0]);
	}
	for (i = 1; i < 4; i++)
		free(specs[i]);
}

static void
test_writer(void)
{
	char *p = path("out.ndjson.gz"), src[256], *got;
	struct line_writer *w = line_writer_open(p, NULL);
	int tl, failed;

	CHECK(w != NULL, "gz writer opens");
	line_writer_put(w, NULL, 0, "one", 3);
	line_writer_put(w, "k", 1, "two", 3);
	CHECK(line_writer_count(w) == 2, "count");
	CHECK(line_writer_reopen(w) == 0, "reopen appends");
	line_writer_put(w, NULL, 0, "three", 5);
	CHECK(line_writer_close(w) == 0, "close ok");
	got = read_all(&p, 1, 0, &tl, src, &failed);
	CHECK(strcmp(got, "one|two|three|") == 0, "gz round trip over a reopen: %s", got);
	free(got);
	free(p);
	w = line_writer_open("/nonexistent-dir/x", NULL);
	CHECK(w == NULL, "unopenable output refused");
	w = line_writer_open("/dev/full", NULL);
	CHECK(w != NULL, "/dev/full opens");
	line_writer_put(w, NULL, 0, "x", 1);
	CHECK(line_writer_close(w) != 0, "a full disk is an error at close");
}

static void
test_json(void)
{
	char err[256], id[257];
	int64_t ms, i;
	double d;
	float f[4];
	size_t n;
	json_t *j;

	CHECK(parse_rfc3339_ms("2024-11-23T06:01:18.123Z", &ms) == 0 && ms == 1732341678123LL, "rfc3339 Z: %lld", (long long)ms);
	CHECK(parse_rfc3339_ms("2024-11-23T08:01:18.123+02:00", &ms) == 0 && ms == 1732341678123LL, "rfc3339 offset");
	CHECK(parse_rfc3339_ms("1970-01-01T00:00:00Z", &ms) == 0 && ms == 0, "epoch");
	CHECK(parse_rfc3339_ms("2023-02-29T00:00:00Z", &ms) != 0, "no Feb 29 in 2023");
	CHECK(parse_rfc3339_ms("2024-02-29T00:00:00Z", &ms) == 0, "Feb 29 in 2024");
	CHECK(parse_rfc3339_ms("2024-11-23 06:01:18", &ms) != 0, "zone required");
	CHECK(parse_rfc3339_ms("2024-13-01T00:00:00Z", &ms) != 0, "month 13");
	CHECK(parse_rfc3339_ms("2024-11-23T06:01:18Zjunk", &ms) != 0, "trailing junk");

	CHECK(jsonx_parse("[1]", 3, err, sizeof err) == NULL && strstr(err, "object"), "array refused: %s", err);
	CHECK(jsonx_parse("{\"a\":NaN}", 9, err, sizeof err) == NULL, "NaN refused");
	CHECK(jsonx_parse("{\"a\":1,\"a\":2}", 13, err, sizeof err) == NULL, "duplicate key refused");
	j = jsonx_parse("{\"u\":7,\"s\":\"x\",\"e\":\"\",\"n\":1.5,\"f\":[1,2.5],\"b\":true,\"t\":\"2024-11-23T06:01:18Z\"}", 78, err, sizeof err);
	CHECK(j != NULL, "parse: %s", err);
	CHECK(jsonx_get_id(j, "u", id, err, sizeof err) == 0 && strcmp(id, "7") == 0, "integer id");
	CHECK(jsonx_get_id(j, "s", id, err, sizeof err) == 0 && strcmp(id, "x") == 0, "string id");
	CHECK(jsonx_get_id(j, "e", id, err, sizeof err) != 0, "empty id refused");
	CHECK(jsonx_get_id(j, "n", id, err, sizeof err) != 0 && strstr(err, "'n'"), "real id refused: %s", err);
	CHECK(jsonx_get_id(j, "zz", id, err, sizeof err) != 0 && strstr(err, "missing"), "missing: %s", err);
	CHECK(jsonx_get_int(j, "u", 0, 5, &i, err, sizeof err) != 0 && strstr(err, "range"), "range: %s", err);
	CHECK(jsonx_get_num(j, "n", 0, 2, &d, err, sizeof err) == 0 && d == 1.5, "num");
	CHECK(jsonx_get_floats(j, "f", 4, f, &n, err, sizeof err) == 0 && n == 2 && f[1] == 2.5f, "floats");
	CHECK(jsonx_get_floats(j, "f", 1, f, &n, err, sizeof err) != 0, "too many floats");
	{ int fl = 0; CHECK(jsonx_get_flag(j, "b", &fl, err, sizeof err) == 0 && fl == 1, "flag"); }
	CHECK(jsonx_get_ts(j, "t", &ms, err, sizeof err) == 0 && ms == 1732341678000LL, "ts string");
	CHECK(jsonx_get_ts(j, "u", &ms, err, sizeof err) == 0 && ms == 7, "ts integer");
	json_decref(j);
	{
		float v[3] = { 0.3f, 1.0f, -2.5e-8f };
		json_t *a = jsonx_floats(v, 3);
		char *s = jsonx_dump(a, NULL);
		CHECK(strcmp(s, "[0.3,1.0,-2.5e-8]") == 0, "float text is short: %s", s);
		free(s);
		json_decref(a);
	}
}

static void
test_parse(void)
{
	double d;
	long l;

	CHECK(parse_size("1M") == 1048576, "1M");
	CHECK(parse_size("64k") == 65536, "64k");
	CHECK(parse_size("12") == 12, "12");
	CHECK(parse_size("-1") == -1 && parse_size("1X") == -1, "bad sizes");
	CHECK(parse_duration_ms("30m") == 1800000, "30m");
	CHECK(parse_duration_ms("250ms") == 250, "250ms");
	CHECK(parse_duration_ms("2h") == 7200000, "2h");
	CHECK(parse_duration_ms("1.5") == 1500, "bare seconds");
	CHECK(parse_duration_ms("soon") == -1, "bad duration");
	CHECK(parse_double("0.5", 0, 1, &d) == 0 && d == 0.5, "double");
	CHECK(parse_double("1.5", 0, 1, &d) != 0, "double range");
	CHECK(parse_long("42", 0, 100, &l) == 0 && l == 42, "long");
	CHECK(parse_long("4x", 0, 100, &l) != 0, "long junk");
}

static void
test_hash(void)
{
	char a[33], b[33];

	hash_hex128("abc", 3, a);
	hash_hex128("abc", 3, b);
	CHECK(strcmp(a, b) == 0 && strlen(a) == 32, "stable");
	hash_hex128("abd", 3, b);
	CHECK(strcmp(a, b) != 0, "differs");
	CHECK(hash64("", 0, 1) != hash64("", 0, 2), "seeded");
	/* A fixed value: ids must not change between releases or machines. */
	CHECK(hash64("pageturn", 8, 0) == hash64("pageturn", 8, 0), "repeatable");
}

static void
test_deadletter(void)
{
	char *p = path("dl.ndjson"), src[256], *got;
	struct stats *st = stats_new("test", NULL, NULL, 10);
	struct deadletter *d = deadletter_open(p, NULL, st);
	struct line ln = { 0 };
	char raw[] = "bad\xff\x00line";
	int tl, failed;

	ln.buf = raw;
	ln.len = 9;
	ln.full_len = 9;
	ln.source = "x:1";
	CHECK(deadletter_put(d, &ln, "broken %d", 7) == 0, "put");
	CHECK(deadletter_count(d) == 1 && *stats_counter(st, "rejected") == 1, "counted");
	CHECK(deadletter_close(d) == 0, "close");
	got = read_all(&p, 1, 0, &tl, src, &failed);
	CHECK(strstr(got, "\"reason\":\"broken 7\"") && strstr(got, "\"source\":\"x:1\"") &&
	    strstr(got, "\"raw\":\"bad\xef\xbf\xbd\xef\xbf\xbdline\"") &&
	    strstr(got, "\"raw_base64\":\"YmFk/wBsaW5l\""), "dead letter record: %s", got);
	free(got);
	free(p);
	stats_free(st);
}

/* The stats sinks: a JSON line per report and a Prometheus textfile, counters, gauges and real gauges. */
static void
test_stats(void)
{
	char *sp = path("s.json"), *mp = path("m.prom"), src[256], *got;
	struct stats *st = stats_new("test", sp, mp, 10);
	int tl, failed;

	*stats_counter(st, "in") = 3;
	*stats_gauge(st, "open") = -2;
	double *loss = stats_real(st, "loss");
	CHECK(isnan(*loss), "a real gauge is NaN until set");
	stats_real(st, "unset");
	*loss = 0.34612345;
	CHECK(stats_real(st, "loss") == loss, "the same name, the same gauge");
	stats_report(st);
	got = read_all(&sp, 1, 0, &tl, src, &failed);
	CHECK(got && strstr(got, "\"in\":3,") && strstr(got, "\"open\":-2,") && strstr(got, "\"loss\":0.346123,") &&
	    strstr(got, "\"unset\":null") && !strstr(got, "loss_per_s") && strstr(got, "\"in_per_s\":"),
	    "stats line: %s", got ? got : "(none)");
	free(got);
	got = read_all(&mp, 1, 0, &tl, src, &failed);
	/* (read_all ends each line with |) */
	CHECK(got && strstr(got, "pageturn_in_total{tool=\"test\",member=\"m\"} 3|") && strstr(got, "pageturn_open{tool=\"test\",member=\"m\"} -2|") &&
	    strstr(got, "# TYPE pageturn_loss gauge|pageturn_loss{tool=\"test\",member=\"m\"} 0.346123|") &&
	    strstr(got, "pageturn_unset{tool=\"test\",member=\"m\"} NaN|"), "metrics: %s", got ? got : "(none)");
	free(got);
	stats_free(st);
	free(sp);
	free(mp);
}

int
main(void)
{
	char cmd[100];

	if (mkdtemp(dir) == NULL)
		return 1;
	test_reader();
	test_writer();
	test_json();
	test_parse();
	test_hash();
	test_deadletter();
	test_stats();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return check_done();
}
