/* seg_corpus.cc - the seed corpus of the SEG fuzz target
 * (tests/fuzz/corpus/seg/), written through DCMTK's dcmseg API
 * (tests/segwrite.h) and checked to read as built: BINARY and FRACTIONAL
 * SEGs of 1 to 3 frames, frames whose bit count is no multiple of 8
 * (BINARY frames are one bit stream, PS3.5 8.1.1), two segments.
 *
 *   seg_corpus        writes them into a scratch folder and reads them
 *                     back (a TAP test of make check)
 *   seg_corpus DIR    writes them into DIR too (to renew the corpus:
 *                     seg_corpus tests/fuzz/corpus/seg) */
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/oflog/oflog.h>

extern "C" {
#include "core/init.h"
}
#include "image/dicom.h"
#include "../segwrite.h"
#include "../tap.h"

namespace {

struct seed {
  const char *name;
  segw_spec spec;
  size_t nset;        /* voxels of the label map (threshold 0.5) set */
};

/* pixels set (value v) at the given indices of a rows x cols frame */
std::vector<Uint8> pix(size_t n, std::initializer_list<size_t> at, Uint8 v)
{
  std::vector<Uint8> p(n, 0);
  for (size_t i : at) p[i] = v;
  return p;
}

const segw_segment LIVER = {"liver", "T-62000", "Liver"};
const segw_segment LESION = {"lesion", "M-80003", "Neoplasm"};

std::vector<seed> seeds()
{
  std::vector<seed> s;
  /* 1 frame, BINARY, 3 x 3 (9 bits: the last byte half used), axial */
  s.push_back({"binary_1frame_3x3.dcm",
               {3, 3, DcmSegTypes::ST_BINARY, DcmSegTypes::SFT_PROBABILITY,
                0, {"1", "0", "0", "0", "1", "0"}, "1\\1", "2", {LIVER},
                {{1, 1, {0, 0, 0}, pix(9, {0, 4, 8}, 1)}}},
               3});
  /* 3 frames of 2 x 3 (6 bits each, frames not byte-aligned), two
   * segments, sagittal */
  s.push_back({"binary_3frames_2x3_2seg.dcm",
               {2, 3, DcmSegTypes::ST_BINARY, DcmSegTypes::SFT_PROBABILITY,
                0, {"0", "1", "0", "0", "0", "-1"}, "2\\3", "4",
                {LIVER, LESION},
                {{1, 1, {10, -20, 30}, pix(6, {1}, 1)},
                 {1, 2, {6, -20, 30}, pix(6, {1, 2}, 1)},
                 {2, 2, {6, -20, 30}, pix(6, {5}, 1)}}},
               4});
  /* 2 frames, FRACTIONAL PROBABILITY, maximum 255: 200 and 100 (one
   * voxel under 0.5) */
  s.push_back({"fractional_probability_2frames_4x4.dcm",
               {4, 4, DcmSegTypes::ST_FRACTIONAL,
                DcmSegTypes::SFT_PROBABILITY, 255,
                {"1", "0", "0", "0", "1", "0"}, "1\\1", "2", {LIVER},
                {{1, 1, {0, 0, 0}, pix(16, {1, 5}, 200)},
                 {1, 2, {0, 0, 2}, pix(16, {6}, 100)}}},
               2});
  /* 3 frames, FRACTIONAL OCCUPANCY, maximum 100: 40, 60, 100 */
  s.push_back({"fractional_occupancy_3frames_2x2.dcm",
               {2, 2, DcmSegTypes::ST_FRACTIONAL, DcmSegTypes::SFT_OCCUPANCY,
                100, {"1", "0", "0", "0", "1", "0"}, "1\\1", "2", {LIVER},
                {{1, 1, {0, 0, 0}, pix(4, {0}, 40)},
                 {1, 2, {0, 0, 2}, pix(4, {1}, 60)},
                 {1, 3, {0, 0, 4}, pix(4, {3}, 100)}}},
               2});
  return s;
}

} // namespace

int main(int argc, char **argv)
{
  char dir[] = "/tmp/rk_seg_corpus_XXXXXX";
  rkin_init();
  OFLog::configure(OFLogger::OFF_LOG_LEVEL);
  if (!mkdtemp(dir)) {
    diag("mkdtemp failed");
    return 1;
  }
  for (const seed &s : seeds()) {
    std::string p = std::string(dir) + "/" + s.name;
    rkin_image im = {};
    rkin_err err = {};
    size_t nset = 0, nframes = 0;
    for (const segw_frame &f : s.spec.frames)
      nframes = f.stack_pos > nframes ? f.stack_pos : nframes;
    bool w = segw_write(s.spec, p.c_str());
    ok(w, "%s written", s.name);
    int rc = w ? rkin_dicom_read_seg(p.c_str(), 0, &im, nullptr, &err) : -1;
    for (size_t v = 0; rc == 0 && v < rkin_grid_count(&im.g); v++)
      nset += im.v[v] != 0.0f;
    ok(rc == 0 && im.g.n[0] == s.spec.cols && im.g.n[1] == s.spec.rows &&
       im.g.n[2] == nframes && nset == s.nset,
       "... reads as %u x %u x %zu with %zu voxels set: %zu set (%s)",
       (unsigned)s.spec.cols, (unsigned)s.spec.rows, nframes, s.nset, nset,
       err.msg);
    rkin_image_free(&im);
    if (argc > 1 && w) {
      std::string q = std::string(argv[1]) + "/" + s.name;
      ok(segw_write(s.spec, q.c_str()), "... and written to %s", q.c_str());
    }
    unlink(p.c_str());
  }
  rmdir(dir);
  done_testing();
  return exit_status();
}
