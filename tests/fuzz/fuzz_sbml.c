/* fuzz_sbml.c - libFuzzer entry for the sbml reader (harness.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rkfuzz_sbml(data, size);
  return 0;
}
