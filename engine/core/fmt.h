/* fmt.h - fast number formatting for large CSV outputs (internal). */
#ifndef RKIN_FMT_H
#define RKIN_FMT_H

#include <stddef.h>

/* Writes v as printf("%.10g") would into buf (at least 32 bytes, NUL
 * terminated) and returns the length. Values printf would print in fixed
 * notation take a fast path of one scaling and integer digit extraction;
 * it can differ from printf in the 10th digit only when the decimal value
 * lies within an ulp of a rounding tie (tested against snprintf). */
size_t rkin_fmt_g10(double v, char *buf);

#endif
