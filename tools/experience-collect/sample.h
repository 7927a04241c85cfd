/* sample.h: experience-collect's input — one sample line at a time. */
#ifndef EC_SAMPLE_H
#define EC_SAMPLE_H

#include "lineio.h"

/*
 * Takes one sample line: files it into its session's page, rejects it with
 * a reason, or skips it in a replay when its session was written before.
 */
void take_sample(const struct line *ln);

#endif
