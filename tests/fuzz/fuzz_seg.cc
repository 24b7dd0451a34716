/* fuzz_seg.cc - libFuzzer entry for the DICOM SEG reader (harness.c).
 * C++ so that the target links with the C++ compiler: the reader is C++
 * over DCMTK, and clang++ brings libFuzzer's and the sanitizers' C++
 * runtime.
 *
 * DCMTK 3.6.7's DcmSegmentation::loadDataset leaks the half-read object's
 * modules when reading fails (test_errmsg_seg.cc says more). So each
 * input is first loaded by dcmseg here: when that fails, the reader runs
 * with LeakSanitizer off (it then only reaches load_seg's failure); when
 * it succeeds, every leak is reported, ours and DCMTK's. */
#include <cstdio>
#include <unistd.h>
#include <sys/mman.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/oflog/oflog.h>

#include "harness.h"

extern "C" void __lsan_disable(void) __attribute__((weak));
extern "C" void __lsan_enable(void) __attribute__((weak));

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

/* Whether dcmseg loads the bytes (as a file, through an in-memory one). */
bool dcmseg_loads(const uint8_t *data, size_t size)
{
  int fd = memfd_create("seg.dcm", 0);
  size_t off = 0;
  char path[64];
  if (fd < 0) return false;
  while (off < size) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  DcmFileFormat ff;
  DcmSegmentation *seg = nullptr;
  bool loads = off == size && ff.loadFile(path).good() &&
               DcmSegmentation::loadDataset(*ff.getDataset(), seg).good() &&
               seg;
  delete seg;
  close(fd);
  return loads;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static bool quiet = false;
  if (!quiet) {
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    quiet = true;
  }
  if (__lsan_disable) __lsan_disable();
  bool leaky = !dcmseg_loads(data, size);
  if (!leaky && __lsan_enable) __lsan_enable();
  rkfuzz_seg(data, size);
  if (leaky && __lsan_enable) __lsan_enable();
  return 0;
}
