/* scratch.h - text files written by a test into its scratch folder (made
 * by the test with mkdtemp, removed at its end). */
#ifndef RKIN_TEST_SCRATCH_H
#define RKIN_TEST_SCRATCH_H

#include <stdio.h>

/* Writes text to dir/name; returns the path (a static buffer: the next
 * call overwrites it). A file that cannot be written is left missing, for
 * the reader under test to report. */
static const char *scratch_write(const char *dir, const char *name,
                                 const char *text)
{
  static char path[256];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if ((f = fopen(path, "w"))) {
    fputs(text, f);
    fclose(f);
  }
  return path;
}

#endif
