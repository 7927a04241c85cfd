/* test_qscore_parse.c: q-score's request parser — fields, ids, numbers, escapes, unknown fields, and every kind of bad input. */
/* test-links: q-score */
#include <math.h>
#include <string.h>

#include "check.h"
#include "qscore.h"

/* the powers of ten a decimal of at most 18 digits divides by, exact as doubles */
static const double pow10_tab[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18
};

static struct qs_worker w;
static struct qs_req rq;
static char err[256];

static int
parse(const char *s)
{
	err[0] = '\0';
	return qs_parse(&w, s, strlen(s), 100, &rq, err, sizeof err);
}

/* Parses s, expecting a failure whose reason starts with want. */
static void
refused(const char *s, const char *want)
{
	int rc = parse(s);

	CHECK(rc == -1 && strncmp(err, want, strlen(want)) == 0, "%s -> \"%s\", want \"%s\"", s, err, want);
}

/* Whether buf[a..b) is want. */
static int
parse_span(const char *buf, size_t a, size_t b, const char *want)
{
	return b - a == strlen(want) && memcmp(buf + a, want, b - a) == 0;
}

/* What walk() saw of a batch: its elements' extents, which were parsed as read, and their ids. */
#define WALK_MAX 8
static struct walked {
	size_t n, starts[WALK_MAX], ends[WALK_MAX];
	int parsed[WALK_MAX];
	char ids[WALK_MAX][257];
} wk;

/* Walks a batch with qs_batch_next(), parsing its elements as read (with) or only checking them; its result. */
static int
walk(const char *buf, size_t len, int with)
{
	struct qs_batch b;
	size_t start, end;
	int parsed, r;

	memset(&wk, 0, sizeof wk);
	err[0] = '\0';
	if (qs_batch_open(&b, buf, len, err, sizeof err) != 0)
		return -1;
	while ((r = qs_batch_next(&b, with ? &w : NULL, 100, &rq, &start, &end, &parsed)) == 1) {
		if (wk.n < WALK_MAX) {
			wk.starts[wk.n] = start;
			wk.ends[wk.n] = end;
			wk.parsed[wk.n] = parsed;
			if (parsed)
				memcpy(wk.ids[wk.n], rq.request_id, sizeof rq.request_id);
		}
		wk.n++;
	}
	return r;
}

static const char *
cid(size_t i)
{
	return w.sbuf + w.coff[i];
}

int
main(void)
{
	const char *batch;

	CHECK(parse("{\"request_id\":\"r9\",\"user_id\":7,\"hist\":[\"i9\",3],\"context\":[0.5,-1e-3,2E2,0],"
	    "\"candidates\":[{\"item_id\":\"i42\",\"features\":[4.5,0.3]},{\"features\":[],\"item_id\":12345678901}],"
	    "\"k\":10,\"extra\":{\"deep\":[1,{\"x\":null},true,false,\"s\"]}}") == 0, "a full request: %s", err);
	CHECK(strcmp(rq.request_id, "r9") == 0 && strcmp(rq.user_id, "7") == 0 && rq.has_user, "ids");
	CHECK(rq.has_hist && rq.nhist == 2 && strcmp(w.sbuf + w.hoff[1], "3") == 0, "hist");
	CHECK(rq.has_ctx && rq.nctx == 4 && w.fbuf[rq.ctx_off] == 0.5f && w.fbuf[rq.ctx_off + 1] == -0.001f &&
	    w.fbuf[rq.ctx_off + 2] == 200.0f, "context numbers");
	CHECK(rq.ncand == 2 && strcmp(cid(0), "i42") == 0 && strcmp(cid(1), "12345678901") == 0, "candidate ids");
	CHECK(w.cfn[0] == 2 && w.fbuf[w.cfoff[0]] == 4.5f && w.fbuf[w.cfoff[0] + 1] == 0.3f && w.cfn[1] == 0,
	    "features");
	CHECK(rq.k == 10, "k");

	CHECK(parse(" {\"request_id\":\"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\",\"candidates\":[]} \n") == 0,
	    "escapes: %s", err);
	CHECK(strcmp(rq.request_id, "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80") == 0, "unescaped to UTF-8: %s", rq.request_id);
	CHECK(parse("{\"request_id\":\"\xc3\xa9t\xc3\xa9\",\"candidates\":[{\"item_id\":\"x\",\"features\":[1.5e3,-0,0.0001]}]}")
	    == 0 && w.fbuf[w.cfoff[0]] == 1500.0f && w.fbuf[w.cfoff[0] + 2] == 0.0001f, "UTF-8 and exponents: %s", err);
	CHECK(parse("{\"request_id\":1,\"candidates\":[],\"k\":3.0}") == 0 && rq.k == 3, "k written 3.0: %s", err);
	CHECK(parse("{\"request_id\":1,\"candidates\":[],\"k\":0}") == 0 && rq.k == QS_K_ALL, "k 0: every candidate: %s", err);
	CHECK(parse("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":[0.12345678901234567890123]}]}")
	    == 0 && fabsf(w.fbuf[w.cfoff[0]] - 0.12345679f) < 1e-7f, "a long fraction: %s", err);
	CHECK(parse("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":[123456789012345678901234]}]}")
	    == 0 && fabsf(w.fbuf[w.cfoff[0]] / 1.2345679e23f - 1) < 1e-6f, "a long integer as a float: %s", err);

	refused("", "bad JSON at column 1: '{' expected");
	refused("[1]", "not a JSON object");
	refused("{\"request_id\":\"a\",}", "bad JSON at column 19: string key expected");
	refused("{\"request_id\":\"a\" \"candidates\":[]}", "bad JSON at column 19: ',' or '}' expected");
	refused("{\"request_id\":\"a\",\"candidates\":[]} x", "bad JSON at column 36: trailing characters");
	refused("{\"request_id\":\"a\nb\",\"candidates\":[]}", "bad JSON at column 17: control character");
	refused("{\"request_id\":\"a\\x\",\"candidates\":[]}", "bad JSON at column 17: invalid escape");
	refused("{\"request_id\":\"\\ud83d\",\"candidates\":[]}", "bad JSON");
	refused("{\"request_id\":\"\xff\",\"candidates\":[]}", "bad JSON at column 16: invalid UTF-8");
	refused("{\"request_id\":\"\xc0\xaf\",\"candidates\":[]}", "bad JSON at column 16: invalid UTF-8");
	refused("{\"request_id\":\"a\",\"candidates\":[],\"x\":01}", "bad JSON");
	refused("{\"request_id\":\"a\",\"candidates\":[],\"x\":1.}", "bad JSON");
	refused("{\"request_id\":\"a\",\"candidates\":[],\"x\":NaN}", "bad JSON");
	refused("{\"request_id\":\"a\",\"candidates\":[],\"x\":tru}", "bad JSON");
	refused("{\"request_id\":\"a\",\"candidates\":[],\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	    "bad JSON at column");
	refused("{\"request_id\":\"a\",\"candidates\":[", "bad JSON");
	refused("{\"request_id\":\"a\",\"request_id\":\"b\",\"candidates\":[]}", "field 'request_id': given twice");
	refused("{\"candidates\":[]}", "missing field 'request_id'");
	refused("{\"request_id\":\"r\"}", "missing field 'candidates'");
	CHECK(strcmp(rq.request_id, "r") == 0, "the id is known when a later field fails");
	refused("{\"request_id\":\"\",\"candidates\":[]}", "field 'request_id': empty id");
	refused("{\"request_id\":1.5,\"candidates\":[]}", "field 'request_id': expected a string or integer id");
	refused("{\"request_id\":[\"a\"],\"candidates\":[]}", "field 'request_id': expected a string or integer id");
	refused("{\"request_id\":\"a\\u0001\",\"candidates\":[]}", "field 'request_id': control character in id");
	refused("{\"request_id\":\"a\",\"candidates\":{}}", "field 'candidates': expected an array");
	refused("{\"request_id\":\"a\",\"candidates\":[1]}", "candidates[0]: not an object");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"features\":[1]}]}", "candidates[0]: missing field 'item_id'");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\"},{\"item_id\":true}]}",
	    "candidates[1]: field 'item_id': expected a string or integer id");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":[1,null]}]}",
	    "candidates[0]: field 'features'[1]: expected a number");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":[1e39]}]}",
	    "candidates[0]: field 'features'[0]: not a finite float");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":1}]}",
	    "candidates[0]: field 'features': expected an array of numbers");
	refused("{\"request_id\":\"a\",\"hist\":\"i1\",\"candidates\":[]}", "field 'hist': expected an array of ids");
	refused("{\"request_id\":\"a\",\"hist\":[\"i1\",{}],\"candidates\":[]}", "field 'hist'[1]: expected a string or integer id");
	refused("{\"request_id\":\"a\",\"context\":[1,\"2\"],\"candidates\":[]}", "field 'context'[1]: expected a number");
	refused("{\"request_id\":\"a\",\"candidates\":[],\"k\":-1}", "field 'k': expected an integer");
	refused("{\"request_id\":\"a\",\"candidates\":[],\"k\":2.5}", "field 'k': expected an integer");
	refused("{\"request_id\":\"a\",\"candidates\":[],\"k\":\"3\"}", "field 'k': expected an integer");
	/* a candidate's keys and ids written plainly are read by a shortcut; anything else as before */
	CHECK(parse("{\"request_id\":\"a\",\"candidates\":[{ \"item_id\" :\t\"x\" , \"features\" : [1] },"
	    "{\"item_idx\":1,\"featuresx\":2,\"item_id\":\"i\\u0041\\\"\",\"features\":[]},{\"item_id\":\"\xc3\xa9\"}]}") == 0 &&
	    rq.ncand == 3 && strcmp(cid(0), "x") == 0 && w.cfn[0] == 1 && w.fbuf[w.cfoff[0]] == 1.0f &&
	    strcmp(cid(1), "iA\"") == 0 && w.cfn[1] == 0 && strcmp(cid(2), "\xc3\xa9") == 0 && w.cfoff[2] == SIZE_MAX,
	    "plain keys with white space, near-miss keys skipped, escaped and UTF-8 ids: %s", err);
	/*
	 * a whole candidate written {"item_id":"ID","features":[N,...]} is read in one pass; one that
	 * departs from that anywhere is read by the general path, to the same fields or the same refusal
	 */
	{
		static const char *const forms[] = {
			"{\"item_id\":\"i7\",\"features\":[2.948,-0.275,3]}",
			"{ \"item_id\":\"i7\",\"features\":[2.948,-0.275,3]}",
			"{\"item_id\":\"i7\",\"features\":[2.948,-0.275,3] }",
			"{\"item_id\":\"i7\",\"features\":[2.948,-0.275,3e0]}",
			"{\"features\":[2.948,-0.275,3],\"item_id\":\"i7\"}",
			"{\"item_id\":\"i\\u0037\",\"features\":[2.948,-0.275,3]}",
			"{\"item_id\":\"i7\",\"features\":[2.948,-0.275,3],\"x\":1}",
		};
		char buf[256];
		size_t f, ok = 0;
		for (f = 0; f < sizeof forms / sizeof forms[0]; f++) {
			snprintf(buf, sizeof buf, "{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"i0\",\"features\":[]},%s,"
			    "{\"item_id\":\"i8\",\"features\":[1]}]}", forms[f]);
			ok += parse(buf) == 0 && rq.ncand == 3 && strcmp(cid(0), "i0") == 0 && w.cfn[0] == 0 &&
			    strcmp(cid(1), "i7") == 0 && w.clen[1] == 2 && w.cfn[1] == 3 && w.fbuf[w.cfoff[1]] == 2.948f &&
			    w.fbuf[w.cfoff[1] + 1] == -0.275f && w.fbuf[w.cfoff[1] + 2] == 3.0f &&
			    strcmp(cid(2), "i8") == 0 && w.cfn[2] == 1 && w.fbuf[w.cfoff[2]] == 1.0f &&
			    w.cfoff[2] == w.cfoff[1] + 3;
		}
		CHECK(ok == f, "a candidate in the one-pass form and in %zu others: %zu read alike", f - 1, ok);
	}
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"a\x7f\",\"features\":[1]}]}",
	    "candidates[0]: field 'item_id': control character in id");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"\",\"features\":[1]}]}",
	    "candidates[0]: field 'item_id': empty id");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":[1,]}]}",
	    "bad JSON at column 62: invalid value");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":[1]]}",
	    "bad JSON at column 62: ',' or '}' expected");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":[1e39]}]}",
	    "candidates[0]: field 'features'[0]: not a finite float");
	{
		char big[600];
		int len = snprintf(big, sizeof big, "{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"");
		memset(big + len, 'x', EMB_ID_MAX + 1);
		snprintf(big + len + EMB_ID_MAX + 1, sizeof big - (size_t)len - EMB_ID_MAX - 1, "\",\"features\":[1]}]}");
		refused(big, "candidates[0]: field 'item_id': id longer than");
	}
	/* numbers in arrays: the one-pass reader and number() read the same values and refuse the same faults */
	CHECK(parse("{\"request_id\":\"a\",\"context\":[-0,0,2.500,-17.25,123456789012345678,1234567890123456789,"
	    " 3 ,4e0,0.1,-0.000001],\"candidates\":[]}") == 0 && rq.nctx == 10 &&
	    w.fbuf[0] == 0 && signbit(w.fbuf[0]) && !signbit(w.fbuf[1]) && w.fbuf[2] == 2.5f && w.fbuf[3] == -17.25f &&
	    w.fbuf[4] == (float)123456789012345678.0 && w.fbuf[5] == (float)1234567890123456789.0 &&
	    w.fbuf[6] == 3.0f && w.fbuf[7] == 4.0f && w.fbuf[8] == (float)0.1 && w.fbuf[9] == (float)-0.000001,
	    "numbers with and without the shortcut: %s", err);
	/*
	 * Runs of every length from 1 to 20 digits, with and without a fraction
	 * and a sign, anywhere in the text and next to its end, read to the value
	 * of their digits over a power of ten (up to 18 digits; more go to
	 * number_slow() and are checked against strtod's value to a float's
	 * precision).
	 */
	{
		char req[8192], num[64];
		float want[64];
		size_t len, i, ni, nf;
		uint64_t x = 99, m;
		int t, good = 1, k, nn;
		for (t = 0; t < 3000 && good; t++) {
			len = (size_t)snprintf(req, sizeof req, "{\"request_id\":\"a\",\"candidates\":[],\"context\":[");
			nn = 1 + t % 40;
			for (k = 0; k < nn; k++) {
				size_t o = 0;
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;
				ni = 1 + (x >> 33) % 20;
				nf = (x >> 45) % 3 ? (x >> 50) % 12 : 0;
				if ((x >> 60) & 1)
					num[o++] = '-';
				m = 0;
				for (i = 0; i < ni + nf; i++) {
					x = x * 6364136223846793005ULL + 1442695040888963407ULL;
					if (i == ni)
						num[o++] = '.';
					num[o] = (char)('0' + (x >> 40) % 10);
					if (i == 0 && ni > 1 && num[o] == '0')
						num[o] = '7';
					m = m * 10 + (uint64_t)(num[o++] - '0');
				}
				num[o] = '\0';
				if (ni + nf <= 18)
					want[k] = (float)((num[0] == '-' ? -1.0 : 1.0) * ((double)m / pow10_tab[nf]));
				else
					want[k] = (float)strtod(num, NULL);
				len += (size_t)snprintf(req + len, sizeof req - len, "%s%s", k ? "," : "", num);
			}
			snprintf(req + len, sizeof req - len, "]}");
			if (parse(req) != 0 || (int)rq.nctx != nn) {
				good = 0;
				break;
			}
			for (k = 0; k < nn; k++)
				if (w.fbuf[rq.ctx_off + (size_t)k] != want[k])
					good = 0;
		}
		CHECK(good, "runs of digits of every length: request %d: %s", t, good ? "" : req);
	}
	refused("{\"request_id\":\"a\",\"context\":[01],\"candidates\":[]}", "bad JSON at column 30: leading zero in number");
	refused("{\"request_id\":\"a\",\"context\":[1.],\"candidates\":[]}", "bad JSON at column 30: digit expected after '.'");
	refused("{\"request_id\":\"a\",\"context\":[-],\"candidates\":[]}", "bad JSON at column 30: invalid value");
	refused("{\"request_id\":\"a\",\"context\":[1,],\"candidates\":[]}", "bad JSON at column 32: invalid value");
	refused("{\"request_id\":\"a\",\"context\":[1x],\"candidates\":[]}", "bad JSON at column 31: ',' or ']' expected");
	/* the bytes next to '0' and '9' end a run of digits */
	refused("{\"request_id\":\"a\",\"context\":[12345:7,1],\"candidates\":[]}", "bad JSON at column 35: ',' or ']' expected");
	refused("{\"request_id\":\"a\",\"context\":[1.5/7,12],\"candidates\":[]}", "bad JSON at column 33: ',' or ']' expected");
	refused("{\"request_id\":\"a\",\"context\":[1:]}", "bad JSON at column 31: ',' or ']' expected");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\" \"x\"}]}", "bad JSON at column 44: ':' expected");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item\\u005fid\":\"x\"}]}", "candidates[0]: missing field 'item_id'");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"\"}]}", "candidates[0]: field 'item_id': empty id");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"a\x7f\"}]}",
	    "candidates[0]: field 'item_id': control character in id");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"item_id\":\"y\"}]}",
	    "candidates[0]: field 'item_id': given twice");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x\",\"features\":[1],\"features\":[2]}]}",
	    "candidates[0]: field 'features': given twice");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\":\"x", "bad JSON");
	refused("{\"request_id\":\"a\",\"candidates\":[{\"item_id\"", "bad JSON");
	{
		char big[4096];
		size_t i, len = 0;
		len += (size_t)snprintf(big + len, sizeof big - len, "{\"request_id\":\"a\",\"candidates\":[");
		for (i = 0; i < 101; i++)
			len += (size_t)snprintf(big + len, sizeof big - len, "%s{\"item_id\":%zu}", i ? "," : "", i);
		snprintf(big + len, sizeof big - len, "]}");
		refused(big, "field 'candidates': more than 100 candidates");
	}
	{
		char id[300];
		memset(id, 'x', sizeof id);
		snprintf(id + 257, sizeof id - 257, "\"}");
		char req[400];
		snprintf(req, sizeof req, "{\"candidates\":[],\"request_id\":\"%.257s\"}", id);
		refused(req, "field 'request_id': id longer than 256 bytes");
	}

	batch = " [ {\"request_id\":\"a\",\"candidates\":[]} , {\"bad\":[1,2]}, 3 ] ";
	for (int with = 1; with >= 0; with--) {
		CHECK(walk(batch, strlen(batch), with) == 0 && wk.n == 3, "a batch (%s): %s", with ? "parsed" : "checked", err);
		CHECK(parse_span(batch, wk.starts[0], wk.ends[0], "{\"request_id\":\"a\",\"candidates\":[]}") &&
		    wk.parsed[0] == with && (!with || strcmp(wk.ids[0], "a") == 0), "element 0 (%s)", with ? "parsed" : "checked");
		CHECK(parse_span(batch, wk.starts[1], wk.ends[1], "{\"bad\":[1,2]}") && !wk.parsed[1], "element 1: not a request");
		CHECK(parse_span(batch, wk.starts[2], wk.ends[2], "3") && !wk.parsed[2], "element 2: not an object");
	}
	CHECK(walk("[]", 2, 1) == 0 && wk.n == 0, "an empty batch");
	CHECK(walk("[1,]", 4, 1) == -1 && strstr(err, "column 4"), "a bad array refused: %s", err);
	CHECK(walk("[] x", 4, 1) == -1 && strstr(err, "trailing characters after the array"), "trailing characters refused: %s", err);
	batch = "[{\"request_id\":\"a\",\"candidates\":[]}";
	CHECK(walk(batch, strlen(batch), 1) == -1 && strstr(err, "',' or ']' expected"),
	    "an unclosed batch refused: %s", err);
	/* the nesting limit counts the batch's own level, whether an element is parsed or only checked */
	{
		int took = 0, refused_deep = 0;
		for (int depth = 60; depth <= 66; depth++) {
			char nest[400];
			int k = snprintf(nest, sizeof nest, "[{\"request_id\":\"a\",\"candidates\":[],\"x\":");
			for (int i = 0; i < depth; i++)
				nest[k++] = '[';
			for (int i = 0; i < depth; i++)
				nest[k++] = ']';
			k += snprintf(nest + k, sizeof nest - (size_t)k, "}]");
			int a = walk(nest, (size_t)k, 1), b = walk(nest, (size_t)k, 0);
			CHECK(a == b, "%d nested arrays in an element: %d parsed, %d checked", depth, a, b);
			took += a == 0;
			refused_deep += a == -1 && strstr(err, "nested deeper than") != NULL;
		}
		CHECK(took > 0 && refused_deep > 0 && took + refused_deep == 7, "the limit lies in 60..66 nested arrays");
	}
	/* mutated batches: parsed as read or only checked, the same elements, the same refusals; an
	   element is parsed as read exactly when qs_parse() of its text alone takes it */
	{
		const char *base = "[{\"request_id\":\"a\",\"hist\":[\"i1\"],\"candidates\":[{\"item_id\":\"i2\",\"features\":[1.5]}],"
		    "\"k\":1}, {\"request_id\":\"b\",\"candidates\":[],\"x\":{\"y\":[true,null,-2e3]}},\n\"s\", [7]]";
		static const char alphabet[] = "{}[]\",:\\u0123456789.eE+-tfnrl \x01\x80\xc3\xff";
		size_t blen = strlen(base), len, i, elems = 0, parsed = 0, whole = 0;
		uint64_t x = 777;
		int t, same = 1, exact = 1;
		for (t = 0; t < 20000; t++) {
			char *buf, e1[256];
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			len = blen - (size_t)(x >> 33) % 8;
			buf = malloc(len);	/* exactly len bytes: a read past the end is caught */
			memcpy(buf, base, len);
			for (i = 0; i < 2; i++) {
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;
				buf[(x >> 20) % len] = alphabet[(x >> 40) % (sizeof alphabet - 1)];
			}
			int a = walk(buf, len, 1);
			struct walked one = wk;
			snprintf(e1, sizeof e1, "%s", err);
			int b = walk(buf, len, 0);
			if (a != b || one.n != wk.n || (a != 0 && strcmp(e1, err) != 0) ||
			    memcmp(one.starts, wk.starts, sizeof wk.starts) != 0 || memcmp(one.ends, wk.ends, sizeof wk.ends) != 0)
				same = 0;
			whole += a == 0;
			for (i = 0; i < one.n && i < WALK_MAX; i++) {
				int alone = qs_parse(&w, buf + one.starts[i], one.ends[i] - one.starts[i], 100, &rq, err, sizeof err) == 0;
				if (alone != one.parsed[i] || (alone && strcmp(rq.request_id, one.ids[i]) != 0))
					exact = 0;
				elems++;
				parsed += alone;
			}
			free(buf);
		}
		CHECK(same, "parsed as read or only checked: the same elements and refusals");
		CHECK(exact, "an element is parsed as read exactly when it parses alone");
		CHECK(whole > 100 && parsed > 1000 && parsed < elems, "both kinds met (%zu whole batches, %zu of %zu elements parsed)",
		    whole, parsed, elems);
	}

	/* mutated requests: every one parsed or refused, never read past its end (ASan builds check) */
	{
		const char *base = "{\"request_id\":\"r\\u00e9\",\"user_id\":7,\"hist\":[\"i1\",2],\"context\":[0.5,-1e3],"
		    "\"candidates\":[{\"item_id\":\"i42\",\"features\":[4.5,0.3]},{\"item_id\":3,\"x\":{\"y\":[true,null]}}],\"k\":2}";
		static const char alphabet[] = "{}[]\",:\\u0123456789.eE+-tfnrl \x01\x80\xc3\xff";
		size_t blen = strlen(base), len, i, ok = 0;
		uint64_t x = 12345;
		int t, fine = 1;
		for (t = 0; t < 20000; t++) {
			char *buf;
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			len = (size_t)(x >> 33) % (blen + 1);
			buf = malloc(len ? len : 1);	/* exactly len bytes: a read past the end is caught */
			memcpy(buf, base, len);
			for (i = 0; i < 3 && len > 0; i++) {
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;
				buf[(x >> 20) % len] = alphabet[(x >> 40) % (sizeof alphabet - 1)];
			}
			rq.request_id[0] = 'Z';
			err[0] = '\0';
			if (qs_parse(&w, buf, len, 100, &rq, err, sizeof err) == 0) {
				ok++;
				if (rq.request_id[0] == '\0' || !rq.has_cands)
					fine = 0;
			} else if (err[0] == '\0')
				fine = 0;
			free(buf);
		}
		CHECK(fine, "every mutated request parsed whole or refused with a reason");
		CHECK(ok > 0 && ok < 20000, "some mutations still parse (%zu)", ok);
	}

	free(w.sbuf);
	free(w.fbuf);
	free(w.coff);
	free(w.clen);
	free(w.cfoff);
	free(w.cfn);
	free(w.hoff);
	free(w.hlen2);
	return check_done();
}
