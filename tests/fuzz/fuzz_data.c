/* fuzz_data.c - libFuzzer entry for the data reader (harness.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rkfuzz_data(data, size);
  return 0;
}
