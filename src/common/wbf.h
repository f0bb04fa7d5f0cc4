// Weighted Boxes Fusion (Solovyev et al.), computed exactly as weighted_boxes_fusion of
// ensemble-boxes 1.0.9 (with numpy 1.x) computes it, and majority vote over the same
// clusters. Coordinates here are normalised to [0,1] by the frame.
//
// The reference's arithmetic, kept here on purpose:
//   - a fused box is recomputed from its members each time one joins, in float32:
//     each coordinate accumulates float32(acc + s*x), the score is float32(sum s / n)
//     (or float32(max s)), the weight sum float32(sum w), and the coordinates are divided
//     by float32(sum s) in float32;
//   - a cluster of one box keeps that box's float64 values;
//   - the confidence rescaling is done in float64, with numpy's pairwise sums of weights;
//   - both sorts (boxes by score within a label, clusters by confidence) are the reverse
//     of numpy's default argsort, so ties fall where the reference puts them.
#ifndef MAD_WBF_H
#define MAD_WBF_H

#include <stdbool.h>

#include "box.h"

typedef enum {
    CONF_AVG,                     // mean(s*w) * min(M, n) / sum(w)
    CONF_MAX,                     // max(s*w) / max(w)
    CONF_BOX_AND_MODEL_AVG,       // mean(s*w) * n / sum(w in cluster) * sum(w of its sources) / sum(w)
    CONF_ABSENT_MODEL_AWARE_AVG,  // mean(s*w) * n / (sum(w in cluster) + sum(w of absent sources))
} ConfType;

typedef enum { FUSE_WBF, FUSE_MV } FuseMethod;

typedef struct {
    FuseMethod method;
    double iou_thr;        // a box joins a cluster when IoU > iou_thr (strictly)
    double skip_box_thr;   // boxes scoring below it are dropped; equal is kept
    ConfType conf_type;
    bool one_per_source;   // a source puts at most one box into a cluster
} WbfParams;

// One input box. `label` is any integer id for the box's label; `source` indexes the
// weights. Inputs are taken source by source (stable), as the reference takes its lists.
typedef struct {
    int label;
    int source;
    double score;
    Box box;               // normalised; may be inverted or outside [0,1] (repaired)
} WbfInput;

typedef struct {
    int label;
    double conf;
    Box box;               // normalised
    int n_members;         // boxes in the cluster
    int votes;             // distinct sources in the cluster
    int *members;          // indices into the input array, in the order they joined
} WbfCluster;

// Counts of the repairs the clean-up made.
typedef struct {
    long swapped;          // boxes with inverted corners, swapped
    long clamped;          // boxes with a coordinate outside [0,1], clamped
    long zero_area;        // boxes dropped for zero area
    long below_thr;        // boxes dropped for scoring below skip_box_thr
} WbfRepairs;

// Reusable memory for wbf_fuse; zero-initialise, free with wbf_free.
typedef struct {
    WbfCluster *clusters;
    int n_clusters;
    void *priv;            // scratch arrays
} WbfResult;

// Fuses n inputs from n_sources sources with the given weights (all > 0).
// Fills res->clusters sorted by descending confidence (ties: as the reference orders them,
// the later cluster first when there are at most 16).
// Returns 0, or -1 when out of memory.
int wbf_fuse(const WbfInput *in, int n, const double *weights, int n_sources, const WbfParams *p,
             WbfResult *res, WbfRepairs *rep);
void wbf_free(WbfResult *res);

#endif
