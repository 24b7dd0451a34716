/* image.h - 3D images on a geometric grid: activity (concentration) maps,
 * CT numbers, dose maps and label maps, with their geometry; masks and
 * statistics over volumes of interest (VOIs).
 *
 * Geometry: voxel (i,j,k), i fastest in memory, has its centre at the
 * world point  x = origin + D diag(spacing) (i,j,k)^T  [mm], with D the
 * 3x3 direction matrix (column c is the unit vector of axis c; stored row
 * major). World coordinates are those of the file the image came from:
 * NIfTI's RAS+ scanner space (the sform, else the qform). Registration is
 * out of scope: images meant to be combined must share a frame of
 * reference, or the caller resamples through a rigid 4x4 transform.
 *
 * Voxel values are float. An image is a label map when `is_label` is set:
 * its values are integer region numbers (exact in float up to 2^24), it is
 * resampled by nearest neighbour and never summed. */
#ifndef RKIN_IMAGE_H
#define RKIN_IMAGE_H

#include <stddef.h>

#include "core/err.h"

/* The largest image accepted (512^3 voxels, 512 MB of floats): a header
 * claiming more is refused before anything is allocated. */
#define RKIN_IMAGE_MAX_VOXELS ((size_t)512 * 512 * 512)
/* Accepted voxel spacings, mm. */
#define RKIN_IMAGE_MIN_SPACING 1e-4
#define RKIN_IMAGE_MAX_SPACING 1e5
/* The largest |origin| accepted, mm (1,000 km). */
#define RKIN_IMAGE_MAX_ORIGIN 1e9

typedef struct {
  size_t n[3];          /* voxels along i, j, k (each >= 1) */
  double spacing[3];    /* voxel size along each axis, mm (> 0) */
  double origin[3];     /* world position of the centre of voxel (0,0,0), mm */
  double dir[9];        /* direction cosines, row major, orthonormal columns */
} rkin_grid;

typedef struct {
  rkin_grid g;
  float *v;             /* n[0] n[1] n[2] values, i fastest */
  int is_label;         /* 1: integer labels (nearest-neighbour resampling) */
  char unit[24];        /* free text ("Bq/mL", "HU", "Gy"); may be empty */
} rkin_image;

/* Identity direction, unit spacing, zero origin, n = (nx, ny, nz). */
void rkin_grid_init(rkin_grid *g, size_t nx, size_t ny, size_t nz,
                    double sx, double sy, double sz);
/* Checks dims (>= 1, product <= RKIN_IMAGE_MAX_VOXELS), spacing (finite,
 * within RKIN_IMAGE_MIN/MAX_SPACING), origin finite (and within
 * RKIN_IMAGE_MAX_ORIGIN) and direction
 * orthonormal (to 1e-4). `what` names the image in the message. */
int rkin_grid_check(const rkin_grid *g, const char *what, rkin_err *err);
size_t rkin_grid_count(const rkin_grid *g);
/* Voxel volume, mL (mm^3 / 1000). */
double rkin_grid_voxel_ml(const rkin_grid *g);
/* World point of the continuous index (fi, fj, fk), and back. */
void rkin_grid_to_world(const rkin_grid *g, const double ijk[3], double xyz[3]);
void rkin_grid_to_index(const rkin_grid *g, const double xyz[3], double ijk[3]);
/* 1 when both grids have the same dims and geometry (to 1e-4 mm). */
int rkin_grid_same(const rkin_grid *a, const rkin_grid *b);

/* Allocates an image on grid g, values zero. */
int rkin_image_alloc(rkin_image *im, const rkin_grid *g, rkin_err *err);
/* A deep copy. */
int rkin_image_copy(rkin_image *dst, const rkin_image *src, rkin_err *err);
void rkin_image_free(rkin_image *im);

/* Replaces negative values by 0 (reconstructed SPECT has them); returns
 * how many were clipped, so the caller can report it. Non-finite values
 * are an error naming the first voxel. */
int rkin_image_clip_negative(rkin_image *im, size_t *n_clipped,
                             rkin_err *err);

/* --- NIfTI-1 / NIfTI-2 (nifti_io.c, over Debian's nifticlib) */

/* Reads .nii or .nii.gz (or .hdr/.img), one 3D volume (a 4th dimension of
 * length 1 is accepted), any numeric type, scaled by scl_slope/scl_inter
 * when the slope is non-zero, spatial units converted to mm. The geometry
 * comes from the sform when its code is non-zero, else from the qform,
 * else from pixdim alone. Errors name the file and what was wrong. */
int rkin_nifti_read(const char *path, rkin_image *im, rkin_err *err);
/* Writes float32 voxels with sform = qform = the image's geometry (scanner
 * space, mm); version 1 or 2 selects NIfTI-1 or NIfTI-2; a path ending in
 * .gz is compressed. The file appears only complete (written beside it,
 * then renamed); an existing path that is not a regular file is refused. */
int rkin_nifti_write(const char *path, const rkin_image *im, int version,
                     rkin_err *err);

/* --- resampling (resample.c) */

typedef struct {
  double total_in;      /* activity (sum x voxel volume) of the source
                           voxels whose centres fall inside the target */
  double total_out;     /* activity of the result */
  double scale;         /* factor applied to conserve the total (1 if off) */
  size_t n_outside;     /* target voxels outside the source (set to 0) */
} rkin_resample_info;

/* Resamples src onto grid g (src and dst may not alias). A label map is
 * sampled at the nearest voxel; any other image trilinearly, its values
 * read as concentrations, and then (conserve != 0) scaled so the activity
 * in the target equals that of the source voxels inside it. xform, when
 * not NULL, is a rigid 4x4 row-major matrix taking target world points to
 * source world points. info may be NULL. */
int rkin_image_resample(const rkin_image *src, const rkin_grid *g,
                        const double *xform, int conserve, rkin_image *dst,
                        rkin_resample_info *info, rkin_err *err);

/* --- masks and VOI statistics (voi.c) */

/* mask[v] = 1 where the label map equals `label` (label > 0), or where it
 * is > 0 (label == 0: the union of every region). Returns the number of
 * voxels set through *count; a label found nowhere is RKIN_ENOTFOUND. */
int rkin_image_mask(const rkin_image *labels, int label, unsigned char *mask,
                    size_t *count, rkin_err *err);
/* mask[v] = 1 where lo <= value <= hi. */
int rkin_image_threshold(const rkin_image *im, double lo, double hi,
                         unsigned char *mask, size_t *count, rkin_err *err);

/* The mask grown (steps > 0) or shrunk (steps < 0) by |steps| voxels
 * across faces (6-connectivity; the grid's edge counts as outside when
 * shrinking), in place; *count (may be NULL) the voxels left. The
 * segmentation's one-voxel boundary uncertainty of a VOI's mean. */
int rkin_mask_grow(const rkin_grid *g, unsigned char *mask, int steps,
                   size_t *count, rkin_err *err);

typedef struct {
  size_t n;             /* voxels in the VOI */
  double volume_ml;
  double sum;           /* sum of values */
  double integral;      /* sum x voxel volume (activity for Bq/mL) */
  double mean, sd, min, max;
} rkin_voi_stats;

/* Statistics of im over mask (same grid, mask may be NULL for the whole
 * image). An empty mask is an RKIN_EINVAL error ("does not overlap"). */
int rkin_voi_stats_eval(const rkin_image *im, const unsigned char *mask,
                        rkin_voi_stats *out, rkin_err *err);

#endif
