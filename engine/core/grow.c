/* grow.c - a growing array (grow.h). */
#include "core/grow.h"

#include <stdint.h>
#include <stdlib.h>

int rkin_grow(void **p, size_t *cap, size_t need, size_t elem)
{
  size_t c = *cap ? *cap : 16;
  void *q;
  if (need <= *cap) return 0;
  if (elem == 0 || need > SIZE_MAX / elem) return -1;
  while (c < need) c = c > SIZE_MAX / 2 ? need : 2 * c;
  if (c > SIZE_MAX / elem) c = need;
  q = realloc(*p, c * elem);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}
