/* promote.c: the model store's promotion record, read whole and replaced atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "promote.h"
#include "tfile.h"
#include "xalloc.h"

/* The record is small; anything larger is not one. */
#define PROMOTE_MAX (1 << 16)

static char *
record_path(const char *modeldir, const char *name)
{
	size_t n = strlen(modeldir) + strlen(name) + 2;
	char *p = xmalloc(n);

	snprintf(p, n, "%s/%s", modeldir, name);
	return p;
}

static int
get_version(const json_t *doc, const char *key, uint32_t *out)
{
	const json_t *v = json_object_get(doc, key);

	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > UINT32_MAX)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

int
promote_read(const char *modeldir, struct promotion *p, char *err, size_t errlen)
{
	char *path = record_path(modeldir, PROMOTE_FILE);
	json_error_t je;
	json_t *doc;
	FILE *fp;
	int st = -1;

	memset(p, 0, sizeof *p);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			st = 0;
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(path);
		return st;
	}
	doc = json_loadf(fp, JSON_REJECT_DUPLICATES, &je);
	fclose(fp);
	if (doc == NULL)
		snprintf(err, errlen, "%s: not JSON: %s", path, je.text);
	else if (!json_is_object(doc) || get_version(doc, "version", &p->version) != 0 ||
	    get_version(doc, "examined", &p->examined) != 0)
		snprintf(err, errlen, "%s: expected an object with a version and examined, each from 1", path);
	else {
		p->doc = doc;
		doc = NULL;
		st = 1;
	}
	json_decref(doc);
	free(path);
	return st;
}

void
promote_free(struct promotion *p)
{
	json_decref(p->doc);
	p->doc = NULL;
}

int
promote_write(const char *modeldir, const json_t *doc, char *err, size_t errlen)
{
	char tmpname[64];
	char *path = record_path(modeldir, PROMOTE_FILE), *tmp, *text = NULL;
	int fd = -1, dfd = -1, st = -1;
	size_t len;

	snprintf(tmpname, sizeof tmpname, ".%s.tmp-%ld", PROMOTE_FILE, (long)getpid());
	tmp = record_path(modeldir, tmpname);
	if ((text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL ||
	    (len = strlen(text)) + 1 > PROMOTE_MAX) {
		snprintf(err, errlen, "%s: the record cannot be written", path);
		goto out;
	}
	text[len++] = '\n';	/* json_dumps's NUL */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
	    tfile_write_all(fd, text, len) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((dfd = open(modeldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) != 0) {
		snprintf(err, errlen, "%s: %s", modeldir, strerror(errno));
		goto out;
	}
	st = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (st != 0)
		unlink(tmp);
	free(text);
	free(tmp);
	free(path);
	return st;
}
