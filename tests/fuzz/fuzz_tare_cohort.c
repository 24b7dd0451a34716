/* fuzz_tare_cohort.c - libFuzzer entry for the tare_cohort reader (harness.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rkfuzz_tare_cohort(data, size);
  return 0;
}
