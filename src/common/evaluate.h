// Detection scoring exactly as pycocotools' COCOeval computes it for bounding boxes, area
// "all" and maxDets 100, one image per record. The scoring core of `score`, and of
// validation mAP in `train`.
//
// Per image and class: detections sorted by score (stable) and cut to 100, matched greedily
// to the unmatched truth with the highest IoU >= the threshold (capped at 1 - 1e-10; on
// equal IoU the later truth wins). Per class: detections of all images sorted by score
// (stable, images in the order they were added), precision tp / (tp + fp + 2^-52) made
// monotone from the right and read at the 101 recall points i * 0.01 (left search).
#ifndef MAD_EVALUATE_H
#define MAD_EVALUATE_H

#include <stdint.h>

#include "box.h"

enum { EVAL_MAX_THRESHOLDS = 32, EVAL_RECALL_POINTS = 101, EVAL_MAX_DETS = 100 };

typedef enum { AP_COCO, AP_VOC } ApMethod;

// One detection after the per-image matching.
typedef struct {
    double score;
    int image;
    uint32_t tp;       // bit t: matched at threshold t
} EvalDet;

typedef struct {
    char *label;
    EvalDet *dets;
    long n_dets, cap_dets;
    long n_truth;       // truth boxes of this class over all images
    long *truth_by_image;   // only for the bootstrap: per image (index, count) pairs
    long n_tbi, cap_tbi;
} EvalClass;

typedef struct {
    int n_thr;
    double thr[EVAL_MAX_THRESHOLDS];
    EvalClass *classes;
    int n_classes, cap_classes;
    long n_images;
    // scratch for the matching of one image
    void *scratch;
} EvalSet;

// An input box with its class label (borrowed) and score (1 for truth).
typedef struct {
    const char *label;
    int label_len;
    Box box;
    double score;
} EvalBox;

// Thresholds: the given list (ascending or not; up to EVAL_MAX_THRESHOLDS).
int eval_init(EvalSet *e, const double *thr, int n_thr);
void eval_free(EvalSet *e);
// The ten COCO thresholds 0.5:0.05:0.95, as numpy.linspace makes them.
void eval_coco_thresholds(double out[10]);

// Adds one image: its truth and detections. Returns -1 when out of memory.
int eval_add_image(EvalSet *e, const EvalBox *truth, int nt, const EvalBox *dets, int nd);

// Classes sorted by label (bytewise): the order of every per-class output and of the means.
void eval_sort_classes(EvalSet *e);

// AP of class k at threshold index t (COCO: mean of the 101 interpolated precisions;
// VOC: all-point area). Returns -1 when the class has no truth.
// With weights (per image; NULL = all 1) the counts are weighted, for the bootstrap.
// q, when not NULL, receives the 101 interpolated precisions (COCO only).
double eval_class_ap(const EvalSet *e, int k, int t, ApMethod m, const double *weights, double *q);

// Mean over classes with truth and over the thresholds in [t0, t1), as COCOeval's
// summarize computes it (numpy's pairwise sum over the (threshold, recall, class) values).
// only_class >= 0 restricts it to that class (its AP over the thresholds).
// Returns -1 when no class has truth.
double eval_mean_ap(const EvalSet *e, int t0, int t1, ApMethod m, const double *weights, int only_class);

// The label accuracy of one image's detections, whatever their labels: detections by
// descending score (stable), each matched to the unmatched truth box with the highest IoU
// >= iou_thr (the first on ties), of any label. Adds the matched pairs to *matched and
// those whose labels agree to *same. Returns -1 when out of memory.
int eval_label_matches(const EvalBox *truth, int nt, const EvalBox *dets, int nd, double iou_thr, long *matched,
                       long *same);

// The 101 recall points, as numpy.linspace(0, 1, 101) makes them.
double eval_recall_point(int i);

#endif
