// train's data: records to letterboxed images and targets, and augmented batches
// (YOLOv5's mosaic and random scale/translate; no flips).
#ifndef TRAIN_DATA_H
#define TRAIN_DATA_H

#include <stdint.h>

#include "image.h"
#include "loss.h"
#include "record.h"
#include "rng.h"

typedef enum { TARGETS_OBJECTS, TARGETS_ANNOTATIONS, TARGETS_TRUTH, TARGETS_NONE } TargetField;   // NONE: images only
// The EARL weight of each object, and its class targets: one-hot on "label", or (the PROBS
// modes) its "probs" as soft targets.
//   VOTES: "votes"            CONF: "conf"            NONE: 1
//   PROBS: soft, "conf"       PROBS_EXISTS: soft, "exists"       EXISTS: one-hot, "exists"
typedef enum { WEIGHT_VOTES, WEIGHT_CONF, WEIGHT_NONE, WEIGHT_PROBS, WEIGHT_PROBS_EXISTS, WEIGHT_EXISTS } WeightMode;

// Whether the mode trains on the objects' "probs" (soft class targets).
static inline int weight_soft_targets(WeightMode m) { return m == WEIGHT_PROBS || m == WEIGHT_PROBS_EXISTS; }

typedef struct {
    float x1, y1, x2, y2;    // letterboxed pixels
    int cls;
    float weight;
    const float *probs;      // its row of the Dataset's probs, or NULL (one-hot on cls)
} BoxT;

typedef struct {
    int n, size, ch;
    uint8_t *pixels;         // n x ch x size x size, letterboxed
    int *start, *count;      // each image's boxes in `boxes`
    BoxT *boxes;
    long n_boxes;
    float *probs;            // soft targets, a row of n_classes (the model's class order) per box:
                             // NULL unless the weight mode reads "probs"
    int max_count;           // the most boxes of one image
    // the original frame of each image, for mapping detections back
    double *scale_x, *scale_y, *pad_x, *pad_y;
    json_t **records;        // the records (kept for predict-style output and truth)
    long *lines;             // each record's input line (blank lines counted), for messages
} Dataset;

typedef struct {
    TargetField field;
    WeightMode weight;
    const char *annotator;   // keep only this annotator's boxes (annotations)
    ImageSource images;      // where the images are, and the limits on reading them
    int size, ch;
    const char *check;       // TARGETS_NONE: a box field to validate all the same (val truth)
    // Data-parallel training: this process decodes its part of the images, the block
    // [n * part / parts, n * (part + 1) / parts), and then share() gives every process
    // every block (pixels and letterbox geometry). parts 0 or 1: all of them, here.
    int part, parts;
    int (*share)(void *ctx, Dataset *d, int parts);
    void *share_ctx;
} DataOptions;

// Reads records from fp. classes: the class names (sorted); when *n_classes is 0 they are
// collected from the targets (sorted) and returned: the labels and, when the weight mode
// reads "probs", every label that "probs" names (a class may be nobody's most likely one).
// Boxes of unknown classes are dropped; with given classes, a "probs" that names one
// outside them is an error. Each "probs" must hold finite numbers >= 0 summing to 1 within
// PROBS_SUM_TOL; they are divided by their sum.
#define PROBS_SUM_TOL 1e-4

int dataset_load(Dataset *d, FILE *fp, const char *name, const DataOptions *o, char ***classes, int *n_classes,
                 char *err, size_t errn);
void dataset_free(Dataset *d);

typedef struct {
    float mosaic;            // probability of a mosaic (1.0)
    float scale, translate;  // random affine ranges (0.5, 0.1)
} AugOptions;

// Fills x (B, ch, size, size) in [0,1] and the batch's targets (normalised centre/size,
// image = position in the batch). Returns the number of targets, or -1 when out of
// memory. With aug NULL the
// images are used as they are (validation).
int dataset_batch(const Dataset *d, const int *idx, int B, const AugOptions *aug, Rng *r, float *x, Target *t, int cap);
// Images [b0, b1) of that batch alone, into x (b1 - b0, ch, size, size), their targets'
// image counted from b0. The random numbers of the whole batch are drawn, in the same
// order, so that the processes of data-parallel training, each building its own part,
// build the parts of the batch one process would.
int dataset_batch_part(const Dataset *d, const int *idx, int B, int b0, int b1, const AugOptions *aug, Rng *r, float *x,
                       Target *t, int cap);

// k-means on the training boxes' widths and heights (1 - IoU of the sizes as the
// distance), 9 anchors sorted by area into the three levels. Returns -1 if < 9 boxes
// (or when out of memory): the caller keeps the default anchors.
int fit_anchors(const Dataset *d, float anchors[3][3][2], Rng *r);

#endif
