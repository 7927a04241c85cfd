/* test_promote.c: the promotion record — missing, malformed, replaced whole, and unreadable directories. */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "promote.h"

static char root[256];
static char err[512];

/* Writes text as root's record, by hand. */
static void
put(const char *text)
{
	char path[300];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", root, PROMOTE_FILE);
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
}

/* The number of entries in root (besides . and ..). */
static int
entries(void)
{
	DIR *dp = opendir(root);
	struct dirent *de;
	int n = 0;

	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

static void
read_tests(void)
{
	struct promotion p;
	static const char *bad[] = {
		"", "{\"version\":", "[1]", "{\"version\":1}", "{\"examined\":1}", "{\"version\":0,\"examined\":1}",
		"{\"version\":1,\"examined\":\"2\"}", "{\"version\":4294967296,\"examined\":1}",
		"{\"version\":1,\"version\":2,\"examined\":2}",
	};
	size_t i;

	CHECK(promote_read(root, &p, err, sizeof err) == 0, "no record: 0 (%s)", err);
	CHECK(p.doc == NULL, "no record: nothing held");
	CHECK(promote_read("/nonexistent/store", &p, err, sizeof err) == 0, "no store: 0");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		put(bad[i]);
		err[0] = '\0';
		CHECK(promote_read(root, &p, err, sizeof err) == -1, "malformed record %s: -1", bad[i]);
		CHECK(strstr(err, PROMOTE_FILE) != NULL, "malformed record %s: the reason names the file: %s", bad[i],
		    err);
		CHECK(p.doc == NULL, "malformed record %s: nothing held", bad[i]);
	}
	put("{\"version\":3,\"examined\":5,\"last\":{\"gate\":\"refused\"}}");
	CHECK(promote_read(root, &p, err, sizeof err) == 1, "a record: 1 (%s)", err);
	CHECK(p.version == 3 && p.examined == 5, "a record: version %u examined %u", p.version, p.examined);
	CHECK(json_is_string(json_object_get(json_object_get(p.doc, "last"), "gate")), "a record: the whole document");
	promote_free(&p);
	promote_free(&p);	/* twice: a no-op */
}

static void
write_tests(void)
{
	struct promotion p;
	json_t *doc;
	int i;

	for (i = 1; i <= 3; i++) {
		doc = json_pack("{s:i, s:i, s:{s:s, s:f}}", "version", i, "examined", i + 1, "last", "gate", "promoted",
		    "difference", -0.25 * i);
		CHECK(promote_write(root, doc, err, sizeof err) == 0, "write %d: 0 (%s)", i, err);
		json_decref(doc);
		CHECK(promote_read(root, &p, err, sizeof err) == 1, "write %d: read back (%s)", i, err);
		CHECK(p.version == (uint32_t)i && p.examined == (uint32_t)i + 1, "write %d: version %u examined %u", i,
		    p.version, p.examined);
		CHECK(json_real_value(json_object_get(json_object_get(p.doc, "last"), "difference")) == -0.25 * i,
		    "write %d: the figures kept exactly", i);
		promote_free(&p);
		CHECK(entries() == 1, "write %d: the record alone, no temporary file left (%d entries)", i, entries());
	}
	if (geteuid() != 0) {
		/* A directory that cannot be written: the old record stays whole, nothing is left. */
		chmod(root, 0555);
		doc = json_pack("{s:i, s:i}", "version", 9, "examined", 9);
		err[0] = '\0';
		CHECK(promote_write(root, doc, err, sizeof err) == -1, "an unwritable store: -1");
		CHECK(strstr(err, ".PROMOTED.tmp-") != NULL, "an unwritable store: says which file: %s", err);
		json_decref(doc);
		chmod(root, 0755);
		CHECK(promote_read(root, &p, err, sizeof err) == 1 && p.version == 3, "an unwritable store: the old record");
		promote_free(&p);
	}
	doc = json_pack("{s:i, s:i}", "version", 1, "examined", 1);
	CHECK(promote_write("/nonexistent/store", doc, err, sizeof err) == -1, "no store: -1");
	json_decref(doc);
}

int
main(void)
{
	char cmd[300];

	snprintf(root, sizeof root, "%s/test_promote.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	read_tests();
	write_tests();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: not removed\n", root);
	return check_done();
}
