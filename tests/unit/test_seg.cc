/* test_seg.cc - DICOM SEG read as a label map (dicom.h). The SEG is
 * written here through DCMTK's dcmseg API (tests/segwrite.h): 5 x 4
 * pixels per frame, pixel
 * spacing 2 mm (between rows) x 3 mm (between columns), an oblique
 * orientation (rows along LPS (0, 1, 0), columns along LPS (0, 0, -1):
 * a sagittal plane, normal (-1, 0, 0)), slices 4 mm apart along the
 * normal. Segment 1 "liver" sets pixel (i, j) = (1, 2) on slices 0..2,
 * segment 2 "lesion" pixel (3, 0) on slice 1; the expected RAS position
 * of every voxel is IPP + i 3 r + j 2 c + k 4 n with x, y negated. */
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/oflog/oflog.h>

#include "image/dicom.h"
#include "../segwrite.h"
#include "../tap.h"

namespace {

const Uint16 ROWS = 4, COLS = 5;
/* frame 1's position (LPS) and the step along the normal */
const double IPP[3] = {10.0, -20.0, 30.0}, NORMAL[3] = {-1.0, 0.0, 0.0};
const double DZ = 4.0;

/* variant 0: as above; 1: segment 2 also on (1, 2) of slice 1 (overlap);
 * 2: the third slice 6 mm further instead of 4 (non-uniform); 3: slice 2
 * shifted by 1 mm within its plane; 4: FRACTIONAL PROBABILITY, maximum
 * 255, every set pixel 200; 5: FRACTIONAL OCCUPANCY, maximum 100, the
 * liver 40, 60, 100 on slices 0..2 and the lesion 50; 6: as 5 with the
 * liver's slice-2 pixel 120 (above the maximum) */
bool write_seg(const char *path, int variant)
{
  bool frac = variant >= 4;
  segw_spec s = {ROWS, COLS,
                 frac ? DcmSegTypes::ST_FRACTIONAL : DcmSegTypes::ST_BINARY,
                 variant == 4 ? DcmSegTypes::SFT_PROBABILITY
                              : DcmSegTypes::SFT_OCCUPANCY,
                 (Uint8)(variant == 4 ? 255 : 100),
                 {"0", "1", "0", "0", "0", "-1"}, "2\\3", "4",
                 {{"liver", "T-62000", "Liver"},
                  {"lesion", "M-80003", "Neoplasm"}}, {}};
  auto frame = [&](Uint16 segno, int k, int i, int j) {
    static const Uint8 occ[3] = {40, 60, 100};
    segw_frame f = {segno, (Uint32)(k + 1), {0, 0, 0},
                    std::vector<Uint8>(ROWS * COLS, 0)};
    f.pix[i + COLS * j] = variant == 4 ? 200
                          : !frac ? 1
                          : segno == 2 ? 50
                          : variant == 6 && k == 2 ? 120 : occ[k];
    double off = DZ * k + (variant == 2 && k == 2 ? 2.0 : 0.0);
    for (int a = 0; a < 3; a++) f.ipp[a] = IPP[a] + off * NORMAL[a];
    if (variant == 3 && k == 2) f.ipp[1] += 1.0;   /* along the rows */
    s.frames.push_back(f);
  };
  for (int k = 0; k < 3; k++) frame(1, k, 1, 2);
  frame(2, 1, 3, 0);
  if (variant == 1) frame(2, 1, 1, 2);
  return segw_write(s, path);
}

/* A BINARY SEG of 3 x 5 pixels a frame (15: no multiple of 8), its Pixel
 * Data written here byte by byte as the standard lays it out: PS3.3
 * C.8.20.2.1 packs single-bit pixels 8 to a byte as PS3.5 8.1.1 encodes
 * them, where the frames of a multi-frame object are concatenated, not
 * padded; the first pixel is the least significant bit of the first byte.
 * The label map, slice by slice, row by row ('.' none); segment 1 "liver"
 * on slices 0..2 (frames 1..3), segment 2 "lesion" on slices 1, 2
 * (frames 4, 5). Frame f's pixel p (p = i + 5 j) is bit 15 (f - 1) + p:
 *   frame 1 (liver, slice 0)   bits  0..14  101100100111001
 *   frame 2 (liver, slice 1)   bits 15..29  010011010000100
 *   frame 3 (liver, slice 2)   bits 30..44  100000100000111
 *   frame 4 (lesion, slice 1)  bits 45..59  001000101010001
 *   frame 5 (lesion, slice 2)  bits 60..74  010100010110000
 * and in bytes of eight (bit 0 first; five zero bits end byte 9, the
 * value field's even length): 10110010 0x4D, 01110010 0x4E, 10011010
 * 0x59, 00010010 0x48, 00001000 0x10, 00111001 0x9C, 00010101 0xA8,
 * 00010101 0xA8, 00010110 0x68, 000 0x00. Each frame boundary (bits 15,
 * 30, 45, 60) falls inside a byte between pixels that differ. A reader
 * that starts frames 2..5 on bytes (bits 16, 32, 48, 64) gets 9, 7, 10, 6
 * of their pixels wrong; one taking the most significant bit first 12, 7,
 * 5, 11, 9 of frames 1..5. */
const Uint16 PROWS = 3, PCOLS = 5;
const char *const PLABEL[3] = {"1.11." ".1..1" "11..1",
                               ".12.1" "1212." "2.1.2",
                               "12.2." ".12.2" "2.111"};
const Uint8 PBYTES[10] = {0x4D, 0x4E, 0x59, 0x48, 0x10,
                          0x9C, 0xA8, 0xA8, 0x68, 0x00};

bool write_packed_seg(const char *path)
{
  segw_spec s = {PROWS, PCOLS, DcmSegTypes::ST_BINARY,
                 DcmSegTypes::SFT_OCCUPANCY, 100,
                 {"0", "1", "0", "0", "0", "-1"}, "2\\3", "4",
                 {{"liver", "T-62000", "Liver"},
                  {"lesion", "M-80003", "Neoplasm"}}, {}};
  const int fr[5][2] = {{1, 0}, {1, 1}, {1, 2}, {2, 1}, {2, 2}};
  for (const auto &sk : fr) {
    /* no pixel set here: every set bit comes from PBYTES below */
    segw_frame f = {(Uint16)sk[0], (Uint32)(sk[1] + 1), {0, 0, 0},
                    std::vector<Uint8>(PROWS * PCOLS, 0)};
    for (int a = 0; a < 3; a++) f.ipp[a] = IPP[a] + DZ * sk[1] * NORMAL[a];
    s.frames.push_back(f);
  }
  DcmFileFormat ff;
  return segw_write(s, path) && ff.loadFile(path).good() &&
         ff.getDataset()->putAndInsertUint8Array(DCM_PixelData, PBYTES,
                                                 sizeof PBYTES).good() &&
         ff.saveFile(path, EXS_LittleEndianExplicit).good();
}

/* Voxels of the 5 x 3 x 3 map im that differ from PLABEL (segment 0:
 * every label; else that one alone); the first one in *first. */
size_t packed_wrong(const rkin_image &im, int segment, std::string *first)
{
  size_t bad = 0;
  for (int k = 0; k < 3; k++)
    for (int p = 0; p < PROWS * PCOLS; p++) {
      int lab = PLABEL[k][p] == '.' ? 0 : PLABEL[k][p] - '0';
      if (segment && lab != segment) lab = 0;
      float got = im.v[p + PROWS * PCOLS * k];
      if (got == (float)lab) continue;
      if (!bad++)
        *first = "(i, j, k) = (" + std::to_string(p % PCOLS) + ", " +
                 std::to_string(p / PCOLS) + ", " + std::to_string(k) +
                 "): " + std::to_string(got) + ", expected " +
                 std::to_string(lab);
    }
  return bad;
}

} // namespace

int main()
{
  char dir[] = "/tmp/rk_test_seg_XXXXXX", path[600];
  if (!mkdtemp(dir)) return 1;
  OFLog::configure(OFLogger::OFF_LOG_LEVEL);
  std::snprintf(path, sizeof path, "%s/seg.dcm", dir);
  ok(write_seg(path, 0), "SEG written through DCMTK's dcmseg API");
  rkin_image im;
  rkin_err e = {0, ""};
  char uid[80];
  rkin_seg_segment sg[4];
  size_t n = 0;
  ok(rkin_dicom_seg_list(path, sg, 4, &n, uid, &e) == 0 && n == 2 &&
     sg[0].number == 1 && !std::strcmp(sg[0].label, "liver") &&
     sg[0].n_frames == 3 && sg[1].number == 2 &&
     !std::strcmp(sg[1].label, "lesion") && sg[1].n_frames == 1 &&
     !std::strcmp(uid, "1.2.3.4.55"),
     "segments: 1 liver (3 frames), 2 lesion (1); frame of reference %s%s%s",
     uid, e.code ? ": " : "", e.code ? e.msg : "");
  ok(rkin_dicom_read_seg(path, 0, &im, uid, &e) == 0, "read every segment%s%s",
     e.code ? ": " : "", e.code ? e.msg : "");
  if (im.v) {
    ok(im.g.n[0] == COLS && im.g.n[1] == ROWS && im.g.n[2] == 3 &&
       im.is_label, "5 x 4 x 3 label map");
    is_double(im.g.spacing[0], 3.0, 1e-12, "spacing along i: 3 mm "
              "(column spacing)");
    is_double(im.g.spacing[1], 2.0, 1e-12, "spacing along j: 2 mm (row "
              "spacing)");
    is_double(im.g.spacing[2], 4.0, 1e-12, "slice spacing 4 mm");
    /* voxel (i, j, k) in RAS: -x, -y of IPP + i 3 r + j 2 c + k 4 n */
    const double r[3] = {0, 1, 0}, c[3] = {0, 0, -1};
    double worst = 0;
    for (int k = 0; k < 3; k++)
      for (int j = 0; j < ROWS; j++)
        for (int i = 0; i < COLS; i++) {
          double ijk[3] = {(double)i, (double)j, (double)k}, x[3], w[3];
          rkin_grid_to_world(&im.g, ijk, x);
          for (int a = 0; a < 3; a++)
            w[a] = IPP[a] + 3.0 * i * r[a] + 2.0 * j * c[a] +
                   DZ * k * NORMAL[a];
          w[0] = -w[0];
          w[1] = -w[1];
          for (int a = 0; a < 3; a++) worst = std::max(worst,
                                                       std::fabs(x[a] - w[a]));
        }
    ok(worst < 1e-9, "every voxel at IPP + i 3 r + j 2 c + k 4 n (RAS; worst "
       "%.2g mm)", worst);
    size_t c1 = 0, c2 = 0;
    for (size_t v = 0; v < rkin_grid_count(&im.g); v++) {
      c1 += im.v[v] == 1.0f;
      c2 += im.v[v] == 2.0f;
    }
    ok(c1 == 3 && c2 == 1 && im.v[1 + COLS * 2] == 1.0f &&
       im.v[1 + COLS * 2 + 2 * 20] == 1.0f && im.v[3 + 20] == 2.0f,
       "liver at (1, 2) on slices 0..2, lesion at (3, 0) of slice 1");
    rkin_image_free(&im);
  }
  ok(rkin_dicom_read_seg(path, 2, &im, uid, &e) == 0 && im.v &&
     im.v[3 + 20] == 2.0f && im.v[1 + COLS * 2] == 0.0f,
     "segment 2 alone: the lesion, no liver");
  rkin_image_free(&im);
  ok(rkin_dicom_read(path, &im, uid, &e) == 0 && im.is_label &&
     im.v[3 + 20] == 2.0f, "rkin_dicom_read reads a SEG as its label map");
  rkin_image_free(&im);
  ok(rkin_dicom_read_seg(path, 3, &im, uid, &e) == RKIN_ENOTFOUND &&
     std::strstr(e.msg, "no segment 3") && std::strstr(e.msg, "'liver'") &&
     std::strstr(e.msg, "'lesion'"), "unknown segment lists them: %s", e.msg);
  ok(write_seg(path, 1) &&
     rkin_dicom_read_seg(path, 0, &im, uid, &e) == RKIN_EINVAL &&
     std::strstr(e.msg, "segments 1 and 2 overlap"), "overlap: %s", e.msg);
  ok(rkin_dicom_read_seg(path, 2, &im, uid, &e) == 0,
     "overlapping segments one at a time");
  rkin_image_free(&im);
  ok(write_seg(path, 2) &&
     rkin_dicom_read_seg(path, 0, &im, uid, &e) == RKIN_EINVAL &&
     std::strstr(e.msg, "non-uniform slice spacing"), "non-uniform: %s",
     e.msg);
  ok(write_seg(path, 3) &&
     rkin_dicom_read_seg(path, 0, &im, uid, &e) == RKIN_EINVAL &&
     std::strstr(e.msg, "shifted within its plane"), "shifted frame: %s",
     e.msg);
  /* FRACTIONAL SEGs (issue 18: read through dcmseg, not refused) */
  ok(write_seg(path, 4) &&
     rkin_dicom_read_seg(path, 0, &im, uid, &e) == 0 && im.is_label &&
     im.v[1 + COLS * 2] == 1.0f && im.v[1 + COLS * 2 + 2 * 20] == 1.0f &&
     im.v[3 + 20] == 2.0f, "FRACTIONAL PROBABILITY 200/255 >= 0.5: the "
     "label map of the binary SEG%s%s", e.code ? ": " : "",
     e.code ? e.msg : "");
  rkin_image_free(&im);
  {
    char ft[16];
    ok(rkin_dicom_read_seg_fraction(path, 1, &im, uid, ft, &e) == 0 &&
       !im.is_label && !std::strcmp(ft, "PROBABILITY"),
       "segment 1 as a fractional map, type %s", ft);
    if (im.v) {
      is_double(im.v[1 + COLS * 2], 200.0 / 255.0, 1e-7, "fraction = stored "
                "value / MaximumFractionalValue = 200/255");
      double s = 0;
      for (size_t v = 0; v < rkin_grid_count(&im.g); v++) s += im.v[v];
      is_double(s, 3 * 200.0 / 255.0, 1e-6, "only segment 1's three voxels "
                "hold a fraction");
    }
    rkin_image_free(&im);
    ok(write_seg(path, 5) &&
       rkin_dicom_read_seg_fraction(path, 1, &im, uid, ft, &e) == 0 &&
       !std::strcmp(ft, "OCCUPANCY"), "OCCUPANCY SEG, maximum 100%s%s",
       e.code ? ": " : "", e.code ? e.msg : "");
    if (im.v)
      ok(std::fabs(im.v[1 + COLS * 2] - 0.4f) < 1e-7 &&
         std::fabs(im.v[1 + COLS * 2 + 20] - 0.6f) < 1e-7 &&
         im.v[1 + COLS * 2 + 40] == 1.0f, "occupancies 0.4, 0.6, 1.0 on "
         "slices 0..2");
    rkin_image_free(&im);
    ok(rkin_dicom_read_seg(path, 0, &im, uid, &e) == 0 &&
       im.v[1 + COLS * 2] == 0.0f && im.v[1 + COLS * 2 + 20] == 1.0f &&
       im.v[1 + COLS * 2 + 40] == 1.0f && im.v[3 + 20] == 2.0f,
       "default threshold 0.5: 0.4 out, 0.6 and 1.0 in, the lesion's 0.5 "
       "in (>=)");
    rkin_image_free(&im);
    ok(rkin_dicom_read_seg_thr(path, 0, 0.7, &im, uid, &e) == 0 &&
       im.v[1 + COLS * 2 + 20] == 0.0f && im.v[1 + COLS * 2 + 40] == 1.0f &&
       im.v[3 + 20] == 0.0f, "threshold 0.7: only the full voxel");
    rkin_image_free(&im);
    ok(rkin_dicom_read_seg_thr(path, 0, 0.3, &im, uid, &e) == 0 &&
       im.v[1 + COLS * 2] == 1.0f, "threshold 0.3: the 0.4 voxel too");
    rkin_image_free(&im);
    ok(rkin_dicom_read_seg_thr(path, 2, 0.6, &im, uid, &e) == RKIN_EINVAL &&
       std::strstr(e.msg, "fraction >= 0.6"), "no voxel over the "
       "threshold: %s", e.msg);
    ok(rkin_dicom_read_seg_thr(path, 0, 1.5, &im, uid, &e) == RKIN_EINVAL &&
       std::strstr(e.msg, "threshold 1.5"), "threshold outside (0, 1]: %s",
       e.msg);
    ok(rkin_dicom_read_seg_fraction(path, 0, &im, uid, ft, &e) ==
           RKIN_EINVAL && std::strstr(e.msg, "2 segments"),
       "fractional map of two segments at once: %s", e.msg);
    ok(write_seg(path, 6) &&
       rkin_dicom_read_seg_fraction(path, 1, &im, uid, ft, &e) ==
           RKIN_EINVAL && std::strstr(e.msg, "120 above "
                                      "MaximumFractionalValue 100"),
       "stored value above the maximum: %s", e.msg);
    ok(write_seg(path, 0) &&
       rkin_dicom_read_seg_fraction(path, 2, &im, uid, ft, &e) == 0 &&
       !std::strcmp(ft, "BINARY") && im.v[3 + 20] == 1.0f,
       "a BINARY SEG's segment as a 0/1 fractional map");
    rkin_image_free(&im);
  }
  /* frames of 15 pixels, bit-packed across their boundaries */
  ok(write_packed_seg(path), "BINARY SEG of 3 x 5 pixels a frame, Pixel "
     "Data written byte by byte (PS3.5 8.1.1)");
  ok(rkin_dicom_seg_list(path, sg, 4, &n, uid, &e) == 0 && n == 2 &&
     sg[0].n_frames == 3 && sg[1].n_frames == 2,
     "3 x 5 SEG: liver in 3 frames, lesion in 2");
  for (int segment = 0; segment <= 2; segment++) {
    std::string first;
    rkin_err_clear(&e);
    int rc = rkin_dicom_read_seg(path, segment, &im, uid, &e);
    bool dims = rc == 0 && im.g.n[0] == PCOLS && im.g.n[1] == PROWS &&
                im.g.n[2] == 3;
    size_t bad = dims ? packed_wrong(im, segment, &first) : 0;
    std::string why = rc ? std::string("not read: ") + e.msg
                      : !dims ? std::string("not 5 x 3 x 3")
                      : std::to_string(bad) + " wrong" +
                            (bad ? ", first " + first : "");
    ok(dims && bad == 0, "3 x 5 SEG, %s: all 45 voxels as packed (%s)", segment ? (segment == 1 ? "segment 1" : "segment 2")
       : "every segment", why.c_str());
    rkin_image_free(&im);
  }
  ok(rkin_dicom_read_seg("/nonexistent/seg.dcm", 0, &im, uid, &e) < 0 &&
     std::strstr(e.msg, "/nonexistent/seg.dcm"), "missing file named");
  unlink(path);
  rmdir(dir);
  done_testing();
  return exit_status();
}
