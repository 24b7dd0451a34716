/* test_errmsg_dicom.cc - error messages of the DICOM reader and writer
 * (engine/image/dicom_io.cc), provoked with files written here by DCMTK,
 * each one tag away from a valid multi-frame image, and their text
 * asserted (issue 22 item 3). */
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

extern "C" {
#include "core/init.h"
}
#include "image/dicom.h"
#include "../tap.h"

namespace {

rkin_err err;

/* What one file lacks or has wrong. */
enum Variant {
  OK, NO_ROWS, BITS_8, FRAMES_0, NO_SPACING, NO_POSITION, NO_ORIENTATION,
  OFFSETS_SHORT, OFFSETS_UNEVEN, NO_SLICE_SPACING, ZERO_SLICE_SPACING,
  NO_PIXELS, BAD_ACQ_DT, BAD_INJ_DT, BAD_INJ_TM, SERIES_A, SERIES_B,
  SERIES_SIZE
};

bool write_image(const std::string &path, Variant v)
{
  DcmFileFormat ff;
  DcmDataset *d = ff.getDataset();
  bool series = v == SERIES_A || v == SERIES_B || v == SERIES_SIZE;
  d->putAndInsertString(DCM_SOPClassUID, UID_NuclearMedicineImageStorage);
  d->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.100");
  d->putAndInsertString(DCM_Modality, "NM");
  d->putAndInsertString(DCM_FrameOfReferenceUID, "1.2.3.4.101");
  d->putAndInsertString(DCM_SeriesInstanceUID,
                        v == SERIES_B ? "1.2.3.4.103" : "1.2.3.4.102");
  if (v != NO_ROWS) d->putAndInsertUint16(DCM_Rows, 4);
  d->putAndInsertUint16(DCM_Columns, v == SERIES_SIZE ? 2 : 3);
  if (!series)
    d->putAndInsertString(DCM_NumberOfFrames, v == FRAMES_0 ? "0" : "3");
  d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  d->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  d->putAndInsertUint16(DCM_BitsAllocated, v == BITS_8 ? 8 : 16);
  d->putAndInsertUint16(DCM_BitsStored, v == BITS_8 ? 8 : 16);
  d->putAndInsertUint16(DCM_HighBit, v == BITS_8 ? 7 : 15);
  d->putAndInsertUint16(DCM_PixelRepresentation, 0);
  if (v != NO_SPACING) d->putAndInsertString(DCM_PixelSpacing, "2\\2");
  if (v == OFFSETS_SHORT)
    d->putAndInsertString(DCM_GridFrameOffsetVector, "0\\2");
  else if (v == OFFSETS_UNEVEN)
    d->putAndInsertString(DCM_GridFrameOffsetVector, "0\\2\\5");
  else if (v == ZERO_SLICE_SPACING)
    d->putAndInsertString(DCM_SpacingBetweenSlices, "0");
  else if (v != NO_SLICE_SPACING)
    d->putAndInsertString(DCM_SpacingBetweenSlices, "2");
  if (v != NO_POSITION)
    d->putAndInsertString(DCM_ImagePositionPatient,
                          v == SERIES_B ? "0\\0\\2" : "0\\0\\0");
  if (v != NO_ORIENTATION)
    d->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
  if (v == BAD_ACQ_DT)
    d->putAndInsertString(DCM_AcquisitionDateTime, "2026-03-10");
  d->putAndInsertString(DCM_AcquisitionDate, "20260310");
  d->putAndInsertString(DCM_AcquisitionTime, "093000");
  if (v == BAD_INJ_DT || v == BAD_INJ_TM) {
    DcmItem *rp = nullptr;
    d->findOrCreateSequenceItem(DCM_RadiopharmaceuticalInformationSequence,
                                rp, -2);
    if (v == BAD_INJ_DT)
      rp->putAndInsertString(DCM_RadiopharmaceuticalStartDateTime, "yesterday");
    else
      rp->putAndInsertString(DCM_RadiopharmaceuticalStartTime, "9am");
  }
  if (v != NO_PIXELS) {
    Uint16 pix[36];
    for (int i = 0; i < 36; i++) pix[i] = (Uint16)i;
    d->putAndInsertUint16Array(DCM_PixelData, pix,
                               series ? (v == SERIES_SIZE ? 8 : 12) : 36);
  }
  return ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good();
}

void read_bad(const std::string &dir, Variant v, const char *part,
              const char *what)
{
  std::string p = dir + "/bad.dcm";
  rkin_image im = {};
  if (!write_image(p, v)) {
    ok(0, "%s: could not write the file", what);
    return;
  }
  rkin_err_clear(&err);
  ok(rkin_dicom_read(p.c_str(), &im, nullptr, &err) != 0, "%s", what);
  like(err.msg, part, "... message: %s", part);
  rkin_image_free(&im);
  unlink(p.c_str());
}

void nm_bad(const std::string &dir, Variant v, const char *part,
            const char *what)
{
  std::string p = dir + "/nm.dcm";
  rkin_dicom_nm_info info;
  if (!write_image(p, v)) {
    ok(0, "%s: could not write the file", what);
    return;
  }
  rkin_err_clear(&err);
  ok(rkin_dicom_nm_info_read(p.c_str(), &info, &err) != 0, "%s", what);
  like(err.msg, part, "... message: %s", part);
  unlink(p.c_str());
}

/* One slice of a series (4 x 3, 16 bits) at z with these deviations. */
struct Slice {
  double z = 0;
  const char *spacing = "2\\2";
  const char *iop = "1\\0\\0\\0\\1\\0";
  const char *frames = nullptr;
  bool pixels = true;
};

bool write_slice(const std::string &path, const Slice &sl)
{
  DcmFileFormat ff;
  DcmDataset *d = ff.getDataset();
  char ipp[64];
  snprintf(ipp, sizeof ipp, "0\\0\\%g", sl.z);
  d->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  d->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.120");
  d->putAndInsertString(DCM_Modality, "CT");
  d->putAndInsertString(DCM_FrameOfReferenceUID, "1.2.3.4.101");
  d->putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4.121");
  d->putAndInsertUint16(DCM_Rows, 4);
  d->putAndInsertUint16(DCM_Columns, 3);
  if (sl.frames) d->putAndInsertString(DCM_NumberOfFrames, sl.frames);
  d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  d->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  d->putAndInsertUint16(DCM_BitsAllocated, 16);
  d->putAndInsertUint16(DCM_BitsStored, 16);
  d->putAndInsertUint16(DCM_HighBit, 15);
  d->putAndInsertUint16(DCM_PixelRepresentation, 0);
  d->putAndInsertString(DCM_PixelSpacing, sl.spacing);
  d->putAndInsertString(DCM_ImagePositionPatient, ipp);
  d->putAndInsertString(DCM_ImageOrientationPatient, sl.iop);
  if (sl.pixels) {
    Uint16 pix[12] = {0};
    d->putAndInsertUint16Array(DCM_PixelData, pix, 12);
  }
  return ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good();
}

/* A two-slice series a.dcm (z 0, valid) + b.dcm (sl) must be refused
 * with part in the message. */
void series_bad(const std::string &dir, const Slice &sl, const char *part,
                const char *what)
{
  std::string sd = dir + "/ser";
  rkin_image im = {};
  mkdir(sd.c_str(), 0700);
  Slice a;
  write_slice(sd + "/a.dcm", a);
  write_slice(sd + "/b.dcm", sl);
  rkin_err_clear(&err);
  ok(rkin_dicom_read_series(sd.c_str(), &im, nullptr, &err) != 0, "%s",
     what);
  like(err.msg, part, "... message: %s", part);
  rkin_image_free(&im);
  unlink((sd + "/a.dcm").c_str());
  unlink((sd + "/b.dcm").c_str());
  rmdir(sd.c_str());
}

} // namespace

int main()
{
  char tmpl[] = "/tmp/rkin_errmsg_dicom_XXXXXX";
  rkin_image im = {};
  rkin_init();
  if (!mkdtemp(tmpl)) {
    diag("no scratch folder");
    return 1;
  }
  std::string dir = tmpl;

  std::string good = dir + "/good.dcm";
  ok(write_image(good, OK) &&
     rkin_dicom_read(good.c_str(), &im, nullptr, &err) == 0,
     "the reference file is read (%s)", err.msg);
  rkin_image_free(&im);
  unlink(good.c_str());

  rkin_err_clear(&err);
  ok(rkin_dicom_read("", &im, nullptr, &err) != 0, "read: empty path");
  like(err.msg, "DICOM read: empty path", "... message");
  {
    std::string txt = dir + "/text.dcm";
    FILE *f = fopen(txt.c_str(), "w");
    if (f) {
      fputs("not a DICOM file\n", f);
      fclose(f);
    }
    rkin_err_clear(&err);
    ok(rkin_dicom_read(txt.c_str(), &im, nullptr, &err) != 0,
       "read: a text file");
    like(err.msg, ": not a readable DICOM file (", "... message");
    unlink(txt.c_str());
  }
  read_bad(dir, NO_ROWS, "Rows/Columns (0028,0010/0011) missing or 0: not "
           "an image", "no Rows");
  read_bad(dir, BITS_8, "BitsAllocated (0028,0100) is 8 (expected 16 or "
           "32)", "8-bit pixels");
  read_bad(dir, FRAMES_0, "NumberOfFrames (0028,0008) is 0", "0 frames");
  read_bad(dir, NO_SPACING, "PixelSpacing (0028,0030) missing or not > 0",
           "no PixelSpacing");
  read_bad(dir, NO_POSITION, "ImagePositionPatient (0020,0032) missing",
           "no ImagePositionPatient");
  read_bad(dir, NO_ORIENTATION, "ImageOrientationPatient (0020,0037) "
           "missing", "no ImageOrientationPatient");
  read_bad(dir, OFFSETS_SHORT, "GridFrameOffsetVector (3004,000C) has 2 "
           "values for 3 frames", "a short GridFrameOffsetVector");
  read_bad(dir, OFFSETS_UNEVEN, "non-uniform slice spacing in "
           "GridFrameOffsetVector (3004,000C): 2 mm then 3 mm at frame",
           "uneven frame offsets");
  read_bad(dir, NO_SLICE_SPACING, "3 frames but neither "
           "GridFrameOffsetVector, SpacingBetweenSlices nor SliceThickness "
           "gives their spacing", "no slice spacing");
  read_bad(dir, ZERO_SLICE_SPACING, "zero slice spacing",
           "slice spacing 0");
  read_bad(dir, NO_PIXELS, "no uncompressed PixelData (7FE0,0010) "
           "(compressed transfer syntaxes are not read: decompress first",
           "no pixel data");

  rkin_err_clear(&err);
  {
    rkin_dicom_nm_info info;
    ok(rkin_dicom_nm_info_read("", &info, &err) != 0, "NM info: empty path");
  }
  like(err.msg, "DICOM NM info: empty path", "... message");
  nm_bad(dir, BAD_ACQ_DT, "AcquisitionDateTime (0008,002A) '2026-03-10' is "
         "not a DICOM date-time (YYYYMMDDHHMMSS.FFFFFF)",
         "a malformed AcquisitionDateTime");
  nm_bad(dir, BAD_INJ_DT, "RadiopharmaceuticalStartDateTime (0018,1078) "
         "'yesterday' is not a DICOM date-time",
         "a malformed injection date-time");
  nm_bad(dir, BAD_INJ_TM, "RadiopharmaceuticalStartTime (0018,1072) '9am' is "
         "not a DICOM time", "a malformed injection time");

  /* series */
  rkin_err_clear(&err);
  ok(rkin_dicom_read_series("", &im, nullptr, &err) != 0, "series: empty "
     "folder name");
  like(err.msg, "DICOM series: empty folder name", "... message");
  {
    std::string sd = dir + "/series";
    mkdir(sd.c_str(), 0700);
    rkin_err_clear(&err);
    ok(rkin_dicom_read_series(sd.c_str(), &im, nullptr, &err) != 0,
       "series: an empty folder");
    like(err.msg, ": no files", "... message: no files");
    write_image(sd + "/a.dcm", SERIES_A);
    write_image(sd + "/b.dcm", SERIES_B);
    rkin_err_clear(&err);
    ok(rkin_dicom_read_series(sd.c_str(), &im, nullptr, &err) != 0,
       "series: two series in one folder");
    like(err.msg, "one series per folder", "... message: one series per "
         "folder");
    like(err.msg, "SeriesInstanceUID", "... names the tag");
    unlink((sd + "/b.dcm").c_str());
    write_image(sd + "/b.dcm", SERIES_SIZE);
    rkin_err_clear(&err);
    ok(rkin_dicom_read_series(sd.c_str(), &im, nullptr, &err) != 0,
       "series: slices of different sizes");
    like(err.msg, "b.dcm: 2 x 4 pixels, not 3 x 4 as", "... message names both "
         "sizes");
    unlink((sd + "/a.dcm").c_str());
    unlink((sd + "/b.dcm").c_str());
    rmdir(sd.c_str());
  }

  /* RT Dose writer */
  {
    rkin_grid g;
    rkin_image d = {};
    rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
    if (rkin_image_alloc(&d, &g, &err) == 0) {
      rkin_err_clear(&err);
      ok(rkin_dicom_write_rtdose("", &d, nullptr, &err) != 0,
         "RT Dose: empty path");
      like(err.msg, "RT Dose write: empty path", "... message");
      d.v[3] = -1;
      std::string out = dir + "/dose.dcm";
      rkin_err_clear(&err);
      ok(rkin_dicom_write_rtdose(out.c_str(), &d, nullptr, &err) != 0,
         "RT Dose: a negative dose");
      like(err.msg, "dose voxel 3 is -1 (expected a finite value >= 0 Gy)",
           "... message names the voxel");
      unlink(out.c_str());
      rkin_image_free(&d);
    }
  }

  /* RTSTRUCT and SEG readers given an image or nothing */
  {
    std::string img = dir + "/img.dcm";
    rkin_rtstruct_roi rois[4];
    rkin_seg_segment segs[4];
    size_t n = 0;
    rkin_grid g;
    unsigned char mask[8];
    rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
    write_image(img, OK);
    rkin_err_clear(&err);
    ok(rkin_rtstruct_list("", rois, 4, &n, nullptr, &err) != 0,
       "RTSTRUCT: empty path");
    like(err.msg, "RTSTRUCT: empty path", "... message");
    rkin_err_clear(&err);
    ok(rkin_rtstruct_list(img.c_str(), rois, 4, &n, nullptr, &err) != 0,
       "RTSTRUCT: an image instead");
    like(err.msg, "img.dcm: Modality (0008,0060) is NM (expected RTSTRUCT)",
         "... message names the file and the modality");
    {
      /* an RTSTRUCT without its ROI sequence */
      std::string rs = dir + "/rs.dcm";
      DcmFileFormat ff;
      DcmDataset *d = ff.getDataset();
      d->putAndInsertString(DCM_SOPClassUID, UID_RTStructureSetStorage);
      d->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.110");
      d->putAndInsertString(DCM_Modality, "RTSTRUCT");
      ff.saveFile(rs.c_str(), EXS_LittleEndianExplicit);
      rkin_err_clear(&err);
      ok(rkin_rtstruct_list(rs.c_str(), rois, 4, &n, nullptr, &err) != 0,
         "RTSTRUCT: no ROI sequence");
      like(err.msg, "rs.dcm: no StructureSetROISequence (3006,0020): not an "
           "RTSTRUCT", "... message names the file and the sequence");
      /* with one ROI and no contours */
      DcmItem *it = nullptr;
      d->findOrCreateSequenceItem(DCM_StructureSetROISequence, it, -2);
      it->putAndInsertString(DCM_ROINumber, "1");
      it->putAndInsertString(DCM_ROIName, "liver");
      ff.saveFile(rs.c_str(), EXS_LittleEndianExplicit);
      rkin_err_clear(&err);
      ok(rkin_rtstruct_mask(rs.c_str(), "", &g, mask, &n, &err) != 0,
         "RTSTRUCT mask: no ROI name");
      like(err.msg, "rs.dcm: no ROI name given", "... message");
      rkin_err_clear(&err);
      ok(rkin_rtstruct_mask(rs.c_str(), "liver", &g, mask, &n, &err) != 0,
         "RTSTRUCT mask: a ROI without contours");
      like(err.msg, "rs.dcm: ROI 'liver' has no ContourSequence (3006,0040)",
           "... message names the ROI and the sequence");
      unlink(rs.c_str());
    }
    rkin_err_clear(&err);
    ok(rkin_dicom_seg_list("", segs, 4, &n, nullptr, &err) != 0,
       "SEG: empty path");
    like(err.msg, "DICOM SEG: empty path", "... message");
    rkin_err_clear(&err);
    ok(rkin_dicom_seg_list((dir + "/none.dcm").c_str(), segs, 4, &n,
                           nullptr, &err) != 0, "SEG: a missing file");
    like(err.msg, "none.dcm: not a readable DICOM file (", "... message");
    rkin_err_clear(&err);
    ok(rkin_dicom_seg_list(img.c_str(), segs, 4, &n, nullptr, &err) != 0,
       "SEG: an image instead");
    like(err.msg, "img.dcm: Modality (0008,0060) is 'NM', not SEG: not a "
         "segmentation", "... message names the modality");
    unlink(img.c_str());
  }

  /* series whose second slice differs */
  {
    Slice b;
    b.z = 2;
    series_bad(dir, [&] { Slice x = b; x.frames = "3"; return x; }(),
               "b.dcm: not a single-frame 16- or 32-bit image (Rows 4, "
               "Columns 3, frames 3, BitsAllocated 16)", "series: a "
               "multi-frame file");
    series_bad(dir, [&] { Slice x = b; x.spacing = "3\\3"; return x; }(),
               "b.dcm: PixelSpacing differs from", "series: another pixel "
               "spacing");
    series_bad(dir, [&] { Slice x = b; x.iop = "0\\1\\0\\1\\0\\0";
                          return x; }(),
               "b.dcm: ImageOrientationPatient differs from", "series: "
               "another orientation");
    like(err.msg, "(a tilted or mixed series)", "... says why it matters");
    series_bad(dir, [&] { Slice x = b; x.pixels = false; return x; }(),
               "b.dcm: no uncompressed PixelData (7FE0,0010) of 12 pixels",
               "series: a slice without pixels");
    series_bad(dir, Slice(), ": two slices at the same position",
               "series: two slices at z = 0");
  }
  /* an RT Dose wider than DICOM's 65535 columns */
  {
    rkin_grid g;
    rkin_image d = {};
    rkin_grid_init(&g, 70000, 1, 1, 1, 1, 1);
    if (rkin_image_alloc(&d, &g, &err) == 0) {
      std::string out = dir + "/wide.dcm";
      rkin_err_clear(&err);
      ok(rkin_dicom_write_rtdose(out.c_str(), &d, nullptr, &err) != 0,
         "RT Dose: 70000 columns");
      like(err.msg, "wide.dcm: 70000 x 1 pixels per slice (DICOM allows "
           "65535)", "... message names the size and the limit");
      unlink(out.c_str());
      rkin_image_free(&d);
    }
  }
  rmdir(tmpl);
  done_testing();
  return exit_status();
}
