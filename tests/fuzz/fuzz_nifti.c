/* fuzz_nifti.c - libFuzzer entry for the nifti reader (harness.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rkfuzz_nifti(data, size);
  return 0;
}
