/* dicom.h - DICOM images through DCMTK (dicom_io.cc, C++ behind this C
 * interface): one file holding a 3D volume (NM/SPECT multi-frame, RT Dose)
 * in, RT Dose out, RTSTRUCT contours rasterised to masks, NM activity
 * units and times.
 *
 * DICOM's patient coordinates are LPS; radiokin's images are RAS (NIfTI):
 * x and y change sign on the way in and out. A volume needs uniform slice
 * spacing along the normal of ImageOrientationPatient (slices given by
 * GridFrameOffsetVector (RT Dose) or SpacingBetweenSlices / SliceThickness
 * (NM)); anything else is an error naming the file and the tag. Values are
 * the stored integers times DoseGridScaling (RT Dose) or RescaleSlope plus
 * RescaleIntercept. */
#ifndef RKIN_DICOM_H
#define RKIN_DICOM_H

#ifdef __cplusplus
extern "C" {  /* the C headers below too: their functions have C linkage */
#endif

#include "core/err.h"
#include "image/image.h"

/* Reads an RT Dose or a multi-frame NM/SPECT (or any single-file
 * multi-frame) volume. frame_uid (may be NULL, >= 65 bytes) receives the
 * FrameOfReferenceUID ("" when absent). */
int rkin_dicom_read(const char *path, rkin_image *im, char *frame_uid,
                    rkin_err *err);

/* Reads a series of single-frame images (a CT series: one file per slice)
 * from every regular file in folder dir (names starting with '.' are
 * skipped; at most 4096 files). Every file must be an image with the same
 * SeriesInstanceUID, FrameOfReferenceUID, size, pixel spacing and
 * orientation; slices are ordered along the normal and must be uniformly
 * spaced; each slice's rescale slope and intercept are applied (HU for
 * CT). Errors name the file and what differs. */
int rkin_dicom_read_series(const char *dir, rkin_image *im, char *frame_uid,
                           rkin_err *err);

/* Writes dose (Gy, >= 0) as an RT Dose (physical dose, 3D grid, 32-bit
 * unsigned values, DoseGridScaling = max / (2^32 - 1): relative precision
 * 2.3e-10 of the maximum) in the frame of reference frame_uid (the CT's;
 * a new UID when NULL or empty). Atomic as the NIfTI writer. */
int rkin_dicom_write_rtdose(const char *path, const rkin_image *dose,
                            const char *frame_uid, rkin_err *err);
/* The same with a given SeriesInstanceUID (NULL or "": a new one), e.g.
 * to write one volume as several files of one series. */
int rkin_dicom_write_rtdose_series(const char *path, const rkin_image *dose,
                                   const char *frame_uid,
                                   const char *series_uid, rkin_err *err);

/* --- NM / SPECT: activity units and times for decay correction */

typedef struct {
  char units[17];             /* Units (0054,1001): "BQML", "CNTS", ... */
  char unit[24];              /* what rkin_dicom_read puts in im->unit:
                                 "Bq/mL" (BQML), "counts" (CNTS), else
                                 the DICOM code */
  char decay_correction[17];  /* DecayCorrection (0054,1102): "NONE",
                                 "START", "ADMIN", or "" */
  double acquisition_s;       /* acquisition start, seconds since
                                 1970-01-01 of the file's clock (UTC when
                                 the file gives an offset) */
  char acquisition_from[48];  /* the tags it came from */
  double injection_s;         /* RadiopharmaceuticalStartDateTime
                                 (0018,1078), else the StartTime (0018,1072)
                                 on the acquisition date; NAN when absent */
  int injection_date_assumed; /* 1: only the time was given */
  double hours_after_injection; /* (acquisition - injection) / 3600, or NAN */
  double total_dose_bq;       /* RadionuclideTotalDose (0018,1074), or NAN */
  double half_life_s;         /* RadionuclideHalfLife (0018,1075), or NAN */
  double frame_duration_s;    /* ActualFrameDuration (0018,1242), or NAN */
} rkin_dicom_nm_info;

/* Reads the tags above from an NM / PET / SPECT file. The acquisition
 * start comes from AcquisitionDateTime (0008,002A), else AcquisitionDate
 * (0008,0022) + AcquisitionTime (0008,0032), else SeriesDate + SeriesTime
 * (0008,0021/0031); none of them is an error naming the file and the tags
 * ("missing acquisition time"). A malformed date or time is an error
 * naming the tag and its value. An injection after the acquisition is
 * an error when the date was assumed (give the date). A NULL info is
 * RKIN_EINVAL with a message. */
int rkin_dicom_nm_info_read(const char *path, rkin_dicom_nm_info *info,
                            rkin_err *err);
/* Seconds since 1970-01-01 of a DICOM DA ("YYYYMMDD") and TM ("HH",
 * "HHMM", "HHMMSS", "HHMMSS.F..."), or of a DT ("YYYYMMDDHHMMSS.F&ZZXX",
 * trailing parts optional; with an offset the result is UTC). tm may be
 * NULL (midnight). Returns 0 and sets *s, or -1 when malformed. */
int rkin_dicom_datetime(const char *da, const char *tm, double *s);
int rkin_dicom_dt(const char *dt, double *s);

/* --- RTSTRUCT: contours of regions of interest rasterised to masks */

#define RKIN_RTSTRUCT_MAX_ROI 256
#define RKIN_RTSTRUCT_NAME_LEN 64

typedef struct {
  int number;                          /* ROINumber */
  char name[RKIN_RTSTRUCT_NAME_LEN];   /* ROIName */
  size_t n_contours;                   /* closed planar contours */
} rkin_rtstruct_roi;

/* The ROIs of an RTSTRUCT file (StructureSetROISequence with the
 * contours of ROIContourSequence): at most max, *n set; frame_uid (may be
 * NULL, >= 65 bytes) receives the structure set's frame of reference. */
int rkin_rtstruct_list(const char *path, rkin_rtstruct_roi *rois,
                       size_t max, size_t *n, char *frame_uid,
                       rkin_err *err);

/* Rasterises ROI `roi` (its ROIName, or its ROINumber written in
 * decimal) of an RTSTRUCT onto grid g: mask (rkin_grid_count(g) bytes)
 * gets 1 where a voxel's centre lies inside. The contours
 * (ContourGeometricType CLOSED_PLANAR; POINT and OPEN_PLANAR are skipped)
 * are in LPS (converted to RAS as the images). When they lie in planes of
 * constant k of the grid, each contour plane stands for a slab
 * as thick as the median spacing of the ROI's planes (at least one grid
 * slice), half-open [k - w, k + w), so a finer grid is filled between the
 * planes and the volume kept; a grid slice takes the plane whose slab
 * holds it, and a voxel is inside when a
 * ray from its centre crosses the plane's contours an odd number of times
 * (even-odd rule: an inner contour is a hole). Oblique contours (their
 * plane not a slice of the grid, e.g. drawn on a tilted acquisition) are
 * rasterised in their own plane: every contour must be planar (0.01 of the
 * smallest spacing) and parallel to the others; each plane is a slab
 * along its normal n of half-width max(median gap / 2, the voxel's extent
 * along n / 2), and a voxel centre is inside when its projection onto its
 * slab's plane is inside by the even-odd rule. count (may be NULL)
 * receives the voxels set. Errors name the file, the ROI and the contour:
 * an unknown ROI (listing the names), a non-planar contour, contours in
 * planes that are not parallel, fewer than 3 points or collinear ones, a
 * point count that disagrees with NumberOfContourPoints, no contour
 * inside the grid. */
int rkin_rtstruct_mask(const char *path, const char *roi, const rkin_grid *g,
                       unsigned char *mask, size_t *count, rkin_err *err);

/* --- SEG: segmentations as label maps (DCMTK's dcmseg) */

typedef struct {
  int number;          /* SegmentNumber, 1.. */
  char label[64];      /* SegmentLabel */
  size_t n_frames;     /* frames of the segment */
} rkin_seg_segment;

/* The segments of a DICOM SEG: at most max, *n set; frame_uid (may be
 * NULL, >= 65 bytes) its FrameOfReferenceUID. */
int rkin_dicom_seg_list(const char *path, rkin_seg_segment *segs,
                        size_t max, size_t *n, char *frame_uid,
                        rkin_err *err);

/* A DICOM SEG as a label map (is_label, values = segment numbers)
 * on the SEG's own geometry: PixelSpacing and ImageOrientationPatient
 * from the (shared) functional groups, each frame's ImagePositionPatient;
 * the frames must stack along the normal (one in-plane origin) at
 * uniform spacing (one frame: SpacingBetweenSlices, else SliceThickness,
 * else 1 mm); LPS -> RAS as every image. segment 0 reads every segment
 * (overlapping segments are an error naming both: read them one at a
 * time), k > 0 only segment k (its voxels = k). Errors name the file and
 * the tag or frame: not a SEG, an unknown segment (listing them), a
 * missing position, a shifted frame, non-uniform spacing, a segment
 * without voxels. A FRACTIONAL SEG (PROBABILITY or OCCUPANCY) sets a
 * voxel where its fraction, stored value / MaximumFractionalValue, is
 * >= 0.5 (rkin_dicom_read_seg_thr: >= threshold, in (0, 1]).
 * rkin_dicom_read reads a SEG this way (all segments). */
int rkin_dicom_read_seg(const char *path, int segment, rkin_image *im,
                        char *frame_uid, rkin_err *err);
int rkin_dicom_read_seg_thr(const char *path, int segment, double threshold,
                            rkin_image *im, char *frame_uid, rkin_err *err);

/* One segment of a SEG as a fractional map on the same geometry: stored
 * value / MaximumFractionalValue (0..1) for a FRACTIONAL SEG, 0 / 1 for a
 * BINARY one; segment 0 is allowed when the SEG holds one segment. ftype
 * (may be NULL, >= 16 bytes) receives "PROBABILITY", "OCCUPANCY" or
 * "BINARY". A stored value above the maximum is an error naming the
 * frame and pixel. */
int rkin_dicom_read_seg_fraction(const char *path, int segment,
                                 rkin_image *im, char *frame_uid, char *ftype,
                                 rkin_err *err);

#ifdef __cplusplus
}
#endif

#endif
