/* fuzz_seg.cc - libFuzzer entry for the DICOM SEG reader (harness.c).
 * C++ so that the target links with the C++ compiler: the reader is C++
 * over DCMTK, and clang++ brings libFuzzer's and the sanitizers' C++
 * runtime. */
#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rkfuzz_seg(data, size);
  return 0;
}
