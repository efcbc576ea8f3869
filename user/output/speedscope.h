/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_SPEEDSCOPE_H
#define PYROGRAPH_SPEEDSCOPE_H

#include <stdio.h>
#include "output/output.h"

/*
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json):
 * one evented profile per thread, in microseconds since the recording
 * began, built from d->log: each sample opens its stack's frames where it
 * starts and they stay open while the following samples share them, so
 * the time-ordered view shows what ran when (gaps over 1 ms, when the
 * thread was neither sampled nor measured off-CPU, close everything).
 */
int speedscope_write(FILE *f, const struct profile_data *d);

#endif
