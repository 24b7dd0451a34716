/* fuzz_vpop_csv.c - libFuzzer entry for the vpop_csv reader (harness.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rkfuzz_vpop_csv(data, size);
  return 0;
}
