/* grow.h - internal: a growing array, doubled as it fills (amortised
 * O(1) appends). Not installed. */
#ifndef RKIN_GROW_H
#define RKIN_GROW_H

#include <stddef.h>

/* Makes room for `need` elements of `elem` bytes in *p (capacity *cap,
 * both updated): 0, or -1 on overflow of size_t or out of memory, *p and
 * *cap left as they were. */
int rkin_grow(void **p, size_t *cap, size_t need, size_t elem);

#endif
