/* fuzz.h: what the libFuzzer targets share — the input as a temporary file for parsers that read files. */
#ifndef FUZZ_H
#define FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes data to a fresh temporary file and returns its path (static buffer), or NULL. */
static const char *
fuzz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int made;
	FILE *fp;

	if (!made) {
		snprintf(path, sizeof path, "/tmp/pageturn-fuzz.%ld", (long)getpid());
		made = 1;
	}
	if ((fp = fopen(path, "wb")) == NULL)
		return NULL;
	if (size > 0 && fwrite(data, 1, size, fp) != size) {
		fclose(fp);
		return NULL;
	}
	if (fclose(fp) != 0)
		return NULL;
	return path;
}
#endif
