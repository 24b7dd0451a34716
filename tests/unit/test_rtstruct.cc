/* test_rtstruct.cc - RTSTRUCT contours rasterised to masks (dicom.h).
 * The structure set is written here with DCMTK: ROI "square", a square of
 * 10 x 10 mm with edges half-way between voxel centres (exactly 100 voxel
 * centres of 1 x 1 mm per slice) on slices k = 0..4, and ROI "ring", a
 * circle of radius 20 mm with a hole of radius 8 mm (a second contour in
 * the same plane: the even-odd rule makes it a hole), as 720-gons, on
 * slices k = 5..9; the ring's voxel count per slice is its area
 * pi (20^2 - 8^2) mm^2 to the lattice error (< 1.5 %). */
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

/* grid: 64 x 64 x 10 voxels of 1 x 1 x 2 mm, RAS origin (-30, -20, 4) */
const double OX = -30.0, OY = -20.0, OZ = 4.0;

/* A contour of n points (i, j) in grid indices on slice k, as LPS mm. */
void add_contour(DcmItem *roi_item, const double *ij, size_t n, double k,
                 double dz_tilt = 0.0)
{
  DcmItem *c = nullptr;
  roi_item->findOrCreateSequenceItem(DCM_ContourSequence, c, -2);
  c->putAndInsertString(DCM_ContourGeometricType, "CLOSED_PLANAR");
  c->putAndInsertString(DCM_NumberOfContourPoints,
                        std::to_string(n).c_str());
  std::string data;
  char buf[64];
  for (size_t p = 0; p < n; p++) {
    double x = OX + ij[2 * p], y = OY + ij[2 * p + 1];
    double z = OZ + 2.0 * k + (p == 1 ? dz_tilt : 0.0);
    /* RAS -> LPS */
    std::snprintf(buf, sizeof buf, "%s%.10g\\%.10g\\%.10g", p ? "\\" : "",
                  -x, -y, z);
    data += buf;
  }
  c->putAndInsertString(DCM_ContourData, data.c_str());
}

DcmItem *add_roi(DcmDataset *d, int num, const char *name)
{
  DcmItem *s = nullptr, *r = nullptr;
  d->findOrCreateSequenceItem(DCM_StructureSetROISequence, s, -2);
  s->putAndInsertString(DCM_ROINumber, std::to_string(num).c_str());
  s->putAndInsertString(DCM_ROIName, name);
  s->putAndInsertString(DCM_ReferencedFrameOfReferenceUID, "1.2.3.4.77");
  s->putAndInsertString(DCM_ROIGenerationAlgorithm, "MANUAL");
  d->findOrCreateSequenceItem(DCM_ROIContourSequence, r, -2);
  r->putAndInsertString(DCM_ReferencedROINumber, std::to_string(num).c_str());
  return r;
}

/* A contour of n points given in RAS mm. */
void add_contour_xyz(DcmItem *roi_item, const double *xyz, size_t n)
{
  DcmItem *c = nullptr;
  roi_item->findOrCreateSequenceItem(DCM_ContourSequence, c, -2);
  c->putAndInsertString(DCM_ContourGeometricType, "CLOSED_PLANAR");
  c->putAndInsertString(DCM_NumberOfContourPoints,
                        std::to_string(n).c_str());
  std::string data;
  char buf[96];
  for (size_t p = 0; p < n; p++) {
    std::snprintf(buf, sizeof buf, "%s%.12g\\%.12g\\%.12g", p ? "\\" : "",
                  -xyz[3 * p], -xyz[3 * p + 1], xyz[3 * p + 2]);
    data += buf;
  }
  c->putAndInsertString(DCM_ContourData, data.c_str());
}

/* The oblique square: side 30 mm, its plane rotated 30 degrees about the
 * x axis (normal n = (0, -sin 30, cos 30)), the square turned 20 degrees
 * within its plane, centred at C; one contour per plane at t mm along n.
 * tilt != 0 turns the plane of the last contour by that many degrees more
 * (not parallel). */
const double CX = 2.0, CY = 12.0, CZ = 36.0, TH = 30.0, PH = 20.0;

void square_axes(double th_deg, double a[3], double b[3], double n[3])
{
  double th = th_deg * M_PI / 180.0, ph = PH * M_PI / 180.0;
  double e1[3] = {1, 0, 0}, e2[3] = {0, std::cos(th), std::sin(th)};
  for (int d = 0; d < 3; d++) {
    a[d] = std::cos(ph) * e1[d] + std::sin(ph) * e2[d];
    b[d] = -std::sin(ph) * e1[d] + std::cos(ph) * e2[d];
  }
  n[0] = 0.0;
  n[1] = -std::sin(th);
  n[2] = std::cos(th);
}

void oblique_square(DcmItem *roi, double t, double tilt)
{
  double a[3], b[3], n[3], xyz[12];
  const double sg[4][2] = {{-15, -15}, {15, -15}, {15, 15}, {-15, 15}};
  square_axes(TH + tilt, a, b, n);
  for (int p = 0; p < 4; p++) {
    double c[3] = {CX, CY, CZ};
    for (int d = 0; d < 3; d++)
      xyz[3 * p + d] = c[d] + t * n[d] + sg[p][0] * a[d] + sg[p][1] * b[d];
  }
  add_contour_xyz(roi, xyz, 4);
}

void circle(double ci, double cj, double rad, double *ij, size_t n)
{
  for (size_t p = 0; p < n; p++) {
    double a = 2.0 * M_PI * (double)p / (double)n;
    ij[2 * p] = ci + rad * std::cos(a);
    ij[2 * p + 1] = cj + rad * std::sin(a);
  }
}

bool write_rtstruct(const char *path, int variant)
{
  DcmFileFormat ff;
  DcmDataset *d = ff.getDataset();
  d->putAndInsertString(DCM_SOPClassUID, UID_RTStructureSetStorage);
  d->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.78");
  d->putAndInsertString(DCM_Modality, "RTSTRUCT");
  d->putAndInsertString(DCM_StructureSetLabel, "test");
  DcmItem *fr = nullptr;
  d->findOrCreateSequenceItem(DCM_ReferencedFrameOfReferenceSequence, fr, -2);
  fr->putAndInsertString(DCM_FrameOfReferenceUID, "1.2.3.4.77");
  DcmItem *sq = add_roi(d, 3, "square");
  DcmItem *rg = add_roi(d, 7, "ring");
  const double sqr[8] = {10.5, 20.5, 20.5, 20.5, 20.5, 30.5, 10.5, 30.5};
  for (int k = 0; k < 5; k++) add_contour(sq, sqr, 4, k);
  static double outer[2 * 720], inner[2 * 720];
  circle(40.3, 35.7, 20.0, outer, 720);
  circle(40.3, 35.7, 8.0, inner, 720);
  for (int k = 5; k < 10; k++) {
    add_contour(rg, outer, 720, k);
    add_contour(rg, inner, 720, k);
  }
  if (variant == 1) {  /* an oblique contour */
    DcmItem *bad = add_roi(d, 9, "tilted");
    add_contour(bad, sqr, 4, 2, 1.0);
  }
  if (variant == 3) {  /* a point far outside any body */
    DcmItem *bad = add_roi(d, 9, "far");
    const double farp[6] = {1e300, 0.0, 1.0, 0.0, 0.0, 1.0};
    add_contour(bad, farp, 3, 2);
  }
  if (variant == 4) {  /* the oblique square, 21 planes 1 mm apart */
    DcmItem *ob = add_roi(d, 11, "oblique");
    for (int t = -10; t <= 10; t++) oblique_square(ob, t, 0.0);
  }
  if (variant == 5) {  /* one contour turned 5 degrees more */
    DcmItem *ob = add_roi(d, 11, "skew");
    oblique_square(ob, 0.0, 0.0);
    oblique_square(ob, 2.0, 5.0);
  }
  if (variant == 2) {  /* NumberOfContourPoints disagrees */
    DcmItem *bad = add_roi(d, 9, "miscounted");
    add_contour(bad, sqr, 4, 2);
    DcmItem *c = nullptr;
    bad->findAndGetSequenceItem(DCM_ContourSequence, c, 0);
    c->putAndInsertString(DCM_NumberOfContourPoints, "5");
  }
  return ff.saveFile(path, EXS_LittleEndianExplicit).good();
}

} // namespace

int main()
{
  char dir[] = "/tmp/rk_test_rtstruct_XXXXXX", path[600];
  if (!mkdtemp(dir)) return 1;
  std::snprintf(path, sizeof path, "%s/rs.dcm", dir);
  ok(write_rtstruct(path, 0), "RTSTRUCT written by DCMTK");
  rkin_grid g;
  rkin_err e = {0, ""};
  rkin_grid_init(&g, 64, 64, 10, 1.0, 1.0, 2.0);
  g.origin[0] = OX;
  g.origin[1] = OY;
  g.origin[2] = OZ;
  size_t nv = rkin_grid_count(&g), n = 0, count = 0;
  static unsigned char m[64 * 64 * 10];

  rkin_rtstruct_roi rois[8];
  char fuid[80];
  ok(rkin_rtstruct_list(path, rois, 8, &n, fuid, &e) == 0, "list ROIs");
  ok(n == 2 && rois[0].number == 3 && !std::strcmp(rois[0].name, "square") &&
     rois[0].n_contours == 5 && rois[1].number == 7 &&
     !std::strcmp(rois[1].name, "ring") && rois[1].n_contours == 10,
     "two ROIs: square (5 contours), ring (10)");
  ok(!std::strcmp(fuid, "1.2.3.4.77"), "frame of reference %s", fuid);

  ok(rkin_rtstruct_mask(path, "square", &g, m, &count, &e) == 0,
     "square rasterised%s%s", e.code ? ": " : "", e.code ? e.msg : "");
  is_int((long)count, 500, "square: 5 slices x 100 voxels");
  {
    size_t per[10] = {0};
    for (size_t v = 0; v < nv; v++) per[v / 4096] += m[v];
    ok(per[0] == 100 && per[4] == 100 && per[5] == 0,
       "square: 100 mm^2 on slices 0..4, none on 5");
    /* the corners: centres 11..20 along i, 21..30 along j */
    ok(m[11 + 64 * 21] && m[20 + 64 * 30] && !m[10 + 64 * 21] &&
       !m[21 + 64 * 21] && !m[11 + 64 * 20] && !m[11 + 64 * 31],
       "square: exactly the centres inside its edges");
  }
  ok(rkin_rtstruct_mask(path, "7", &g, m, &count, &e) == 0,
     "ring by its ROINumber%s%s", e.code ? ": " : "", e.code ? e.msg : "");
  {
    double area = M_PI * (400.0 - 64.0);
    size_t per[10] = {0};
    for (size_t v = 0; v < nv; v++) per[v / 4096] += m[v];
    for (int k = 5; k < 10; k += 4)
      is_double((double)per[k], area, 0.015, "ring slice %d: %zu voxels vs "
                "pi (R^2 - r^2) = %.1f mm^2", k, per[k], area);
    ok(per[4] == 0, "ring: nothing on slice 4");
    ok(!m[40 + 64 * 36 + 4096 * 7], "ring: the hole's centre is outside");
    ok(m[40 + 64 * 22 + 4096 * 7], "ring: a point between the circles is in");
  }
  /* a grid of 1 mm slices: each takes the contour plane within 0.5 slice */
  {
    rkin_grid g1 = g;
    static unsigned char m1[64 * 64 * 20];
    g1.n[2] = 20;
    g1.spacing[2] = 1.0;
    int rc = rkin_rtstruct_mask(path, "square", &g1, m1, &count, &e);
    ok(rc == 0 && count == 900, "1 mm slices: square on the 9 slices 0..8 "
       "(%zu voxels)", count);
  }
  ok(rkin_rtstruct_mask(path, "liver", &g, m, &count, &e) < 0 &&
     std::strstr(e.msg, "'square'") && std::strstr(e.msg, "'ring'"),
     "unknown ROI lists the names: %s", e.msg);
  {
    rkin_grid far = g;
    far.origin[0] = 500.0;
    ok(rkin_rtstruct_mask(path, "square", &far, m, &count, &e) < 0 &&
       std::strstr(e.msg, "overlap"), "no overlap: %s", e.msg);
  }
  ok(write_rtstruct(path, 1) &&
     rkin_rtstruct_mask(path, "tilted", &g, m, &count, &e) < 0 &&
     std::strstr(e.msg, "contour 1 is not planar"),
     "a contour off any one plane: %s", e.msg);
  /* Oblique contours on a 64^3 grid of 1 mm: the stack of 21 squares of
   * 30 x 30 mm, planes 1 mm apart along n, each a slab of half-width
   * w = max(gap / 2, voxel extent along n / 2) = (sin 30 + cos 30) / 2 =
   * 0.683 mm; its volume 900 mm^2 x (20 + 2 w) mm to the lattice error
   * (1.5 %). */
  {
    rkin_grid go;
    static unsigned char mo[64 * 64 * 64];
    rkin_grid_init(&go, 64, 64, 64, 1.0, 1.0, 1.0);
    go.origin[0] = CX - 32.0;
    go.origin[1] = CY - 32.0;
    go.origin[2] = CZ - 32.0;
    double w = 0.5 * (std::sin(TH * M_PI / 180) + std::cos(TH * M_PI / 180));
    double vol = 900.0 * (20.0 + 2.0 * w);
    e.code = 0;
    e.msg[0] = '\0';
    ok(write_rtstruct(path, 4) &&
       rkin_rtstruct_mask(path, "oblique", &go, mo, &count, &e) == 0,
       "oblique square stack rasterised%s%s", e.code ? ": " : "",
       e.code ? e.msg : "");
    is_double((double)count, vol, 0.015, "oblique stack: %zu voxels vs "
              "900 mm^2 x %.3f mm = %.1f mm^3", count, 20.0 + 2.0 * w, vol);
    /* along the square's in-plane axis a from the centre (voxel 32, 32,
     * 32): 12 mm is inside, 18 mm outside; 9 mm along n inside, 12 mm
     * along n outside */
    double a[3], b[3], n[3];
    square_axes(TH, a, b, n);
    auto at = [&](double sa, double sn) {
      long i = std::lround(32 + sa * a[0] + sn * n[0]);
      long j = std::lround(32 + sa * a[1] + sn * n[1]);
      long k = std::lround(32 + sa * a[2] + sn * n[2]);
      return (int)mo[i + 64 * (j + 64 * k)];
    };
    ok(at(0, 0) && at(12, 0) && !at(18, 0) && at(-12, 0) && !at(-18, 0) &&
       at(0, 9) && !at(0, 12) && !at(0, -12),
       "oblique: in at 12 mm along the square's edge axis, out at 18; in "
       "at 9 mm along the normal, out at 12");
    /* contours of one ROI in planes that are not parallel */
    ok(write_rtstruct(path, 5) &&
       rkin_rtstruct_mask(path, "skew", &go, mo, &count, &e) < 0 &&
       std::strstr(e.msg, "contour 2 is not parallel to contour 1") &&
       std::strstr(e.msg, "5 degrees"), "non-parallel planes: %s", e.msg);
  }
  ok(write_rtstruct(path, 2) &&
     rkin_rtstruct_mask(path, "miscounted", &g, m, &count, &e) < 0 &&
     std::strstr(e.msg, "NumberOfContourPoints"), "point count: %s", e.msg);
  ok(write_rtstruct(path, 3) &&
     rkin_rtstruct_mask(path, "far", &g, m, &count, &e) < 0 &&
     std::strstr(e.msg, "within 1 km"), "a point 1e300 mm away: %s", e.msg);
  ok(rkin_rtstruct_mask("/nonexistent/rs.dcm", "x", &g, m, &count, &e) < 0 &&
     std::strstr(e.msg, "/nonexistent/rs.dcm"), "missing file named");
  unlink(path);
  rmdir(dir);
  done_testing();
  return exit_status();
}
