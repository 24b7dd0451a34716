/* dicom_io.cc - DICOM volumes in (RT Dose, multi-frame NM) and RT Dose out
 * through DCMTK (Debian's libdcmtk-dev), behind the C interface of
 * dicom.h. C++ stays in this file; nothing here throws across it. */
#include "image/dicom.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <algorithm>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmseg/segutils.h>
#include <dcmtk/oflog/oflog.h>

#include <memory>
#include <mutex>

namespace {

/* A DS value in at most 16 characters (the VR's limit), as precise as fits. */
std::string ds(double v)
{
  char buf[64];
  for (int prec = 12; prec >= 4; prec--) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strlen(buf) <= 16) break;
  }
  return buf;
}

std::string ds_list(const double *v, size_t n)
{
  std::string s;
  for (size_t i = 0; i < n; i++) {
    if (i) s += "\\";
    s += ds(v[i]);
  }
  return s;
}

/* Value i of a multi-valued numeric tag in ds or, failing that, in the
 * first item of sequence seq (NM keeps its geometry in the detector
 * information sequence). */
bool get_f64(DcmItem *ds_, const DcmTagKey &tag, unsigned long i, double &v,
             const DcmTagKey *seq = nullptr)
{
  Float64 x;
  if (ds_->findAndGetFloat64(tag, x, i).good()) {
    v = x;
    return true;
  }
  if (seq) {
    DcmItem *item = nullptr;
    if (ds_->findAndGetSequenceItem(*seq, item, 0).good() && item &&
        item->findAndGetFloat64(tag, x, i).good()) {
      v = x;
      return true;
    }
  }
  return false;
}

/* The engine never prints: DCMTK's log (to stderr by default) is turned
 * off once; the messages that matter come back as OFCondition texts. */
void quiet_dcmtk()
{
  static std::once_flag once;
  std::call_once(once, [] { OFLog::configure(OFLogger::OFF_LOG_LEVEL); });
}

bool little_endian_host()
{
  const uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

} // namespace

extern "C" int rkin_dicom_read(const char *path, rkin_image *im,
                               char *frame_uid, rkin_err *err)
{
  std::memset(im, 0, sizeof *im);
  if (frame_uid) frame_uid[0] = '\0';
  quiet_dcmtk();
  if (!path || !*path)
    return rkin_err_set(err, RKIN_EINVAL, "DICOM read: empty path");
  if (!little_endian_host())
    return rkin_err_set(err, RKIN_EINVAL, "%s: DICOM reading needs a "
                        "little-endian host", path);
  DcmFileFormat ff;
  OFCondition st = ff.loadFile(path);
  if (st.bad())
    return rkin_err_set(err, RKIN_EIO, "%s: not a readable DICOM file (%s)",
                        path, st.text());
  DcmDataset *d = ff.getDataset();
  {
    /* a segmentation: its label map (every segment) */
    OFString mod;
    if (d->findAndGetOFString(DCM_Modality, mod).good() && mod == "SEG")
      return rkin_dicom_read_seg(path, 0, im, frame_uid, err);
  }
  const DcmTagKey det = DCM_DetectorInformationSequence;
  Uint16 rows = 0, cols = 0, bits = 0, pixrep = 0;
  if (d->findAndGetUint16(DCM_Rows, rows).bad() ||
      d->findAndGetUint16(DCM_Columns, cols).bad() || rows == 0 || cols == 0)
    return rkin_err_set(err, RKIN_EINVAL, "%s: Rows/Columns (0028,0010/0011) "
                        "missing or 0: not an image", path);
  d->findAndGetUint16(DCM_BitsAllocated, bits);
  d->findAndGetUint16(DCM_PixelRepresentation, pixrep);
  if (bits != 16 && bits != 32)
    return rkin_err_set(err, RKIN_EINVAL, "%s: BitsAllocated (0028,0100) is "
                        "%u (expected 16 or 32)", path, (unsigned)bits);
  Sint32 nf = 1;
  if (d->findAndGetSint32(DCM_NumberOfFrames, nf).bad()) nf = 1;
  if (nf < 1 || nf > 100000)
    return rkin_err_set(err, RKIN_EINVAL, "%s: NumberOfFrames (0028,0008) is "
                        "%ld", path, (long)nf);
  double ps[2], ipp[3], iop[6];
  for (unsigned long i = 0; i < 2; i++)
    if (!get_f64(d, DCM_PixelSpacing, i, ps[i], &det) || !(ps[i] > 0))
      return rkin_err_set(err, RKIN_EINVAL, "%s: PixelSpacing (0028,0030) "
                          "missing or not > 0", path);
  for (unsigned long i = 0; i < 3; i++)
    if (!get_f64(d, DCM_ImagePositionPatient, i, ipp[i], &det))
      return rkin_err_set(err, RKIN_EINVAL, "%s: ImagePositionPatient "
                          "(0020,0032) missing", path);
  for (unsigned long i = 0; i < 6; i++)
    if (!get_f64(d, DCM_ImageOrientationPatient, i, iop[i], &det))
      return rkin_err_set(err, RKIN_EINVAL, "%s: ImageOrientationPatient "
                          "(0020,0037) missing", path);
  /* slice positions along the normal */
  double dz = 0.0;
  DcmElement *gfov = nullptr;
  if (d->findAndGetElement(DCM_GridFrameOffsetVector, gfov).good() && gfov) {
    unsigned long vm = gfov->getVM();
    std::vector<double> g(vm);
    for (unsigned long i = 0; i < vm; i++) {
      Float64 x;
      gfov->getFloat64(x, i);
      g[i] = x;
    }
    if (vm != (unsigned long)nf)
      return rkin_err_set(err, RKIN_EINVAL, "%s: GridFrameOffsetVector "
                          "(3004,000C) has %lu values for %ld frames", path,
                          vm, (long)nf);
    if (nf > 1) dz = g[1] - g[0];
    for (long k = 1; k + 1 < nf; k++)
      if (std::fabs((g[k + 1] - g[k]) - dz) > 1e-3 * std::fabs(dz) + 1e-4)
        return rkin_err_set(err, RKIN_EINVAL, "%s: non-uniform slice spacing "
                            "in GridFrameOffsetVector (3004,000C): %g mm "
                            "then %g mm at frame %ld", path, dz,
                            g[k + 1] - g[k], k + 1);
  } else if (nf > 1) {
    if (!get_f64(d, DCM_SpacingBetweenSlices, 0, dz, &det) &&
        !get_f64(d, DCM_SliceThickness, 0, dz, &det))
      return rkin_err_set(err, RKIN_EINVAL, "%s: %ld frames but neither "
                          "GridFrameOffsetVector, SpacingBetweenSlices nor "
                          "SliceThickness gives their spacing", path,
                          (long)nf);
  }
  if (nf > 1 && !(std::fabs(dz) > 0))
    return rkin_err_set(err, RKIN_EINVAL, "%s: zero slice spacing", path);
  /* geometry, LPS -> RAS (x, y negated) */
  double r[3] = {iop[0], iop[1], iop[2]}, c[3] = {iop[3], iop[4], iop[5]};
  double n[3] = {r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2],
                 r[0] * c[1] - r[1] * c[0]};
  double sgn = dz < 0 ? -1.0 : 1.0;
  rkin_grid g;
  rkin_grid_init(&g, cols, rows, (size_t)nf, ps[1], ps[0],
                 nf > 1 ? std::fabs(dz) : 1.0);
  const double flip[3] = {-1.0, -1.0, 1.0};
  for (int a = 0; a < 3; a++) {
    g.origin[a] = flip[a] * ipp[a];
    g.dir[3 * a + 0] = flip[a] * r[a];
    g.dir[3 * a + 1] = flip[a] * c[a];
    g.dir[3 * a + 2] = flip[a] * n[a] * sgn;
  }
  int rc = rkin_grid_check(&g, path, err);
  if (rc < 0) return rc;
  /* values */
  double slope = 1.0, inter = 0.0, scale;
  if (d->findAndGetFloat64(DCM_DoseGridScaling, scale).good()) {
    slope = scale;
  } else {
    Float64 x;
    if (d->findAndGetFloat64(DCM_RescaleSlope, x).good()) slope = x;
    if (d->findAndGetFloat64(DCM_RescaleIntercept, x).good()) inter = x;
  }
  const Uint16 *pix = nullptr;
  unsigned long nwords = 0;
  if (d->findAndGetUint16Array(DCM_PixelData, pix, &nwords).bad() || !pix)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no uncompressed PixelData "
                        "(7FE0,0010) (compressed transfer syntaxes are not "
                        "read: decompress first, e.g. with dcmdjpeg)", path);
  size_t nv = rkin_grid_count(&g);
  size_t need = bits == 32 ? 2 * nv : nv;
  if (nwords < need)
    return rkin_err_set(err, RKIN_EINVAL, "%s: PixelData holds %lu words, "
                        "%zu needed for %zu voxels", path, nwords, need, nv);
  if ((rc = rkin_image_alloc(im, &g, err)) < 0) return rc;
  for (size_t i = 0; i < nv; i++) {
    double x;
    if (bits == 16) {
      x = pixrep ? (double)(Sint16)pix[i] : (double)pix[i];
    } else {
      uint32_t u;
      std::memcpy(&u, pix + 2 * i, 4);
      x = pixrep ? (double)(int32_t)u : (double)u;
    }
    im->v[i] = (float)(x * slope + inter);
  }
  OFString modality, uid;
  OFString units;
  if (d->findAndGetOFString(DCM_Modality, modality).good() &&
      modality == "RTDOSE")
    std::strcpy(im->unit, "Gy");
  else if (d->findAndGetOFString(DCM_Units, units).good())
    std::snprintf(im->unit, sizeof im->unit, "%s",
                  units == "BQML" ? "Bq/mL"
                  : units == "CNTS" ? "counts" : units.c_str());
  if (frame_uid && d->findAndGetOFString(DCM_FrameOfReferenceUID, uid).good())
    std::snprintf(frame_uid, 65, "%s", uid.c_str());
  return RKIN_OK;
}

extern "C" int rkin_dicom_write_rtdose(const char *path, const rkin_image *dose,
                                       const char *frame_uid, rkin_err *err)
{
  return rkin_dicom_write_rtdose_series(path, dose, frame_uid, nullptr, err);
}

extern "C" int rkin_dicom_write_rtdose_series(const char *path,
                                              const rkin_image *dose,
                                              const char *frame_uid,
                                              const char *series_uid,
                                              rkin_err *err)
{
  quiet_dcmtk();
  if (!path || !*path)
    return rkin_err_set(err, RKIN_EINVAL, "RT Dose write: empty path");
  int rc = rkin_grid_check(&dose->g, path, err);
  if (rc < 0) return rc;
  if (!little_endian_host())
    return rkin_err_set(err, RKIN_EINVAL, "%s: DICOM writing needs a "
                        "little-endian host", path);
  if (dose->g.n[0] > 65535 || dose->g.n[1] > 65535)
    return rkin_err_set(err, RKIN_EINVAL, "%s: %zu x %zu pixels per slice "
                        "(DICOM allows 65535)", path, dose->g.n[0],
                        dose->g.n[1]);
  struct stat sb;
  if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
    return rkin_err_set(err, RKIN_EIO, "%s: exists and is not a regular file "
                        "(refusing to replace it)", path);
  size_t nv = rkin_grid_count(&dose->g);
  double mx = 0.0;
  for (size_t i = 0; i < nv; i++) {
    double v = dose->v[i];
    if (!std::isfinite(v) || v < 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "%s: dose voxel %zu is %g "
                          "(expected a finite value >= 0 Gy)", path, i, v);
    if (v > mx) mx = v;
  }
  const double scale = mx > 0 ? mx / 4294967295.0 : 1.0;
  std::vector<uint32_t> q(nv);
  for (size_t i = 0; i < nv; i++) {
    double x = std::floor(dose->v[i] / scale + 0.5);
    q[i] = x > 4294967295.0 ? 4294967295u : (uint32_t)x;
  }
  DcmFileFormat ff;
  DcmDataset *d = ff.getDataset();
  char uid[100];
  std::string study = dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT);
  std::string series = series_uid && *series_uid
                           ? series_uid
                           : dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT);
  std::string inst = dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
  std::string frame = frame_uid && *frame_uid
                          ? frame_uid
                          : dcmGenerateUniqueIdentifier(uid, SITE_UID_ROOT);
  /* RAS -> LPS */
  const double flip[3] = {-1.0, -1.0, 1.0};
  double ipp[3], iop[6], nrm[3];
  for (int a = 0; a < 3; a++) {
    ipp[a] = flip[a] * dose->g.origin[a];
    iop[a] = flip[a] * dose->g.dir[3 * a + 0];
    iop[3 + a] = flip[a] * dose->g.dir[3 * a + 1];
  }
  nrm[0] = iop[1] * iop[5] - iop[2] * iop[4];
  nrm[1] = iop[2] * iop[3] - iop[0] * iop[5];
  nrm[2] = iop[0] * iop[4] - iop[1] * iop[3];
  double kdir = 0.0;
  for (int a = 0; a < 3; a++) kdir += nrm[a] * flip[a] * dose->g.dir[3 * a + 2];
  std::vector<double> off(dose->g.n[2]);
  for (size_t k = 0; k < dose->g.n[2]; k++)
    off[k] = (kdir < 0 ? -1.0 : 1.0) * (double)k * dose->g.spacing[2];
  double ps[2] = {dose->g.spacing[1], dose->g.spacing[0]};
  OFCondition st = EC_Normal;
#define PUT(tag, val) if (st.good()) st = d->putAndInsertString(tag, (val))
  PUT(DCM_SOPClassUID, UID_RTDoseStorage);
  PUT(DCM_SOPInstanceUID, inst.c_str());
  PUT(DCM_StudyInstanceUID, study.c_str());
  PUT(DCM_SeriesInstanceUID, series.c_str());
  PUT(DCM_FrameOfReferenceUID, frame.c_str());
  PUT(DCM_Modality, "RTDOSE");
  PUT(DCM_Manufacturer, "radiokin");
  PUT(DCM_PatientName, "");
  PUT(DCM_PatientID, "");
  PUT(DCM_PatientBirthDate, "");
  PUT(DCM_PatientSex, "");
  PUT(DCM_StudyDate, "");
  PUT(DCM_StudyTime, "");
  PUT(DCM_ReferringPhysicianName, "");
  PUT(DCM_StudyID, "");
  PUT(DCM_AccessionNumber, "");
  PUT(DCM_SeriesNumber, "1");
  PUT(DCM_InstanceNumber, "1");
  PUT(DCM_PositionReferenceIndicator, "");
  PUT(DCM_PhotometricInterpretation, "MONOCHROME2");
  PUT(DCM_NumberOfFrames, std::to_string(dose->g.n[2]).c_str());
  PUT(DCM_PixelSpacing, ds_list(ps, 2).c_str());
  PUT(DCM_ImagePositionPatient, ds_list(ipp, 3).c_str());
  PUT(DCM_ImageOrientationPatient, ds_list(iop, 6).c_str());
  PUT(DCM_SliceThickness, ds(dose->g.spacing[2]).c_str());
  PUT(DCM_GridFrameOffsetVector, ds_list(off.data(), off.size()).c_str());
  PUT(DCM_DoseUnits, "GY");
  PUT(DCM_DoseType, "PHYSICAL");
  PUT(DCM_DoseSummationType, "PLAN");
  PUT(DCM_DoseGridScaling, ds(scale).c_str());
#undef PUT
  if (st.good()) st = d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  if (st.good()) st = d->putAndInsertUint16(DCM_Rows, (Uint16)dose->g.n[1]);
  if (st.good()) st = d->putAndInsertUint16(DCM_Columns, (Uint16)dose->g.n[0]);
  if (st.good()) st = d->putAndInsertUint16(DCM_BitsAllocated, 32);
  if (st.good()) st = d->putAndInsertUint16(DCM_BitsStored, 32);
  if (st.good()) st = d->putAndInsertUint16(DCM_HighBit, 31);
  if (st.good()) st = d->putAndInsertUint16(DCM_PixelRepresentation, 0);
  if (st.good())
    st = d->putAndInsertTagKey(DCM_FrameIncrementPointer,
                               DCM_GridFrameOffsetVector);
  if (st.good())
    st = d->putAndInsertUint16Array(DCM_PixelData,
                                    reinterpret_cast<const Uint16 *>(q.data()),
                                    (unsigned long)(2 * nv));
  if (st.bad())
    return rkin_err_set(err, RKIN_EINVAL, "%s: building the RT Dose: %s",
                        path, st.text());
  /* the DS rounding of DoseGridScaling must still cover the maximum */
  std::string tmp = std::string(path) + ".rk" + std::to_string((long)getpid());
  st = ff.saveFile(tmp.c_str(), EXS_LittleEndianExplicit);
  if (st.bad()) {
    unlink(tmp.c_str());
    return rkin_err_set(err, RKIN_EIO, "%s: %s", path, st.text());
  }
  if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
    unlink(tmp.c_str());
    return rkin_err_set(err, RKIN_EIO, "%s: exists and is not a regular file "
                        "(refusing to replace it)", path);
  }
  if (std::rename(tmp.c_str(), path) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return rkin_err_set(err, RKIN_EIO, "%s: %s", path, std::strerror(e));
  }
  return RKIN_OK;
}

namespace {

struct slice {
  std::string file;
  double pos;                 /* along the normal, mm (LPS) */
  double ipp[3];
  double slope, inter;
  std::vector<double> v;      /* rescaled values, row major */
};

} // namespace

extern "C" int rkin_dicom_read_series(const char *dir, rkin_image *im,
                                      char *frame_uid, rkin_err *err)
{
  std::memset(im, 0, sizeof *im);
  if (frame_uid) frame_uid[0] = '\0';
  quiet_dcmtk();
  if (!dir || !*dir)
    return rkin_err_set(err, RKIN_EINVAL, "DICOM series: empty folder name");
  DIR *dp = opendir(dir);
  if (!dp)
    return rkin_err_set(err, RKIN_EIO, "%s: cannot open the folder: %s", dir,
                        std::strerror(errno));
  std::vector<std::string> files;
  struct dirent *de;
  while ((de = readdir(dp))) {
    if (de->d_name[0] == '.') continue;
    std::string f = std::string(dir) + "/" + de->d_name;
    struct stat sb;
    if (stat(f.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    files.push_back(f);
    if (files.size() > 4096) {
      closedir(dp);
      return rkin_err_set(err, RKIN_ERANGE, "%s: more than 4096 files (one "
                          "series per folder)", dir);
    }
  }
  closedir(dp);
  if (files.empty())
    return rkin_err_set(err, RKIN_EINVAL, "%s: no files", dir);
  std::sort(files.begin(), files.end());
  std::vector<slice> sl;
  Uint16 rows0 = 0, cols0 = 0;
  double ps0[2] = {0, 0}, iop0[6] = {0, 0, 0, 0, 0, 0}, n[3] = {0, 0, 0};
  OFString series0, frame0;
  for (size_t f = 0; f < files.size(); f++) {
    const char *path = files[f].c_str();
    DcmFileFormat ff;
    OFCondition st = ff.loadFile(path);
    if (st.bad())
      return rkin_err_set(err, RKIN_EIO, "%s: not a readable DICOM slice (%s); "
                          "the folder must hold the files of one series "
                          "only", path, st.text());
    DcmDataset *d = ff.getDataset();
    Uint16 rows = 0, cols = 0, bits = 0, pixrep = 0;
    Sint32 nf = 1;
    double ps[2], iop[6];
    slice s;
    OFString series, frame;
    s.file = files[f];
    d->findAndGetUint16(DCM_Rows, rows);
    d->findAndGetUint16(DCM_Columns, cols);
    d->findAndGetUint16(DCM_BitsAllocated, bits);
    d->findAndGetUint16(DCM_PixelRepresentation, pixrep);
    if (d->findAndGetSint32(DCM_NumberOfFrames, nf).bad()) nf = 1;
    if (rows == 0 || cols == 0 || nf != 1 || (bits != 16 && bits != 32))
      return rkin_err_set(err, RKIN_EINVAL, "%s: not a single-frame 16- or "
                          "32-bit image (Rows %u, Columns %u, frames %ld, "
                          "BitsAllocated %u)", path, (unsigned)rows,
                          (unsigned)cols, (long)nf, (unsigned)bits);
    for (unsigned long i = 0; i < 2; i++)
      if (!get_f64(d, DCM_PixelSpacing, i, ps[i]) || !(ps[i] > 0))
        return rkin_err_set(err, RKIN_EINVAL, "%s: PixelSpacing (0028,0030) "
                            "missing or not > 0", path);
    for (unsigned long i = 0; i < 3; i++)
      if (!get_f64(d, DCM_ImagePositionPatient, i, s.ipp[i]))
        return rkin_err_set(err, RKIN_EINVAL, "%s: ImagePositionPatient "
                            "(0020,0032) missing", path);
    for (unsigned long i = 0; i < 6; i++)
      if (!get_f64(d, DCM_ImageOrientationPatient, i, iop[i]))
        return rkin_err_set(err, RKIN_EINVAL, "%s: ImageOrientationPatient "
                            "(0020,0037) missing", path);
    d->findAndGetOFString(DCM_SeriesInstanceUID, series);
    d->findAndGetOFString(DCM_FrameOfReferenceUID, frame);
    if (f == 0) {
      rows0 = rows;
      cols0 = cols;
      std::memcpy(ps0, ps, sizeof ps0);
      std::memcpy(iop0, iop, sizeof iop0);
      series0 = series;
      frame0 = frame;
      n[0] = iop[1] * iop[5] - iop[2] * iop[4];
      n[1] = iop[2] * iop[3] - iop[0] * iop[5];
      n[2] = iop[0] * iop[4] - iop[1] * iop[3];
    } else {
      if (series != series0)
        return rkin_err_set(err, RKIN_EINVAL, "%s: SeriesInstanceUID %s, not "
                            "%s of %s: one series per folder", path,
                            series.c_str(), series0.c_str(), files[0].c_str());
      if (frame != frame0)
        return rkin_err_set(err, RKIN_EINVAL, "%s: FrameOfReferenceUID %s, "
                            "not %s of %s: slices of different frames of "
                            "reference", path, frame.c_str(), frame0.c_str(),
                            files[0].c_str());
      if (rows != rows0 || cols != cols0)
        return rkin_err_set(err, RKIN_EINVAL, "%s: %u x %u pixels, not %u x "
                            "%u as %s", path, (unsigned)cols, (unsigned)rows,
                            (unsigned)cols0, (unsigned)rows0, files[0].c_str());
      for (int i = 0; i < 2; i++)
        if (std::fabs(ps[i] - ps0[i]) > 1e-4)
          return rkin_err_set(err, RKIN_EINVAL, "%s: PixelSpacing differs "
                              "from %s", path, files[0].c_str());
      for (int i = 0; i < 6; i++)
        if (std::fabs(iop[i] - iop0[i]) > 1e-4)
          return rkin_err_set(err, RKIN_EINVAL, "%s: ImageOrientationPatient "
                              "differs from %s (a tilted or mixed series)",
                              path, files[0].c_str());
    }
    s.pos = s.ipp[0] * n[0] + s.ipp[1] * n[1] + s.ipp[2] * n[2];
    s.slope = 1.0;
    s.inter = 0.0;
    Float64 x;
    if (d->findAndGetFloat64(DCM_RescaleSlope, x).good()) s.slope = x;
    if (d->findAndGetFloat64(DCM_RescaleIntercept, x).good()) s.inter = x;
    if (d->findAndGetFloat64(DCM_DoseGridScaling, x).good()) s.slope = x;
    const Uint16 *pix = nullptr;
    unsigned long nwords = 0;
    size_t np = (size_t)rows * cols, need = bits == 32 ? 2 * np : np;
    if (d->findAndGetUint16Array(DCM_PixelData, pix, &nwords).bad() || !pix ||
        nwords < need)
      return rkin_err_set(err, RKIN_EINVAL, "%s: no uncompressed PixelData "
                          "(7FE0,0010) of %zu pixels", path, np);
    s.v.resize(np);
    for (size_t i = 0; i < np; i++) {
      double y;
      if (bits == 16) {
        y = pixrep ? (double)(Sint16)pix[i] : (double)pix[i];
      } else {
        uint32_t u;
        std::memcpy(&u, pix + 2 * i, 4);
        y = pixrep ? (double)(int32_t)u : (double)u;
      }
      s.v[i] = y * s.slope + s.inter;
    }
    sl.push_back(std::move(s));
  }
  std::sort(sl.begin(), sl.end(),
            [](const slice &a, const slice &b) { return a.pos < b.pos; });
  double dz = sl.size() > 1 ? sl[1].pos - sl[0].pos : 1.0;
  if (sl.size() > 1 && !(dz > 1e-6))
    return rkin_err_set(err, RKIN_EINVAL, "%s and %s: two slices at the same "
                        "position", sl[0].file.c_str(), sl[1].file.c_str());
  for (size_t k = 1; k + 1 < sl.size(); k++) {
    double d2 = sl[k + 1].pos - sl[k].pos;
    if (std::fabs(d2 - dz) > 1e-3 * dz + 1e-4)
      return rkin_err_set(err, RKIN_EINVAL, "%s: non-uniform slice spacing: "
                          "%g mm after %s, %g mm before it (missing or extra "
                          "slice?)", sl[k + 1].file.c_str(), d2,
                          sl[k].file.c_str(), dz);
  }
  rkin_grid g;
  const double flip[3] = {-1.0, -1.0, 1.0};
  rkin_grid_init(&g, cols0, rows0, sl.size(), ps0[1], ps0[0], dz);
  for (int a = 0; a < 3; a++) {
    g.origin[a] = flip[a] * sl[0].ipp[a];
    g.dir[3 * a + 0] = flip[a] * iop0[a];
    g.dir[3 * a + 1] = flip[a] * iop0[3 + a];
    g.dir[3 * a + 2] = flip[a] * n[a];
  }
  int rc = rkin_grid_check(&g, dir, err);
  if (rc < 0) return rc;
  if ((rc = rkin_image_alloc(im, &g, err)) < 0) return rc;
  size_t np = (size_t)rows0 * cols0;
  for (size_t k = 0; k < sl.size(); k++)
    for (size_t i = 0; i < np; i++) im->v[k * np + i] = (float)sl[k].v[i];
  if (frame_uid) std::snprintf(frame_uid, 65, "%s", frame0.c_str());
  return RKIN_OK;
}

/* ------------------------------------------------------------ RTSTRUCT */

namespace {

struct roi_info {
  int number;
  std::string name;
};

/* One closed planar contour in continuous grid indices (i, j), on the
 * plane k. */
struct contour {
  double k;
  std::vector<double> ij;  /* i0 j0 i1 j1 ... */
  std::vector<double> xyz; /* the points in RAS mm, x0 y0 z0 x1 ... */
  bool in_slice;           /* all points on one slice k of the grid */
};

/* Oblique contours: their own plane, not a slice of the grid. Every
 * contour of the ROI must be planar and parallel to the others (the
 * structure set's planes); each plane stands for a slab along its normal
 * n as thick as the median gap between planes (at least the voxel's
 * extent along n), half-open as in the axial case, and a voxel is inside
 * when its centre, projected onto its slab's plane, lies inside an odd
 * number of that plane's contours (even-odd rule), all in the plane's
 * own 2D frame (u, v). */
struct plane2d {
  double s;                           /* offset along n, mm */
  std::vector<std::vector<double>> uv;  /* contours: u0 v0 u1 v1 ... */
  double umin, umax, vmin, vmax;      /* their bounding box */
};

bool inside_uv(const plane2d &p, double u, double v)
{
  if (u < p.umin || u > p.umax || v < p.vmin || v > p.vmax) return false;
  bool in = false;
  for (const std::vector<double> &c : p.uv) {
    size_t np = c.size() / 2;
    for (size_t a = 0, b = np - 1; a < np; b = a++) {
      double ua = c[2 * a], va = c[2 * a + 1], ub = c[2 * b],
             vb = c[2 * b + 1];
      if ((va <= v) != (vb <= v) &&
          u < ua + (v - va) * (ub - ua) / (vb - va))
        in = !in;
    }
  }
  return in;
}

int rasterise_oblique(const char *path, const char *roi,
                      const std::vector<contour> &all, const rkin_grid *g,
                      unsigned char *mask, rkin_err *err)
{
  double n[3] = {0, 0, 0}, tol = HUGE_VAL;
  for (int a = 0; a < 3; a++) tol = std::min(tol, 0.01 * g->spacing[a]);
  std::vector<double> offs(all.size());
  for (size_t c = 0; c < all.size(); c++) {
    const std::vector<double> &p = all[c].xyz;
    size_t np = p.size() / 3;
    double nc[3] = {0, 0, 0}, cen[3] = {0, 0, 0}, len, off = 0, dev = 0;
    /* Newell's normal: robust for any simple polygon */
    for (size_t a = 0; a < np; a++) {
      const double *q = &p[3 * a], *r = &p[3 * ((a + 1) % np)];
      nc[0] += (q[1] - r[1]) * (q[2] + r[2]);
      nc[1] += (q[2] - r[2]) * (q[0] + r[0]);
      nc[2] += (q[0] - r[0]) * (q[1] + r[1]);
      for (int d = 0; d < 3; d++) cen[d] += q[d] / (double)np;
    }
    len = std::sqrt(nc[0] * nc[0] + nc[1] * nc[1] + nc[2] * nc[2]);
    if (!(len > 0.0))
      return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' contour %zu "
                          "encloses no area (its points are collinear)",
                          path, roi, c + 1);
    for (int d = 0; d < 3; d++) nc[d] /= len;
    if (c == 0) {
      for (int d = 0; d < 3; d++) n[d] = nc[d];
    } else {
      double dot = nc[0] * n[0] + nc[1] * n[1] + nc[2] * n[2];
      if (std::fabs(dot) < 1.0 - 1e-6)
        return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' contour %zu is "
                            "not parallel to contour 1 (their planes meet "
                            "at %.3g degrees; expected the parallel planes "
                            "of one structure set)", path, roi, c + 1,
                            std::acos(std::min(1.0, std::fabs(dot))) *
                                180.0 / M_PI);
    }
    for (int d = 0; d < 3; d++) off += cen[d] * n[d];
    for (size_t a = 0; a < np; a++)
      dev = std::max(dev, std::fabs(p[3 * a] * n[0] + p[3 * a + 1] * n[1] +
                                    p[3 * a + 2] * n[2] - off));
    if (dev > tol)
      return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' contour %zu is "
                          "not planar (a point lies %.3g mm off its plane, "
                          "tolerance %.3g mm; not in a slice of the grid "
                          "either)", path, roi, c + 1, dev, tol);
    offs[c] = off;
  }
  /* the in-plane frame: u along the grid axis least aligned with n */
  double u[3], v[3], ax[3] = {0, 0, 0};
  {
    int best = 0;
    double bd = HUGE_VAL;
    for (int a = 0; a < 3; a++) {
      double dd = std::fabs(g->dir[a] * n[0] + g->dir[3 + a] * n[1] +
                            g->dir[6 + a] * n[2]);
      if (dd < bd) {
        bd = dd;
        best = a;
      }
    }
    for (int d = 0; d < 3; d++) ax[d] = g->dir[3 * d + best];
    double dn = ax[0] * n[0] + ax[1] * n[1] + ax[2] * n[2], len = 0;
    for (int d = 0; d < 3; d++) {
      u[d] = ax[d] - dn * n[d];
      len += u[d] * u[d];
    }
    len = std::sqrt(len);
    for (int d = 0; d < 3; d++) u[d] /= len;
    v[0] = n[1] * u[2] - n[2] * u[1];
    v[1] = n[2] * u[0] - n[0] * u[2];
    v[2] = n[0] * u[1] - n[1] * u[0];
  }
  /* planes (offsets within 1e-3 mm are one plane) */
  std::vector<plane2d> planes;
  for (size_t c = 0; c < all.size(); c++) {
    plane2d *pl = nullptr;
    for (plane2d &q : planes)
      if (std::fabs(q.s - offs[c]) <= 1e-3) pl = &q;
    if (!pl) {
      planes.push_back({offs[c], {}, HUGE_VAL, -HUGE_VAL, HUGE_VAL,
                        -HUGE_VAL});
      pl = &planes.back();
    }
    const std::vector<double> &p = all[c].xyz;
    std::vector<double> uv;
    for (size_t a = 0; a < p.size() / 3; a++) {
      const double *q = &p[3 * a];
      double pu = q[0] * u[0] + q[1] * u[1] + q[2] * u[2];
      double pv = q[0] * v[0] + q[1] * v[1] + q[2] * v[2];
      uv.push_back(pu);
      uv.push_back(pv);
      pl->umin = std::min(pl->umin, pu);
      pl->umax = std::max(pl->umax, pu);
      pl->vmin = std::min(pl->vmin, pv);
      pl->vmax = std::max(pl->vmax, pv);
    }
    pl->uv.push_back(std::move(uv));
  }
  std::sort(planes.begin(), planes.end(),
            [](const plane2d &a, const plane2d &b) { return a.s < b.s; });
  /* slab half-width: half the median gap, at least half the voxel's
   * extent along n */
  double ext = 0.0, w;
  for (int a = 0; a < 3; a++)
    ext += std::fabs(g->dir[a] * n[0] + g->dir[3 + a] * n[1] +
                     g->dir[6 + a] * n[2]) * g->spacing[a];
  w = 0.5 * ext;
  if (planes.size() > 1) {
    std::vector<double> gaps;
    for (size_t a = 1; a < planes.size(); a++)
      gaps.push_back(planes[a].s - planes[a - 1].s);
    std::sort(gaps.begin(), gaps.end());
    w = std::max(w, 0.5 * gaps[gaps.size() / 2]);
  }
  size_t nx = g->n[0], ny = g->n[1], nz = g->n[2];
  std::memset(mask, 0, nx * ny * nz);
  for (size_t k = 0; k < nz; k++)
    for (size_t j = 0; j < ny; j++)
      for (size_t i = 0; i < nx; i++) {
        double ijk[3] = {(double)i, (double)j, (double)k}, x[3];
        rkin_grid_to_world(g, ijk, x);
        double s = x[0] * n[0] + x[1] * n[1] + x[2] * n[2];
        const plane2d *best = nullptr;
        double bd = HUGE_VAL;
        for (const plane2d &p : planes) {
          double ds = s - p.s;
          if (ds >= -w - 1e-9 && ds < w - 1e-9 && std::fabs(ds) < bd) {
            bd = std::fabs(ds);
            best = &p;
          }
        }
        if (best &&
            inside_uv(*best, x[0] * u[0] + x[1] * u[1] + x[2] * u[2],
                      x[0] * v[0] + x[1] * v[1] + x[2] * v[2]))
          mask[i + nx * (j + ny * k)] = 1;
      }
  return RKIN_OK;
}

int load_rtstruct(const char *path, DcmFileFormat &ff, rkin_err *err)
{
  quiet_dcmtk();
  if (!path || !*path)
    return rkin_err_set(err, RKIN_EINVAL, "RTSTRUCT: empty path");
  OFCondition st = ff.loadFile(path);
  if (st.bad())
    return rkin_err_set(err, RKIN_EIO, "%s: not a readable DICOM file (%s)",
                        path, st.text());
  OFString modality;
  DcmDataset *d = ff.getDataset();
  if (d->findAndGetOFString(DCM_Modality, modality).good() &&
      modality != "RTSTRUCT")
    return rkin_err_set(err, RKIN_EINVAL, "%s: Modality (0008,0060) is %s "
                        "(expected RTSTRUCT)", path, modality.c_str());
  DcmSequenceOfItems *s = nullptr;
  if (d->findAndGetSequence(DCM_StructureSetROISequence, s).bad() || !s)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no StructureSetROISequence "
                        "(3006,0020): not an RTSTRUCT", path);
  return RKIN_OK;
}

std::vector<roi_info> roi_table(DcmDataset *d)
{
  std::vector<roi_info> out;
  DcmSequenceOfItems *s = nullptr;
  if (d->findAndGetSequence(DCM_StructureSetROISequence, s).bad() || !s)
    return out;
  for (unsigned long i = 0; i < s->card(); i++) {
    DcmItem *it = s->getItem(i);
    Sint32 num = 0;
    OFString name;
    if (!it || it->findAndGetSint32(DCM_ROINumber, num).bad()) continue;
    it->findAndGetOFString(DCM_ROIName, name);
    out.push_back({(int)num, name.c_str()});
  }
  return out;
}

/* The item of ROIContourSequence for ROI number num, or nullptr. */
DcmItem *roi_contours(DcmDataset *d, int num)
{
  DcmSequenceOfItems *s = nullptr;
  if (d->findAndGetSequence(DCM_ROIContourSequence, s).bad() || !s)
    return nullptr;
  for (unsigned long i = 0; i < s->card(); i++) {
    DcmItem *it = s->getItem(i);
    Sint32 ref = 0;
    if (it && it->findAndGetSint32(DCM_ReferencedROINumber, ref).good() &&
        ref == num)
      return it;
  }
  return nullptr;
}

bool closed_planar(DcmItem *c)
{
  OFString type;
  return c->findAndGetOFString(DCM_ContourGeometricType, type).good() &&
         type == "CLOSED_PLANAR";
}

/* Even-odd fill of one slice: voxel (i, j) is inside when its centre lies
 * inside an odd number of the contours. Crossings of each row's centre
 * line with the edges, half-open in j so a vertex on the line counts
 * once. */
void fill_slice(const std::vector<const contour *> &cs, size_t nx, size_t ny,
                unsigned char *slice)
{
  std::vector<double> xs;
  for (size_t j = 0; j < ny; j++) {
    double y = (double)j;
    xs.clear();
    for (const contour *c : cs) {
      size_t np = c->ij.size() / 2;
      for (size_t a = 0; a < np; a++) {
        size_t b = (a + 1) % np;
        double x0 = c->ij[2 * a], y0 = c->ij[2 * a + 1];
        double x1 = c->ij[2 * b], y1 = c->ij[2 * b + 1];
        if ((y0 <= y && y < y1) || (y1 <= y && y < y0))
          xs.push_back(x0 + (y - y0) * (x1 - x0) / (y1 - y0));
      }
    }
    std::sort(xs.begin(), xs.end());
    for (size_t m = 0; m + 1 < xs.size(); m += 2) {
      /* centres i with xs[m] <= i < xs[m + 1] */
      double lo = std::ceil(xs[m]), hi = std::ceil(xs[m + 1]) - 1.0;
      if (lo < 0.0) lo = 0.0;
      if (hi > (double)nx - 1.0) hi = (double)nx - 1.0;
      for (double i = lo; i <= hi; i += 1.0)
        slice[(size_t)i + nx * j] = 1;
    }
  }
}

} // namespace

extern "C" int rkin_rtstruct_list(const char *path, rkin_rtstruct_roi *rois,
                                  size_t max, size_t *n, char *frame_uid,
                                  rkin_err *err)
{
  DcmFileFormat ff;
  *n = 0;
  if (frame_uid) frame_uid[0] = '\0';
  int rc = load_rtstruct(path, ff, err);
  if (rc < 0) return rc;
  DcmDataset *d = ff.getDataset();
  for (const roi_info &r : roi_table(d)) {
    if (*n == max) break;
    rkin_rtstruct_roi *o = &rois[(*n)++];
    o->number = r.number;
    std::snprintf(o->name, sizeof o->name, "%s", r.name.c_str());
    o->n_contours = 0;
    DcmItem *rc_item = roi_contours(d, r.number);
    DcmSequenceOfItems *cs = nullptr;
    if (rc_item && rc_item->findAndGetSequence(DCM_ContourSequence, cs)
                       .good() && cs)
      for (unsigned long i = 0; i < cs->card(); i++)
        if (cs->getItem(i) && closed_planar(cs->getItem(i))) o->n_contours++;
  }
  /* the frame of reference of the structure set */
  DcmItem *fr = nullptr;
  OFString uid;
  if (frame_uid &&
      d->findAndGetSequenceItem(DCM_ReferencedFrameOfReferenceSequence, fr, 0)
          .good() && fr &&
      fr->findAndGetOFString(DCM_FrameOfReferenceUID, uid).good())
    std::snprintf(frame_uid, 65, "%s", uid.c_str());
  return RKIN_OK;
}

extern "C" int rkin_rtstruct_mask(const char *path, const char *roi,
                                  const rkin_grid *g, unsigned char *mask,
                                  size_t *count, rkin_err *err)
{
  DcmFileFormat ff;
  if (count) *count = 0;
  int rc = load_rtstruct(path, ff, err);
  if (rc < 0) return rc;
  if ((rc = rkin_grid_check(g, "RTSTRUCT target grid", err)) < 0) return rc;
  if (!roi || !*roi)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no ROI name given", path);
  DcmDataset *d = ff.getDataset();
  std::vector<roi_info> rois = roi_table(d);
  const roi_info *found = nullptr;
  for (const roi_info &r : rois)
    if (r.name == roi) found = &r;
  if (!found) {
    char *end;
    long num = std::strtol(roi, &end, 10);
    for (const roi_info &r : rois)
      if (!*end && r.number == num) found = &r;
  }
  if (!found) {
    std::string names;
    for (const roi_info &r : rois) {
      if (!names.empty()) names += ", ";
      names += "'" + r.name + "'";
    }
    return rkin_err_set(err, RKIN_ENOTFOUND, "%s: no ROI '%s' (the file has "
                        "%s)", path, roi, names.empty() ? "none"
                                                        : names.c_str());
  }
  DcmItem *ri = roi_contours(d, found->number);
  DcmSequenceOfItems *cs = nullptr;
  if (!ri || ri->findAndGetSequence(DCM_ContourSequence, cs).bad() || !cs)
    return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' has no "
                        "ContourSequence (3006,0040)", path, roi);
  /* contours in grid indices, grouped by plane */
  std::vector<contour> all;
  for (unsigned long c = 0; c < cs->card(); c++) {
    DcmItem *it = cs->getItem(c);
    if (!it || !closed_planar(it)) continue;
    DcmElement *el = nullptr;
    if (it->findAndGetElement(DCM_ContourData, el).bad() || !el)
      return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' contour %lu: no "
                          "ContourData (3006,0050)", path, roi, c + 1);
    unsigned long vm = el->getVM();
    Sint32 npts = -1;
    if (vm % 3 != 0 || vm / 3 < 3)
      return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' contour %lu: "
                          "ContourData has %lu values (expected x\\y\\z "
                          "triplets, at least 3 points)", path, roi, c + 1,
                          vm);
    if (it->findAndGetSint32(DCM_NumberOfContourPoints, npts).good() &&
        (unsigned long)npts != vm / 3)
      return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' contour %lu: "
                          "NumberOfContourPoints (3006,0046) is %ld, "
                          "ContourData holds %lu points", path, roi, c + 1,
                          (long)npts, vm / 3);
    contour ct;
    ct.ij.reserve(2 * (vm / 3));
    ct.xyz.reserve(vm);
    double kmin = HUGE_VAL, kmax = -HUGE_VAL;
    for (unsigned long p = 0; p < vm / 3; p++) {
      Float64 x, y, z;
      if (el->getFloat64(x, 3 * p).bad() || el->getFloat64(y, 3 * p + 1)
          .bad() || el->getFloat64(z, 3 * p + 2).bad() ||
          !(std::fabs(x) <= 1e6 && std::fabs(y) <= 1e6 &&
            std::fabs(z) <= 1e6))
        return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' contour %lu "
                            "point %lu is not a finite number within 1 km "
                            "(mm)", path, roi, c + 1, p + 1);
      double xyz[3] = {-x, -y, z}, ijk[3]; /* LPS -> RAS */
      rkin_grid_to_index(g, xyz, ijk);
      ct.xyz.insert(ct.xyz.end(), xyz, xyz + 3);
      ct.ij.push_back(ijk[0]);
      ct.ij.push_back(ijk[1]);
      kmin = std::min(kmin, ijk[2]);
      kmax = std::max(kmax, ijk[2]);
    }
    /* planar in the grid's slices: 1 % of a slice; else oblique */
    ct.in_slice = kmax - kmin <= 0.01;
    ct.k = 0.5 * (kmin + kmax);
    all.push_back(std::move(ct));
  }
  if (all.empty())
    return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' has no closed planar "
                        "contour", path, roi);
  bool oblique = false;
  for (const contour &c : all) oblique = oblique || !c.in_slice;
  size_t set = 0, nvox = rkin_grid_count(g);
  if (oblique) {
    if ((rc = rasterise_oblique(path, roi, all, g, mask, err)) < 0)
      return rc;
    for (size_t v = 0; v < nvox; v++) set += mask[v];
    if (count) *count = set;
    if (!set)
      return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' covers no voxel "
                          "centre of the grid (does the structure set "
                          "overlap the image?)", path, roi);
    return RKIN_OK;
  }
  /* the planes, ascending */
  std::vector<double> planes;
  for (const contour &c : all) planes.push_back(c.k);
  std::sort(planes.begin(), planes.end());
  std::vector<double> uniq;
  for (double k : planes)
    if (uniq.empty() || k - uniq.back() > 1e-3) uniq.push_back(k);
  size_t nx = g->n[0], ny = g->n[1], nz = g->n[2], nxy = nx * ny;
  std::memset(mask, 0, nxy * nz);
  /* Each contour plane stands for a slab as thick as the structure set's
   * plane spacing (the median gap, at least one grid slice), half-open
   * [kp - w, kp + w): slices finer than the contours are filled between
   * planes and the volume is kept; far-apart parts stay apart. */
  double w = 0.5;
  if (uniq.size() > 1) {
    std::vector<double> gaps;
    for (size_t a = 1; a < uniq.size(); a++)
      gaps.push_back(uniq[a] - uniq[a - 1]);
    std::sort(gaps.begin(), gaps.end());
    w = std::max(w, 0.5 * gaps[gaps.size() / 2]);
  }
  std::vector<const contour *> sel;
  for (size_t k = 0; k < nz; k++) {
    double best = HUGE_VAL, kp = 0.0;
    for (double u : uniq) {
      double dk = (double)k - u;
      if (dk >= -w - 1e-6 && dk < w - 1e-6 && std::fabs(dk) < best) {
        best = std::fabs(dk);
        kp = u;
      }
    }
    if (best == HUGE_VAL) continue;
    sel.clear();
    for (const contour &c : all)
      if (std::fabs(c.k - kp) <= 1e-3) sel.push_back(&c);
    fill_slice(sel, nx, ny, mask + k * nxy);
  }
  for (size_t v = 0; v < nxy * nz; v++) set += mask[v];
  if (count) *count = set;
  if (!set)
    return rkin_err_set(err, RKIN_EINVAL, "%s: ROI '%s' covers no voxel "
                        "centre of the grid (does the structure set overlap "
                        "the image?)", path, roi);
  return RKIN_OK;
}

/* ------------------------------------------------ NM activity and times */

namespace {

/* Days from 1970-01-01 of a proleptic Gregorian date (Hinnant's
 * days_from_civil). */
long days_from_civil(long y, long m, long d)
{
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* n digits at *p as a number (advancing p), -1 if not digits. */
long digits(const char *&p, int n)
{
  long v = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = 10 * v + (p[i] - '0');
  }
  p += n;
  return v;
}

bool parse_date(const char *&p, double &s)
{
  long y = digits(p, 4), m = y < 0 ? -1 : digits(p, 2),
       d = m < 0 ? -1 : digits(p, 2);
  if (d < 1 || m < 1 || m > 12 || d > 31) return false;
  s = 86400.0 * (double)days_from_civil(y, m, d);
  return true;
}

/* HH[MM[SS[.F]]] (colons between the parts tolerated: ACR-NEMA). */
bool parse_time(const char *&p, double &s)
{
  long h = digits(p, 2), mi = 0, se = 0;
  double frac = 0.0;
  if (h < 0 || h > 23) return false;
  if (*p == ':') p++;
  if (*p >= '0' && *p <= '9') {
    if ((mi = digits(p, 2)) < 0 || mi > 59) return false;
    if (*p == ':') p++;
    if (*p >= '0' && *p <= '9') {
      if ((se = digits(p, 2)) < 0 || se > 60) return false;
      if (*p == '.') {
        double f = 0.1;
        p++;
        if (!(*p >= '0' && *p <= '9')) return false;
        while (*p >= '0' && *p <= '9') {
          frac += f * (*p - '0');
          f *= 0.1;
          p++;
        }
      }
    }
  }
  s = 3600.0 * (double)h + 60.0 * (double)mi + (double)se + frac;
  return true;
}

bool at_end(const char *p)
{
  while (*p == ' ') p++;
  return *p == '\0';
}

} // namespace

extern "C" int rkin_dicom_datetime(const char *da, const char *tm, double *s)
{
  double d, t = 0.0;
  const char *p = da;
  if (!da || !parse_date(p, d) || !at_end(p)) return -1;
  if (tm && *tm) {
    p = tm;
    if (!parse_time(p, t) || !at_end(p)) return -1;
  }
  *s = d + t;
  return 0;
}

extern "C" int rkin_dicom_dt(const char *dt, double *s)
{
  double d, t = 0.0;
  const char *p = dt;
  if (!dt || !parse_date(p, d)) return -1;
  if (*p >= '0' && *p <= '9' && !parse_time(p, t)) return -1;
  if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    p++;
    long oh = digits(p, 2), om = oh < 0 ? -1 : digits(p, 2);
    if (om < 0 || oh > 14 || om > 59) return -1;
    t -= sign * (3600.0 * (double)oh + 60.0 * (double)om); /* to UTC */
  }
  if (!at_end(p)) return -1;
  *s = d + t;
  return 0;
}

extern "C" int rkin_dicom_nm_info_read(const char *path,
                                       rkin_dicom_nm_info *info,
                                       rkin_err *err)
{
  if (!info)
    return rkin_err_set(err, RKIN_EINVAL, "DICOM NM info of %s: no result "
                        "structure given (info is NULL)", path ? path : "?");
  std::memset(info, 0, sizeof *info);
  info->acquisition_s = info->injection_s = NAN;
  info->hours_after_injection = info->total_dose_bq = NAN;
  info->half_life_s = info->frame_duration_s = NAN;
  quiet_dcmtk();
  if (!path || !*path)
    return rkin_err_set(err, RKIN_EINVAL, "DICOM NM info: empty path");
  DcmFileFormat ff;
  OFCondition st = ff.loadFile(path);
  if (st.bad())
    return rkin_err_set(err, RKIN_EIO, "%s: not a readable DICOM file (%s)",
                        path, st.text());
  DcmDataset *d = ff.getDataset();
  OFString a, b;
  if (d->findAndGetOFString(DCM_Units, a).good()) {
    std::snprintf(info->units, sizeof info->units, "%s", a.c_str());
    std::snprintf(info->unit, sizeof info->unit, "%s",
                  a == "BQML" ? "Bq/mL" : a == "CNTS" ? "counts" : a.c_str());
  }
  if (d->findAndGetOFString(DCM_DecayCorrection, a).good())
    std::snprintf(info->decay_correction, sizeof info->decay_correction, "%s",
                  a.c_str());
  Float64 x;
  Sint32 ms;
  /* IS, ms; NM keeps it in a sequence (rotation or phase information) */
  if (d->findAndGetSint32(DCM_ActualFrameDuration, ms, 0, OFTrue).good())
    info->frame_duration_s = ms / 1000.0;
  /* acquisition start */
  OFString acq_date;
  if (d->findAndGetOFString(DCM_AcquisitionDateTime, a).good() &&
      !a.empty()) {
    if (rkin_dicom_dt(a.c_str(), &info->acquisition_s) < 0)
      return rkin_err_set(err, RKIN_EINVAL, "%s: AcquisitionDateTime "
                          "(0008,002A) '%s' is not a DICOM date-time "
                          "(YYYYMMDDHHMMSS.FFFFFF)", path, a.c_str());
    acq_date = a.substr(0, 8);
    std::strcpy(info->acquisition_from, "AcquisitionDateTime");
  } else {
    const DcmTagKey da[2] = {DCM_AcquisitionDate, DCM_SeriesDate};
    const DcmTagKey tm[2] = {DCM_AcquisitionTime, DCM_SeriesTime};
    const char *names[2] = {"AcquisitionDate/Time (0008,0022/0032)",
                            "SeriesDate/Time (0008,0021/0031)"};
    for (int i = 0; i < 2 && std::isnan(info->acquisition_s); i++) {
      if (d->findAndGetOFString(da[i], a).bad() || a.empty() ||
          d->findAndGetOFString(tm[i], b).bad() || b.empty())
        continue;
      if (rkin_dicom_datetime(a.c_str(), b.c_str(), &info->acquisition_s) < 0)
        return rkin_err_set(err, RKIN_EINVAL, "%s: %s '%s' '%s' is not a "
                            "DICOM date and time (YYYYMMDD, HHMMSS.FFFFFF)",
                            path, names[i], a.c_str(), b.c_str());
      acq_date = a;
      std::snprintf(info->acquisition_from, sizeof info->acquisition_from,
                    "%s", i == 0 ? "AcquisitionDate/Time" : "SeriesDate/Time");
    }
  }
  if (std::isnan(info->acquisition_s))
    return rkin_err_set(err, RKIN_EINVAL, "%s: missing acquisition time: "
                        "none of AcquisitionDateTime (0008,002A), "
                        "AcquisitionDate + AcquisitionTime (0008,0022/0032), "
                        "SeriesDate + SeriesTime (0008,0021/0031)", path);
  /* the radiopharmaceutical: in its sequence (PET, NM) or at the top */
  DcmItem *rp = nullptr;
  if (d->findAndGetSequenceItem(DCM_RadiopharmaceuticalInformationSequence,
                                rp, 0).bad() || !rp)
    rp = d;
  if (rp->findAndGetFloat64(DCM_RadionuclideTotalDose, x).good())
    info->total_dose_bq = x;
  if (rp->findAndGetFloat64(DCM_RadionuclideHalfLife, x).good())
    info->half_life_s = x;
  if (rp->findAndGetOFString(DCM_RadiopharmaceuticalStartDateTime, a)
          .good() && !a.empty()) {
    if (rkin_dicom_dt(a.c_str(), &info->injection_s) < 0)
      return rkin_err_set(err, RKIN_EINVAL, "%s: "
                          "RadiopharmaceuticalStartDateTime (0018,1078) '%s' "
                          "is not a DICOM date-time", path, a.c_str());
  } else if (rp->findAndGetOFString(DCM_RadiopharmaceuticalStartTime, a)
                 .good() && !a.empty()) {
    if (rkin_dicom_datetime(acq_date.c_str(), a.c_str(), &info->injection_s)
        < 0)
      return rkin_err_set(err, RKIN_EINVAL, "%s: RadiopharmaceuticalStartTime "
                          "(0018,1072) '%s' is not a DICOM time", path,
                          a.c_str());
    info->injection_date_assumed = 1;
    if (info->injection_s > info->acquisition_s)
      return rkin_err_set(err, RKIN_EINVAL, "%s: RadiopharmaceuticalStartTime "
                          "(0018,1072) %s is after the acquisition on %s and "
                          "the file gives no injection date "
                          "(RadiopharmaceuticalStartDateTime, 0018,1078): "
                          "give the time after injection yourself", path,
                          a.c_str(), acq_date.c_str());
  }
  if (!std::isnan(info->injection_s))
    info->hours_after_injection =
        (info->acquisition_s - info->injection_s) / 3600.0;
  return RKIN_OK;
}

/* ------------------------------------------------ SEG: label maps */

namespace {

/* The SEG at path, loaded through dcmseg; rows, cols from the dataset
 * (the image pixel module of DcmSegmentation is not public). The caller
 * deletes *seg. */
int load_seg(const char *path, DcmFileFormat &ff, DcmSegmentation *&seg,
             Uint16 &rows, Uint16 &cols, char *frame_uid, rkin_err *err)
{
  seg = nullptr;
  quiet_dcmtk();
  if (!path || !*path)
    return rkin_err_set(err, RKIN_EINVAL, "DICOM SEG: empty path");
  OFCondition st = ff.loadFile(path);
  if (st.bad())
    return rkin_err_set(err, RKIN_EIO, "%s: not a readable DICOM file (%s)",
                        path, st.text());
  DcmDataset *d = ff.getDataset();
  OFString mod, uid;
  if (d->findAndGetOFString(DCM_Modality, mod).bad() || mod != "SEG")
    return rkin_err_set(err, RKIN_EINVAL, "%s: Modality (0008,0060) is '%s', "
                        "not SEG: not a segmentation", path, mod.c_str());
  if (d->findAndGetUint16(DCM_Rows, rows).bad() ||
      d->findAndGetUint16(DCM_Columns, cols).bad() || !rows || !cols)
    return rkin_err_set(err, RKIN_EINVAL, "%s: Rows/Columns (0028,0010/0011) "
                        "missing or 0 in a segmentation (SEG)", path);
  if (frame_uid) {
    frame_uid[0] = '\0';
    if (d->findAndGetOFString(DCM_FrameOfReferenceUID, uid).good())
      std::snprintf(frame_uid, 65, "%s", uid.c_str());
  }
  st = DcmSegmentation::loadDataset(*d, seg);
  if (st.bad() || !seg) {
    /* loadDataset hands back the half-read object when reading fails */
    delete seg;
    seg = nullptr;
    return rkin_err_set(err, RKIN_EINVAL, "%s: not a readable segmentation "
                        "(%s)", path, st.text());
  }
  return RKIN_OK;
}

} // namespace

extern "C" int rkin_dicom_seg_list(const char *path, rkin_seg_segment *segs,
                                   size_t max, size_t *n, char *frame_uid,
                                   rkin_err *err)
{
  DcmFileFormat ff;
  DcmSegmentation *seg = nullptr;
  Uint16 rows, cols;
  *n = 0;
  int rc = load_seg(path, ff, seg, rows, cols, frame_uid, err);
  if (rc < 0) return rc;
  size_t ns = seg->getNumberOfSegments();
  for (size_t k = 1; k <= ns && *n < max; k++) {
    DcmSegment *sg = seg->getSegment(k);
    if (!sg) continue;
    rkin_seg_segment *o = &segs[(*n)++];
    OFString lab;
    sg->getSegmentLabel(lab);
    o->number = (int)k;
    std::snprintf(o->label, sizeof o->label, "%s", lab.c_str());
    OFVector<size_t> fr;
    seg->getFramesForSegment(k, fr);
    o->n_frames = fr.size();
  }
  delete seg;
  return RKIN_OK;
}

namespace {

/* A SEG as a label map (fraction = 0: a voxel of a fractional SEG is set
 * where its fraction >= threshold) or one segment's fractional map
 * (fraction = 1: stored value / MaximumFractionalValue, a BINARY SEG's
 * 0 / 1). ftype (may be NULL, >= 16 bytes): "BINARY", "PROBABILITY" or
 * "OCCUPANCY". */
int seg_read(const char *path, int segment, int fraction, double threshold,
             rkin_image *im, char *frame_uid, char *ftype, rkin_err *err)
{
  DcmFileFormat ff;
  DcmSegmentation *seg = nullptr;
  Uint16 rows = 0, cols = 0, maxfrac = 1;
  std::memset(im, 0, sizeof *im);
  if (ftype) ftype[0] = '\0';
  if (!fraction && !(threshold > 0.0 && threshold <= 1.0))
    return rkin_err_set(err, RKIN_EINVAL, "%s: fraction threshold %g "
                        "(expected in (0, 1])", path ? path : "DICOM SEG",
                        threshold);
  int rc = load_seg(path, ff, seg, rows, cols, frame_uid, err);
  if (rc < 0) return rc;
  /* deleted on every way out */
  std::unique_ptr<DcmSegmentation> own(seg);
  bool binary = seg->getSegmentationType() == DcmSegTypes::ST_BINARY;
  if (!binary) {
    DcmSegTypes::E_SegmentationFractionalType ft =
        seg->getSegmentationFractionalType();
    if (seg->getSegmentationType() != DcmSegTypes::ST_FRACTIONAL ||
        (ft != DcmSegTypes::SFT_PROBABILITY &&
         ft != DcmSegTypes::SFT_OCCUPANCY))
      return rkin_err_set(err, RKIN_EINVAL, "%s: SegmentationType "
                          "(0062,0001) / SegmentationFractionalType "
                          "(0062,0010) not BINARY, FRACTIONAL PROBABILITY "
                          "or FRACTIONAL OCCUPANCY", path);
    /* dcmseg 3.6.7 has no getter for MaximumFractionalValue: the
     * dataset's own tag */
    if (ff.getDataset()->findAndGetUint16(DCM_MaximumFractionalValue,
                                          maxfrac).bad() || maxfrac == 0)
      return rkin_err_set(err, RKIN_EINVAL, "%s: a FRACTIONAL SEG without "
                          "MaximumFractionalValue (0062,000E) > 0", path);
    if (ftype)
      std::snprintf(ftype, 16, "%s", ft == DcmSegTypes::SFT_PROBABILITY
                                         ? "PROBABILITY" : "OCCUPANCY");
  } else if (ftype) {
    std::snprintf(ftype, 16, "BINARY");
  }
  size_t ns = seg->getNumberOfSegments(), nf = seg->getNumberOfFrames();
  if (ns == 0 || nf == 0)
    return rkin_err_set(err, RKIN_EINVAL, "%s: %zu segments, %zu frames: "
                        "nothing to read", path, ns, nf);
  if (fraction && segment == 0 && ns == 1) segment = 1;
  if (fraction && segment == 0)
    return rkin_err_set(err, RKIN_EINVAL, "%s: %zu segments: a fractional "
                        "map is one segment's (name it)", path, ns);
  if (segment < 0 || (size_t)segment > ns || (segment > 0 &&
                                              !seg->getSegment(segment))) {
    std::string names;
    for (size_t k = 1; k <= ns; k++) {
      DcmSegment *sg = seg->getSegment(k);
      OFString lab;
      if (sg) sg->getSegmentLabel(lab);
      if (!names.empty()) names += ", ";
      names += std::to_string(k) + " '" + lab.c_str() + "'";
    }
    return rkin_err_set(err, RKIN_ENOTFOUND, "%s: no segment %d (the file "
                        "has %s)", path, segment, names.c_str());
  }
  FGInterface &fg = seg->getFunctionalGroups();
  /* shared (or first frame's) orientation and pixel measures */
  FGPlaneOrientationPatient *po = OFstatic_cast(FGPlaneOrientationPatient *,
      fg.get(0, DcmFGTypes::EFG_PLANEORIENTPATIENT));
  FGPixelMeasures *pm = OFstatic_cast(FGPixelMeasures *,
      fg.get(0, DcmFGTypes::EFG_PIXELMEASURES));
  Float64 iop[6], ps[2];
  if (!po || po->getImageOrientationPatient(iop[0], iop[1], iop[2], iop[3],
                                            iop[4], iop[5]).bad())
    return rkin_err_set(err, RKIN_EINVAL, "%s: no ImageOrientationPatient "
                        "(0020,0037) in the PlaneOrientationSequence", path);
  if (!pm || pm->getPixelSpacing(ps[0], 0).bad() ||
      pm->getPixelSpacing(ps[1], 1).bad() || !(ps[0] > 0) || !(ps[1] > 0))
    return rkin_err_set(err, RKIN_EINVAL, "%s: no PixelSpacing (0028,0030) > 0 "
                        "in the PixelMeasuresSequence", path);
  double r[3] = {iop[0], iop[1], iop[2]}, c[3] = {iop[3], iop[4], iop[5]};
  double n[3] = {r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2],
                 r[0] * c[1] - r[1] * c[0]};
  /* every frame: its segment, position along n, in-plane origin */
  struct fr { size_t seg; double s, ipp[3]; };
  std::vector<fr> frames(nf);
  for (size_t f = 0; f < nf; f++) {
    FGSegmentation *fs = OFstatic_cast(FGSegmentation *,
        fg.get((Uint32)f, DcmFGTypes::EFG_SEGMENTATION));
    FGPlanePosPatient *pp = OFstatic_cast(FGPlanePosPatient *,
        fg.get((Uint32)f, DcmFGTypes::EFG_PLANEPOSPATIENT));
    Uint16 sn = 0;
    Float64 x, y, z;
    if (!fs || fs->getReferencedSegmentNumber(sn).bad() || sn == 0 ||
        sn > ns)
      return rkin_err_set(err, RKIN_EINVAL, "%s: frame %zu: no valid "
                          "ReferencedSegmentNumber (0062,000B) (1..%zu)",
                          path, f + 1, ns);
    if (!pp || pp->getImagePositionPatient(x, y, z).bad())
      return rkin_err_set(err, RKIN_EINVAL, "%s: frame %zu: no "
                          "ImagePositionPatient (0020,0032) in its "
                          "PlanePositionSequence", path, f + 1);
    frames[f] = {sn, x * n[0] + y * n[1] + z * n[2], {x, y, z}};
    /* one in-plane origin for all: the frames stack along n */
    if (f > 0) {
      double d[3] = {x - frames[0].ipp[0], y - frames[0].ipp[1],
                     z - frames[0].ipp[2]};
      double dr = d[0] * r[0] + d[1] * r[1] + d[2] * r[2];
      double dc = d[0] * c[0] + d[1] * c[1] + d[2] * c[2];
      if (std::fabs(dr) > 1e-3 * ps[1] || std::fabs(dc) > 1e-3 * ps[0])
        return rkin_err_set(err, RKIN_EINVAL, "%s: frame %zu is shifted "
                            "within its plane (%.3g, %.3g mm from frame 1): "
                            "frames must stack along the normal", path,
                            f + 1, dr, dc);
    }
  }
  /* the slices: distinct positions along n, ascending, uniformly spaced */
  std::vector<double> pos;
  for (const fr &f : frames) pos.push_back(f.s);
  std::sort(pos.begin(), pos.end());
  std::vector<double> sl;
  for (double v : pos)
    if (sl.empty() || v - sl.back() > 1e-3) sl.push_back(v);
  double dz = 0.0;
  if (sl.size() > 1) {
    dz = sl[1] - sl[0];
    for (size_t k = 1; k + 1 < sl.size(); k++)
      if (std::fabs((sl[k + 1] - sl[k]) - dz) > 1e-3 * dz + 1e-4)
        return rkin_err_set(err, RKIN_EINVAL, "%s: non-uniform slice spacing "
                            "of the segmentation's frames: %g mm then %g mm "
                            "after slice %zu (a label map needs one spacing)",
                            path, dz, sl[k + 1] - sl[k], k + 1);
  } else {
    Float64 t = 0;
    if (pm->getSpacingBetweenSlices(t).good() && t > 0) dz = t;
    else if (pm->getSliceThickness(t).good() && t > 0) dz = t;
    else dz = 1.0;
  }
  if (sl.size() > 100000)
    return rkin_err_set(err, RKIN_EINVAL, "%s: %zu slices", path, sl.size());
  rkin_grid g;
  rkin_grid_init(&g, cols, rows, sl.size(), ps[1], ps[0], dz);
  /* origin: the lowest slice's position (frame 1's in-plane origin moved
   * along n), LPS -> RAS */
  double o[3];
  for (int a = 0; a < 3; a++)
    o[a] = frames[0].ipp[a] + (sl[0] - frames[0].s) * n[a];
  const double flip[3] = {-1.0, -1.0, 1.0};
  for (int a = 0; a < 3; a++) {
    g.origin[a] = flip[a] * o[a];
    g.dir[3 * a + 0] = flip[a] * r[a];
    g.dir[3 * a + 1] = flip[a] * c[a];
    g.dir[3 * a + 2] = flip[a] * n[a];
  }
  if ((rc = rkin_grid_check(&g, path, err)) < 0) return rc;
  if ((rc = rkin_image_alloc(im, &g, err)) < 0) return rc;
  im->is_label = !fraction;
  size_t npix = (size_t)rows * cols, nset = 0;
  /* A BINARY SEG's Pixel Data is one bit stream over all frames, least
   * significant bit first, a frame starting where the previous one ended,
   * not at a byte boundary (DICOM PS3.5 section 8.1.1). DCMTK's frame
   * split (3.6.7) starts each frame on a byte, which shifts every frame
   * after the first when Rows x Columns is not a multiple of 8, so the
   * bits are read here from the stream itself. (DCMTK 3.6.7's writer
   * starts frames on bytes too: its files of such sizes do not follow
   * PS3.5 and read shifted here, as in other conforming readers.) */
  const Uint8 *bitstream = nullptr;
  unsigned long nbytes = 0;
  std::vector<Uint8> bits;
  if (binary) {
    if (ff.getDataset()->findAndGetUint8Array(DCM_PixelData, bitstream,
                                              &nbytes).bad() || !bitstream) {
      rkin_image_free(im);
      return rkin_err_set(err, RKIN_EINVAL, "%s: BINARY segmentation "
                          "without native Pixel Data (7FE0,0010)", path);
    }
    size_t need = (nf * npix + 7) / 8;
    if (nbytes < need) {
      rkin_image_free(im);
      return rkin_err_set(err, RKIN_EINVAL, "%s: %lu bytes of pixel data "
                          "for %zu frames of %u x %u pixels (expected %zu "
                          "bit-packed)", path, nbytes, nf, (unsigned)rows,
                          (unsigned)cols, need);
    }
    bits.resize(npix);
  }
  for (size_t f = 0; f < nf; f++) {
    if (segment > 0 && frames[f].seg != (size_t)segment) continue;
    const Uint8 *px = nullptr;
    if (binary) {
      size_t b0 = f * npix;
      for (size_t p = 0; p < npix; p++)
        bits[p] = (bitstream[(b0 + p) >> 3] >> ((b0 + p) & 7)) & 1u;
      px = bits.data();
    } else {
      const DcmIODTypes::Frame *raw = seg->getFrame(f);
      if (!raw || !raw->pixData) {
        rkin_image_free(im);
        return rkin_err_set(err, RKIN_EINVAL, "%s: frame %zu has no pixel "
                            "data", path, f + 1);
      }
      if (raw->length < npix) {
        rkin_image_free(im);
        return rkin_err_set(err, RKIN_EINVAL, "%s: frame %zu: %zu bytes of "
                            "fractional pixel data for %u x %u pixels "
                            "(expected one byte each)", path, f + 1,
                            raw->length, (unsigned)rows, (unsigned)cols);
      }
      px = raw->pixData;
    }
    size_t k = 0;
    while (k + 1 < sl.size() && sl[k] < frames[f].s - 1e-3) k++;
    float *slice = im->v + k * npix;
    float val = (float)frames[f].seg;
    for (size_t p = 0; p < npix; p++) {
      if (!px[p]) continue;
      if (!binary && px[p] > maxfrac) {
        rkin_image_free(im);
        return rkin_err_set(err, RKIN_EINVAL, "%s: frame %zu, pixel %zu: "
                            "%u above MaximumFractionalValue %u", path,
                            f + 1, p + 1, (unsigned)px[p], (unsigned)maxfrac);
      }
      /* a BINARY SEG's pixel is 1; a fractional one's value / max */
      double frac = binary ? 1.0 : (double)px[p] / maxfrac;
      if (fraction) {
        nset += slice[p] == 0.0f;
        if ((float)frac > slice[p]) slice[p] = (float)frac;
        continue;
      }
      if (frac < threshold) continue;
      if (slice[p] != 0.0f && slice[p] != val) {
        double other = slice[p];   /* read before the image is freed */
        rkin_image_free(im);
        return rkin_err_set(err, RKIN_EINVAL, "%s: segments %.0f and %zu "
                            "overlap (frame %zu, pixel %zu of slice %zu): a "
                            "label map holds one per voxel; read one segment "
                            "at a time", path, other, frames[f].seg, f + 1,
                            p + 1, k + 1);
      }
      nset += slice[p] == 0.0f;
      slice[p] = val;
    }
  }
  if (nset == 0) {
    rkin_image_free(im);
    if (!binary && !fraction)
      return rkin_err_set(err, RKIN_EINVAL, "%s: segment %d has no voxel "
                          "with a fraction >= %g", path, segment, threshold);
    if (segment == 0)
      return rkin_err_set(err, RKIN_EINVAL, "%s: no voxel of any segment is "
                          "set (every frame is empty)", path);
    return rkin_err_set(err, RKIN_EINVAL, "%s: segment %d has no voxel set",
                        path, segment);
  }
  return RKIN_OK;
}

} // namespace

extern "C" int rkin_dicom_read_seg(const char *path, int segment,
                                   rkin_image *im, char *frame_uid,
                                   rkin_err *err)
{
  return seg_read(path, segment, 0, 0.5, im, frame_uid, nullptr, err);
}

extern "C" int rkin_dicom_read_seg_thr(const char *path, int segment,
                                       double threshold, rkin_image *im,
                                       char *frame_uid, rkin_err *err)
{
  return seg_read(path, segment, 0, threshold, im, frame_uid, nullptr, err);
}

extern "C" int rkin_dicom_read_seg_fraction(const char *path, int segment,
                                            rkin_image *im, char *frame_uid,
                                            char *ftype, rkin_err *err)
{
  return seg_read(path, segment, 1, 0.0, im, frame_uid, ftype, err);
}
