/* segwrite.h - DICOM SEG files written through DCMTK's dcmseg API for the
 * tests of the SEG reader (test_seg.cc, test_errmsg_seg.cc) and the seed
 * corpus of its fuzz harness: one stack of frames, each a segment's
 * pixels at a position, shared orientation and pixel measures. */
#ifndef RKIN_TEST_SEGWRITE_H
#define RKIN_TEST_SEGWRITE_H

#include <cstdio>
#include <string>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>

/* A segment: its label and property type (SRT code, meaning). */
struct segw_segment {
  const char *label, *code, *meaning;
};

/* A frame: its segment (1-based, in segw_spec::segments' order), its
 * InStackPositionNumber (1..), ImagePositionPatient (LPS, mm, written as
 * %.6g) and rows x cols pixel values (BINARY: 0 or 1; FRACTIONAL:
 * 0..max_fraction), row by row. */
struct segw_frame {
  Uint16 segment;
  Uint32 stack_pos;
  double ipp[3];
  std::vector<Uint8> pix;
};

struct segw_spec {
  Uint16 rows, cols;
  /* DcmSegTypes::ST_BINARY, or ST_FRACTIONAL of fractional type ftype and
   * MaximumFractionalValue max_fraction */
  DcmSegTypes::E_SegmentationType type;
  DcmSegTypes::E_SegmentationFractionalType ftype;
  Uint8 max_fraction;
  const char *iop[6];        /* ImageOrientationPatient, row then column */
  const char *pixel_spacing; /* "between rows\\between columns", mm */
  const char *thickness;     /* SliceThickness, mm */
  std::vector<segw_segment> segments;
  std::vector<segw_frame> frames;
};

/* A BINARY SEG's Pixel Data as PS3.5 section 8.1.1 packs it: one bit
 * stream over all frames, least significant bit first, each frame
 * starting where the previous ended. DCMTK 3.6.7's writer starts every
 * frame on a byte and drops a frame's last partial byte, so when Rows x
 * Columns is no multiple of 8 its file is rewritten with this stream. */
static bool segw_pack_binary(const segw_spec &s, const char *path)
{
  size_t npix = (size_t)s.rows * s.cols, b = 0;
  std::vector<Uint8> bytes((s.frames.size() * npix + 7) / 8, 0);
  for (const segw_frame &fr : s.frames)
    for (size_t i = 0; i < npix; i++, b++)
      if (fr.pix[i]) bytes[b / 8] |= (Uint8)(1u << (b % 8));
  DcmFileFormat ff;
  return ff.loadFile(path).good() &&
         ff.getDataset()->putAndInsertUint8Array(DCM_PixelData, bytes.data(),
                                                 bytes.size()).good() &&
         ff.saveFile(path, EXS_LittleEndianExplicit).good();
}

/* Writes spec as a SEG file at path (FrameOfReferenceUID 1.2.3.4.55,
 * dimensions: segment number, then position); false when DCMTK refuses
 * any part. */
static bool segw_write(const segw_spec &s, const char *path)
{
  DcmSegmentation *seg = nullptr;
  IODGeneralEquipmentModule::EquipmentInfo eq("radiokin", "test", "1", "1");
  ContentIdentificationMacro ci("1", "SEG", "test segmentation", "radiokin");
  OFCondition st = s.type == DcmSegTypes::ST_FRACTIONAL
      ? DcmSegmentation::createFractionalSegmentation(
            seg, s.rows, s.cols, s.ftype, s.max_fraction, eq, ci)
      : DcmSegmentation::createBinarySegmentation(seg, s.rows, s.cols, eq,
                                                  ci);
  if (st.bad() || !seg) return false;
  CodeSequenceMacro cat("T-D0050", "SRT", "Tissue");
  std::vector<Uint16> num;
  bool good = true;
  for (const segw_segment &g : s.segments) {
    CodeSequenceMacro prop(g.code, "SRT", g.meaning);
    DcmSegment *sg = nullptr;
    Uint16 n = 0;
    DcmSegment::create(sg, g.label, cat, prop, DcmSegTypes::SAT_MANUAL);
    good = good && sg && seg->addSegment(sg, n).good();
    num.push_back(n);
  }
  FGPlaneOrientationPatient *po = FGPlaneOrientationPatient::createMinimal(
      s.iop[0], s.iop[1], s.iop[2], s.iop[3], s.iop[4], s.iop[5]);
  seg->addForAllFrames(*po);
  delete po;
  FGPixelMeasures pm;
  pm.setPixelSpacing(s.pixel_spacing);
  pm.setSliceThickness(s.thickness);
  seg->addForAllFrames(pm);
  seg->getFrameOfReference().setFrameOfReferenceUID("1.2.3.4.55");
  seg->getSeries().setSeriesNumber("1");
  for (size_t f = 0; f < s.frames.size() && good; f++) {
    const segw_frame &fr = s.frames[f];
    char b[3][32];
    for (int a = 0; a < 3; a++) std::snprintf(b[a], 32, "%.6g", fr.ipp[a]);
    if (fr.segment < 1 || fr.segment > num.size() ||
        fr.pix.size() != (size_t)s.rows * s.cols) {
      good = false;
      break;
    }
    Uint16 segno = num[fr.segment - 1];
    FGPlanePosPatient *pp = FGPlanePosPatient::createMinimal(b[0], b[1], b[2]);
    FGFrameContent fc;
    fc.setStackID("1");
    fc.setInStackPositionNumber(fr.stack_pos);
    fc.setDimensionIndexValues(segno, 0);
    fc.setDimensionIndexValues(fr.stack_pos, 1);
    OFVector<FGBase *> v;
    v.push_back(pp);
    v.push_back(&fc);
    /* addFrame copies the pixels; it takes them non-const */
    good = seg->addFrame(const_cast<Uint8 *>(fr.pix.data()), segno, v)
               .good();
    delete pp;
  }
  seg->getDimensions().addDimensionIndex(DCM_ReferencedSegmentNumber,
      "1.2.3.4.56", DCM_SegmentIdentificationSequence, "segment");
  seg->getDimensions().addDimensionIndex(DCM_ImagePositionPatient,
      "1.2.3.4.56", DCM_PlanePositionSequence, "position");
  good = good && seg->saveFile(path).good();
  delete seg;
  if (good && s.type == DcmSegTypes::ST_BINARY && (s.rows * s.cols) % 8)
    good = segw_pack_binary(s, path);
  return good;
}

#endif
