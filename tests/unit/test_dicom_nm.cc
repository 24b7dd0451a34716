/* test_dicom_nm.cc - NM activity units and times (dicom.h): DICOM date
 * and time parsing against dates whose epoch seconds are known
 * (2000-03-01 is day 11017 after 1970-01-01), and an NM file written here
 * with DCMTK (Units BQML, rescale slope 0.5, acquisition 2026-03-10
 * 09:30:00.5, injection 2026-03-08 14:15: 43.25 h + 0.5 s before). */
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include "image/dicom.h"
#include "../tap.h"

namespace {

/* variant 0: full; 1: injection time only (date assumed), before the
 * acquisition; 2: time only, after it; 3: no acquisition time;
 * 4: a malformed AcquisitionTime */
bool write_nm(const char *path, int variant)
{
  DcmFileFormat ff;
  DcmDataset *d = ff.getDataset();
  d->putAndInsertString(DCM_SOPClassUID, UID_NuclearMedicineImageStorage);
  d->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.90");
  d->putAndInsertString(DCM_Modality, "NM");
  d->putAndInsertString(DCM_FrameOfReferenceUID, "1.2.3.4.91");
  d->putAndInsertUint16(DCM_Rows, 4);
  d->putAndInsertUint16(DCM_Columns, 3);
  d->putAndInsertString(DCM_NumberOfFrames, "2");
  d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  d->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  d->putAndInsertUint16(DCM_BitsAllocated, 16);
  d->putAndInsertUint16(DCM_BitsStored, 16);
  d->putAndInsertUint16(DCM_HighBit, 15);
  d->putAndInsertUint16(DCM_PixelRepresentation, 0);
  d->putAndInsertString(DCM_PixelSpacing, "4.42\\4.42");
  d->putAndInsertString(DCM_SpacingBetweenSlices, "4.42");
  d->putAndInsertString(DCM_ImagePositionPatient, "0\\0\\0");
  d->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
  d->putAndInsertString(DCM_RescaleSlope, "0.5");
  d->putAndInsertString(DCM_Units, "BQML");
  d->putAndInsertString(DCM_DecayCorrection, "NONE");
  d->putAndInsertString(DCM_ActualFrameDuration, "30000");
  if (variant != 3) {
    d->putAndInsertString(DCM_AcquisitionDate, "20260310");
    d->putAndInsertString(DCM_AcquisitionTime,
                          variant == 4 ? "253000" : "093000.5");
  }
  DcmItem *rp = nullptr;
  d->findOrCreateSequenceItem(DCM_RadiopharmaceuticalInformationSequence, rp,
                              -2);
  rp->putAndInsertString(DCM_RadionuclideTotalDose, "7.4e9");
  rp->putAndInsertString(DCM_RadionuclideHalfLife, "574300");
  if (variant == 0 || variant >= 3)
    rp->putAndInsertString(DCM_RadiopharmaceuticalStartDateTime,
                           "20260308141500");
  else
    rp->putAndInsertString(DCM_RadiopharmaceuticalStartTime,
                           variant == 1 ? "081500" : "101500");
  Uint16 pix[24];
  for (int i = 0; i < 24; i++) pix[i] = (Uint16)(10 * i);
  d->putAndInsertUint16Array(DCM_PixelData, pix, 24);
  return ff.saveFile(path, EXS_LittleEndianExplicit).good();
}

} // namespace

int main()
{
  double s = 0.0;
  int rc = rkin_dicom_datetime("20000301", "000000", &s);
  ok(rc == 0 && s == 11017.0 * 86400.0, "2000-03-01 00:00 = day 11017 "
     "(%.0f s)", s);
  rc = rkin_dicom_datetime("20240229", "235959", &s);
  ok(rc == 0 && s == 19782.0 * 86400.0 + 86399.0, "leap day 2024-02-29 "
     "23:59:59 = day 19782 (%.0f s)", s);
  ok(rkin_dicom_datetime("19700101", "010203.25", &s) == 0 && s == 3723.25,
     "01:02:03.25 = 3723.25 s");
  ok(rkin_dicom_datetime("19700101", "0102", &s) == 0 && s == 3720.0,
     "HHMM");
  ok(rkin_dicom_datetime("19700101", "01:02:03", &s) == 0 && s == 3723.0,
     "ACR-NEMA HH:MM:SS");
  ok(rkin_dicom_dt("19700101010000+0100", &s) == 0 && s == 0.0,
     "DT with +0100 offset is UTC");
  ok(rkin_dicom_dt("19700102-0030", &s) == 0 && s == 86400.0 + 1800.0,
     "DT date only with -0030");
  ok(rkin_dicom_datetime("20261301", "0000", &s) < 0, "month 13 refused");
  ok(rkin_dicom_datetime("2026031", "0000", &s) < 0, "7-digit date refused");
  ok(rkin_dicom_datetime("20260310", "2460", &s) < 0, "hour 24 refused");
  ok(rkin_dicom_datetime("20260310", "1200x", &s) < 0, "trailing junk");

  char dir[] = "/tmp/rk_test_dicom_nm_XXXXXX", path[600];
  if (!mkdtemp(dir)) return 1;
  std::snprintf(path, sizeof path, "%s/nm.dcm", dir);
  rkin_dicom_nm_info nm;
  rkin_err e = {0, ""};
  ok(write_nm(path, 0), "NM file written by DCMTK");
  ok(rkin_dicom_nm_info_read(path, &nm, &e) == 0, "NM info read%s%s",
     e.code ? ": " : "", e.code ? e.msg : "");
  ok(!std::strcmp(nm.units, "BQML") && !std::strcmp(nm.unit, "Bq/mL"),
     "Units BQML -> Bq/mL");
  is_double(nm.hours_after_injection, 43.25 + 0.5 / 3600.0, 1e-12,
            "acquisition 43.25 h + 0.5 s after injection");
  ok(!nm.injection_date_assumed, "injection date given");
  is_double(nm.total_dose_bq, 7.4e9, 1e-12, "RadionuclideTotalDose");
  is_double(nm.half_life_s, 574300.0, 1e-12, "RadionuclideHalfLife");
  is_double(nm.frame_duration_s, 30.0, 1e-12, "ActualFrameDuration 30 s");
  ok(!std::strcmp(nm.decay_correction, "NONE"), "DecayCorrection");
  ok(!std::strcmp(nm.acquisition_from, "AcquisitionDate/Time"),
     "acquisition from %s", nm.acquisition_from);
  {
    rkin_image im;
    char fuid[80];
    ok(rkin_dicom_read(path, &im, fuid, &e) == 0 &&
       !std::strcmp(im.unit, "Bq/mL") && im.v[5] == 25.0f &&
       im.g.n[2] == 2, "the image reads in Bq/mL, x RescaleSlope 0.5");
    rkin_image_free(&im);
  }
  ok(write_nm(path, 1) && rkin_dicom_nm_info_read(path, &nm, &e) == 0 &&
     nm.injection_date_assumed &&
     std::fabs(nm.hours_after_injection - (1.25 + 0.5 / 3600.0)) < 1e-9,
     "time only: same day assumed (1.25 h), flagged");
  ok(write_nm(path, 2) && rkin_dicom_nm_info_read(path, &nm, &e) < 0 &&
     std::strstr(e.msg, "0018,1078"), "time only, after the acquisition: %s",
     e.msg);
  ok(write_nm(path, 3) && rkin_dicom_nm_info_read(path, &nm, &e) < 0 &&
     std::strstr(e.msg, "missing acquisition time"), "%s", e.msg);
  ok(write_nm(path, 4) && rkin_dicom_nm_info_read(path, &nm, &e) < 0 &&
     std::strstr(e.msg, "'253000'"), "malformed time named: %s", e.msg);
  unlink(path);
  rmdir(dir);
  done_testing();
  return exit_status();
}
