/* test_errmsg_seg.cc - error messages of the DICOM SEG and RTSTRUCT
 * readers and of the DICOM image readers not reached by
 * test_errmsg_dicom.cc (engine/image/dicom_io.cc), provoked with files
 * written here through DCMTK (a valid SEG through dcmseg, then one tag
 * changed through dcmdata; RTSTRUCTs tag by tag) and their text asserted
 * (issue 22 item 3). Files live in a scratch folder. */
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/oflog/oflog.h>

extern "C" {
#include "core/init.h"
}
#include "image/dicom.h"
#include "../segwrite.h"
#include "../tap.h"

/* DCMTK 3.6.7's DcmSegmentation::loadDataset, when reading fails,
 * deletes the half-read object without its modules (LeakSanitizer: 200 kB
 * in 2,200 allocations, all inside DCMTK, for two such reads). The engine
 * frees whatever loadDataset hands back (load_seg); the library's own
 * leak is kept out of the sanitizer build's report for those reads only,
 * through LeakSanitizer's interface (weak: absent in other builds). */
extern "C" void __lsan_disable(void) __attribute__((weak));
extern "C" void __lsan_enable(void) __attribute__((weak));

namespace {

struct dcmtk_leak_scope {
  dcmtk_leak_scope() { if (__lsan_disable) __lsan_disable(); }
  ~dcmtk_leak_scope() { if (__lsan_enable) __lsan_enable(); }
};

rkin_err err;
std::string dir;

/* ------------------------------------------------------------- SEG */

const Uint16 ROWS = 4, COLS = 4;

/* A SEG of one segment "liver" on two axial frames 2 mm apart (pixel
 * spacing 1 mm, 4 x 4 pixels: two whole bytes bit-packed), BINARY or FRACTIONAL OCCUPANCY (maximum 100); pixel
 * (1, 0) of both frames set to value (1 for BINARY; 0 leaves every pixel
 * empty). uneven: a third frame 3 mm above the second. */
bool write_seg(const std::string &path, bool frac, Uint8 value,
               bool uneven = false, Uint16 rows = ROWS, Uint16 cols = COLS)
{
  segw_spec s = {rows, cols,
                 frac ? DcmSegTypes::ST_FRACTIONAL : DcmSegTypes::ST_BINARY,
                 DcmSegTypes::SFT_OCCUPANCY, 100,
                 {"1", "0", "0", "0", "1", "0"}, "1\\1", "2",
                 {{"liver", "T-62000", "Liver"}}, {}};
  for (int k = 0; k < (uneven ? 3 : 2); k++) {
    segw_frame f = {1, (Uint32)(k + 1), {0, 0, k == 2 ? 5.0 : 2.0 * k},
                    std::vector<Uint8>((size_t)rows * cols, 0)};
    f.pix[1] = value;
    s.frames.push_back(f);
  }
  return segw_write(s, path.c_str());
}

/* The SEG at path changed by edit (on its dataset) and saved again. */
bool edit(const std::string &path, const std::function<bool(DcmDataset *)> &f)
{
  DcmFileFormat ff;
  if (ff.loadFile(path.c_str()).bad()) return false;
  if (!f(ff.getDataset())) return false;
  return ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good();
}

/* The first item of sequence seq inside the first item of sequence outer. */
DcmItem *item2(DcmDataset *d, const DcmTagKey &outer, unsigned long i,
               const DcmTagKey &seq)
{
  DcmItem *a = nullptr, *b = nullptr;
  if (d->findAndGetSequenceItem(outer, a, (int)i).bad() || !a) return nullptr;
  if (a->findAndGetSequenceItem(seq, b, 0).bad()) return nullptr;
  return b;
}

/* Reading path as a label map must fail with part in the message. */
void seg_bad(const std::string &path, const char *part, const char *what,
             int segment = 0, bool fraction = false)
{
  rkin_image im = {};
  char ft[16];
  rkin_err_clear(&err);
  int rc = fraction
      ? rkin_dicom_read_seg_fraction(path.c_str(), segment, &im, nullptr, ft,
                                     &err)
      : rkin_dicom_read_seg(path.c_str(), segment, &im, nullptr, &err);
  ok(rc < 0, "%s", what);
  like(err.msg, part, "... message: %s", part);
  ok(im.v == nullptr, "... no image left allocated");
  rkin_image_free(&im);
}

void test_seg()
{
  std::string p = dir + "/seg.dcm";
  rkin_image im = {};
  ok(write_seg(p, false, 1) &&
     rkin_dicom_read_seg(p.c_str(), 0, &im, nullptr, &err) == 0 &&
     im.g.n[0] == COLS && im.g.n[1] == ROWS && im.g.n[2] == 2 &&
     im.v[1] == 1.0f && im.v[1 + ROWS * COLS] == 1.0f,
     "the reference SEG reads: 4 x 2 x 2, pixel (1, 0) set on both slices "
     "(%s)", err.msg);
  rkin_image_free(&im);

  /* BINARY frames of 2 x 3 pixels: DICOM PS3.5 section 8.1.1 packs the
   * bits of all frames as one stream, least significant bit first, frame
   * 2 starting at bit 6 (not at byte 1). Pixel 1 of frame 1 is bit 1,
   * pixel 4 of frame 2 is bit 10: bytes 0x02 0x04. A reader that starts
   * each frame on a byte finds pixel 2 set in frame 2 instead. */
  ok(write_seg(p, false, 1, false, 2, 3) &&
     edit(p, [](DcmDataset *d) {
       Uint8 b[2] = {0x02, 0x04};
       return d->putAndInsertUint8Array(DCM_PixelData, b, 2).good();
     }), "BINARY SEG of 2 x 3 pixels, bits packed across frames, written");
  {
    rkin_image t = {};
    rkin_err_clear(&err);
    int rc = rkin_dicom_read_seg(p.c_str(), 0, &t, nullptr, &err);
    size_t nset = 0;
    for (size_t v = 0; rc == 0 && v < 12; v++) nset += t.v[v] != 0.0f;
    ok(rc == 0 && t.g.n[0] == 3 && t.g.n[1] == 2 && t.g.n[2] == 2 &&
       t.v[1] == 1.0f && t.v[6 + 4] == 1.0f && nset == 2,
       "BINARY SEG, 6 pixels a frame: frame 2's pixel read from bit 10 of "
       "the stream (PS3.5 8.1.1): %zu voxels set (%s)", nset, err.msg);
    rkin_image_free(&t);
  }

  ok(write_seg(p, false, 1) &&
     edit(p, [](DcmDataset *d) {
       return d->findAndDeleteElement(DCM_Rows).good();
     }), "SEG without Rows written");
  seg_bad(p, "seg.dcm: Rows/Columns (0028,0010/0011) missing or 0 in a "
          "segmentation (SEG)", "SEG: no Rows");
  ok(write_seg(p, false, 1) &&
     edit(p, [](DcmDataset *d) {
       return d->putAndInsertUint16(DCM_Rows, 0).good();
     }), "SEG with Rows 0 written");
  seg_bad(p, "seg.dcm: Rows/Columns (0028,0010/0011) missing or 0 in a "
          "segmentation (SEG)", "SEG: Rows 0");

  ok(write_seg(p, false, 1) &&
     edit(p, [](DcmDataset *d) {
       return d->findAndDeleteElement(DCM_SegmentSequence).good();
     }), "SEG without its SegmentSequence written");
  seg_bad(p, "seg.dcm: 0 segments, 2 frames: nothing to read", "SEG: no "
          "SegmentSequence");

  ok(write_seg(p, false, 1) &&
     edit(p, [](DcmDataset *d) {
       return d->findAndDeleteElement(DCM_SegmentationType).good();
     }), "SEG without its SegmentationType written");
  {
    dcmtk_leak_scope q;
    seg_bad(p, "seg.dcm: not a readable segmentation (", "SEG: no "
            "SegmentationType");
  }

  ok(write_seg(p, true, 60) &&
     edit(p, [](DcmDataset *d) {
       return d->putAndInsertUint16(DCM_MaximumFractionalValue, 0).good();
     }), "FRACTIONAL SEG with MaximumFractionalValue 0 written");
  seg_bad(p, "seg.dcm: a FRACTIONAL SEG without MaximumFractionalValue "
          "(0062,000E) > 0", "SEG: MaximumFractionalValue 0");

  ok(write_seg(p, false, 1) &&
     edit(p, [](DcmDataset *d) {
       DcmItem *pm = item2(d, DCM_SharedFunctionalGroupsSequence, 0,
                           DCM_PixelMeasuresSequence);
       return pm && pm->putAndInsertString(DCM_PixelSpacing, "0\\1").good();
     }), "SEG with PixelSpacing 0 written");
  seg_bad(p, "seg.dcm: no PixelSpacing (0028,0030) > 0 in the "
          "PixelMeasuresSequence", "SEG: PixelSpacing 0");

  ok(write_seg(p, false, 1) &&
     edit(p, [](DcmDataset *d) {
       DcmItem *si = item2(d, DCM_PerFrameFunctionalGroupsSequence, 1,
                           DCM_SegmentIdentificationSequence);
       return si &&
              si->putAndInsertUint16(DCM_ReferencedSegmentNumber, 7).good();
     }), "SEG whose frame 2 refers to segment 7 written");
  seg_bad(p, "seg.dcm: frame 2: no valid ReferencedSegmentNumber "
          "(0062,000B) (1..1)", "SEG: a frame of segment 7");

  ok(write_seg(p, false, 1, true), "SEG of frames at z 0, 2 and 5 mm "
     "written");
  seg_bad(p, "seg.dcm: non-uniform slice spacing of the segmentation's "
          "frames: 2 mm then 3 mm after slice 2 (a label map needs one "
          "spacing)", "SEG: uneven frames");

  /* pixel data cut short (2 frames of 16 pixels need 4 bytes bit-packed,
   * 32 fractional): dcmseg refuses it when loading, before the reader's
   * own checks of each frame's length */
  for (int frac = 0; frac < 2; frac++) {
    ok(write_seg(p, frac, frac ? 60 : 1) &&
       edit(p, [frac](DcmDataset *d) {
         Uint8 b[32];
         std::memset(b, 0xff, sizeof b);
         return d->putAndInsertUint8Array(DCM_PixelData, b, frac ? 24 : 2)
             .good();
       }), "%s SEG with short pixel data written",
       frac ? "FRACTIONAL" : "BINARY");
    rkin_image t = {};
    rkin_err_clear(&err);
    {
      dcmtk_leak_scope q;
      ok(rkin_dicom_read_seg(p.c_str(), 0, &t, nullptr, &err) < 0,
         "SEG: short pixel data");
    }
    like(err.msg, "seg.dcm: not a readable segmentation (Invalid Pixel Data)",
         "... message: dcmseg's reason");
    rkin_image_free(&t);
  }

  ok(write_seg(p, true, 40), "FRACTIONAL SEG, occupancy 0.4 written");
  {
    rkin_image t = {};
    rkin_err_clear(&err);
    ok(rkin_dicom_read_seg(p.c_str(), 1, &t, nullptr, &err) < 0,
       "SEG: no voxel at the default threshold 0.5");
    like(err.msg, "seg.dcm: segment 1 has no voxel with a fraction >= 0.5",
         "... message names the segment and the threshold");
    rkin_image_free(&t);
  }

  ok(write_seg(p, false, 0), "BINARY SEG with empty frames written");
  seg_bad(p, "seg.dcm: segment 1 has no voxel set", "SEG: segment 1 empty", 1);
  seg_bad(p, "seg.dcm: no voxel of any segment is set (every frame is "
          "empty)", "SEG: every segment empty", 0);
  seg_bad(p, "seg.dcm: segment 1 has no voxel set", "SEG: segment 1 empty, "
          "as a fractional map", 1, true);

  /* A BINARY SEG whose Pixel Data is OW (16-bit words; bits are OB):
   * DCMTK's segmentation reader refuses it before the bits are read. */
  ok(write_seg(p, false, 1) && edit(p, [](DcmDataset *d) {
       Uint16 w[1] = {0x0202};
       d->findAndDeleteElement(DCM_PixelData);
       return d->putAndInsertUint16Array(DCM_PixelData, w, 1).good();
     }), "BINARY SEG with OW Pixel Data written");
  {
    dcmtk_leak_scope q;     /* the failed load leaks inside DCMTK (above) */
    seg_bad(p, "seg.dcm: not a readable segmentation (Invalid Pixel Data)",
            "SEG: BINARY with OW Pixel Data");
  }
  unlink(p.c_str());
}

/* ------------------------------------------------------------ RTSTRUCT */

/* An RTSTRUCT of one ROI "r" whose one contour is made by add (on the
 * ContourSequence item). */
bool write_rs(const std::string &path,
              const std::function<void(DcmItem *)> &add)
{
  DcmFileFormat ff;
  DcmDataset *d = ff.getDataset();
  DcmItem *s = nullptr, *r = nullptr, *c = nullptr;
  d->putAndInsertString(DCM_SOPClassUID, UID_RTStructureSetStorage);
  d->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.130");
  d->putAndInsertString(DCM_Modality, "RTSTRUCT");
  d->findOrCreateSequenceItem(DCM_StructureSetROISequence, s, -2);
  s->putAndInsertString(DCM_ROINumber, "1");
  s->putAndInsertString(DCM_ROIName, "r");
  d->findOrCreateSequenceItem(DCM_ROIContourSequence, r, -2);
  r->putAndInsertString(DCM_ReferencedROINumber, "1");
  r->findOrCreateSequenceItem(DCM_ContourSequence, c, -2);
  add(c);
  return ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good();
}

/* A CLOSED_PLANAR contour of the points xyz (LPS mm, "x\y\z\..."). */
std::function<void(DcmItem *)> planar(const char *xyz, const char *type =
                                          "CLOSED_PLANAR")
{
  return [=](DcmItem *c) {
    c->putAndInsertString(DCM_ContourGeometricType, type);
    if (xyz) c->putAndInsertString(DCM_ContourData, xyz);
  };
}

void rs_bad(const std::string &path, const char *part, const char *what)
{
  rkin_grid g;
  unsigned char mask[10 * 10 * 5];
  size_t n = 0;
  /* 10 x 10 x 5 voxels of 1 mm, origin 0 */
  rkin_grid_init(&g, 10, 10, 5, 1, 1, 1);
  rkin_err_clear(&err);
  ok(rkin_rtstruct_mask(path.c_str(), "r", &g, mask, &n, &err) < 0, "%s",
     what);
  like(err.msg, part, "... message: %s", part);
}

void test_rtstruct()
{
  std::string p = dir + "/rs.dcm";
  /* a square on slice z = 2 (LPS x, y negated from RAS) */
  const char *sq = "-2\\-2\\2\\-6\\-2\\2\\-6\\-6\\2\\-2\\-6\\2";
  {
    rkin_grid g;
    unsigned char mask[500];
    size_t n = 0;
    rkin_grid_init(&g, 10, 10, 5, 1, 1, 1);
    ok(write_rs(p, planar(sq)) &&
       rkin_rtstruct_mask(p.c_str(), "r", &g, mask, &n, &err) == 0 && n > 0,
       "the reference square rasterises (%zu voxels; %s)", n, err.msg);
  }
  write_rs(p, planar(nullptr));
  rs_bad(p, "rs.dcm: ROI 'r' contour 1: no ContourData (3006,0050)",
         "RTSTRUCT: a contour without ContourData");
  write_rs(p, planar("1\\2\\3\\4"));
  rs_bad(p, "rs.dcm: ROI 'r' contour 1: ContourData has 4 values (expected "
         "x\\y\\z triplets, at least 3 points)", "RTSTRUCT: 4 values");
  write_rs(p, planar("-2\\-2\\2\\-6\\-2\\2\\2000000\\-6\\2"));
  rs_bad(p, "rs.dcm: ROI 'r' contour 1 point 3 is not a finite number "
         "within 1 km (mm)", "RTSTRUCT: a point 2 km away");
  write_rs(p, planar(sq, "POINT"));
  rs_bad(p, "rs.dcm: ROI 'r' has no closed planar contour", "RTSTRUCT: only "
         "a POINT contour");
  /* three points on a line rising through the slices: no plane */
  write_rs(p, planar("-1\\-1\\0\\-2\\-2\\1\\-3\\-3\\2"));
  rs_bad(p, "rs.dcm: ROI 'r' contour 1 encloses no area (its points are "
         "collinear)", "RTSTRUCT: a collinear oblique contour");
  /* a square tilted through the slices with one corner 1 mm off its
   * plane */
  write_rs(p, planar("-1\\-1\\0\\-6\\-1\\0\\-6\\-6\\3\\-1\\-6\\2"));
  rs_bad(p, "rs.dcm: ROI 'r' contour 1 is not planar (a point lies ",
         "RTSTRUCT: a non-planar contour");
  like(err.msg, "not in a slice of the grid either", "... and says it is "
       "not axial either");
  /* an oblique square far outside the grid */
  write_rs(p, planar("-500\\-500\\0\\-506\\-500\\0\\-506\\-506\\3\\"
                     "-500\\-506\\3"));
  rs_bad(p, "rs.dcm: ROI 'r' covers no voxel centre of the grid (does the "
         "structure set overlap the image?)", "RTSTRUCT: an oblique contour "
         "outside the grid");
  /* an axial square on slice 2, 500 mm to the side */
  write_rs(p, planar("-500\\-2\\2\\-506\\-2\\2\\-506\\-6\\2\\-500\\-6\\2"));
  rs_bad(p, "rs.dcm: ROI 'r' covers no voxel centre of the grid",
         "RTSTRUCT: an axial contour outside the grid");
  unlink(p.c_str());
}

/* ------------------------------------------------ images and series */

/* A single-frame CT slice 4 x 3 of 16 bits at z (LPS). */
bool write_ct(const std::string &path, double z)
{
  DcmFileFormat ff;
  DcmDataset *d = ff.getDataset();
  char ipp[64];
  std::snprintf(ipp, sizeof ipp, "0\\0\\%g", z);
  d->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  d->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.140");
  d->putAndInsertString(DCM_Modality, "CT");
  d->putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4.141");
  d->putAndInsertUint16(DCM_Rows, 3);
  d->putAndInsertUint16(DCM_Columns, 4);
  d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  d->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  d->putAndInsertUint16(DCM_BitsAllocated, 16);
  d->putAndInsertUint16(DCM_BitsStored, 16);
  d->putAndInsertUint16(DCM_HighBit, 15);
  d->putAndInsertUint16(DCM_PixelRepresentation, 0);
  d->putAndInsertString(DCM_PixelSpacing, "1\\1");
  d->putAndInsertString(DCM_ImagePositionPatient, ipp);
  d->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
  d->putAndInsertString(DCM_AcquisitionDate, "2026-03-10");
  d->putAndInsertString(DCM_AcquisitionTime, "093000");
  Uint16 pix[12] = {0};
  d->putAndInsertUint16Array(DCM_PixelData, pix, 12);
  return ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good();
}

void test_images()
{
  std::string sd = dir + "/series";
  rkin_image im = {};
  mkdir(sd.c_str(), 0700);
  write_ct(sd + "/a.dcm", 0);
  {
    /* a text file among the slices */
    FILE *f = std::fopen((sd + "/notes.txt").c_str(), "w");
    if (f) {
      std::fputs("slice notes\n", f);
      std::fclose(f);
    }
  }
  rkin_err_clear(&err);
  ok(rkin_dicom_read_series(sd.c_str(), &im, nullptr, &err) < 0,
     "series: a text file in the folder");
  like(err.msg, "notes.txt: not a readable DICOM slice (", "... message "
       "names the file");
  like(err.msg, "); the folder must hold the files of one series only",
       "... and says what the folder must hold");
  rkin_image_free(&im);
  unlink((sd + "/notes.txt").c_str());
  /* 4097 files */
  for (int i = 0; i < 4097; i++) {
    char name[32];
    std::snprintf(name, sizeof name, "/f%04d", i);
    FILE *f = std::fopen((sd + name).c_str(), "w");
    if (f) std::fclose(f);
  }
  rkin_err_clear(&err);
  ok(rkin_dicom_read_series(sd.c_str(), &im, nullptr, &err) < 0,
     "series: 4097 files and a slice");
  like(err.msg, "series: more than 4096 files (one series per folder)",
       "... message names the folder and the limit");
  rkin_image_free(&im);
  {
    DIR *dp = opendir(sd.c_str());
    struct dirent *de;
    while (dp && (de = readdir(dp)))
      if (de->d_name[0] != '.') unlink((sd + "/" + de->d_name).c_str());
    if (dp) closedir(dp);
  }
  rmdir(sd.c_str());
  rkin_err_clear(&err);
  ok(rkin_dicom_read_series((dir + "/absent").c_str(), &im, nullptr, &err) < 0,
     "series: a folder that is not there");
  like(err.msg, "absent: cannot open the folder: ", "... message names the "
       "folder");
  /* NM info: a malformed AcquisitionDate */
  std::string p = dir + "/ct.dcm";
  rkin_dicom_nm_info info;
  write_ct(p, 0);
  rkin_err_clear(&err);
  ok(rkin_dicom_nm_info_read(p.c_str(), &info, &err) < 0,
     "NM info: AcquisitionDate 2026-03-10");
  like(err.msg, "ct.dcm: AcquisitionDate/Time (0008,0022/0032) '2026-03-10' "
       "'093000' is not a DICOM date and time (YYYYMMDD, HHMMSS.FFFFFF)",
       "... message names the file, the tags and the values");
  unlink(p.c_str());
}

} // namespace

int main()
{
  char tmpl[] = "/tmp/rkin_errmsg_seg_XXXXXX";
  rkin_init();
  OFLog::configure(OFLogger::OFF_LOG_LEVEL);
  if (!mkdtemp(tmpl)) {
    diag("no scratch folder");
    return 1;
  }
  dir = tmpl;
  test_seg();
  test_rtstruct();
  test_images();
  rmdir(tmpl);
  done_testing();
  return exit_status();
}
