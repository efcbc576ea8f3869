/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_COLLAPSED_H
#define PYROGRAPH_COLLAPSED_H

#include <stdio.h>

#include "model/stacks.h"

/*
 * The collapsed ("folded") format of flamegraph.pl: a line per stack,
 * "FRAME;FRAME;... VALUE", frames outermost first, lines in text order.
 * Returns 0, -ENOMEM or -EIO.
 */
int collapsed_write(FILE *f, struct profile *p);

#endif
