// YOLOv5's loss on the Detect outputs, with EARL: each target's CIoU and class terms are
// multiplied by its weight (the annotators' agreement).
//
// Targets are assigned per level to the anchors whose width and height ratios to the
// target are below anchor_t (4), in the target's cell and the two nearest neighbour cells
// (YOLOv5's offsets), in YOLOv5's order: offset, then anchor, then target. For each
// assignment: box term 1 - CIoU of the decoded box (2 sigmoid - 0.5, (2 sigmoid)^2 anchor);
// class term BCE of each class logit against one-hot on the class, or against the target's
// soft class probabilities (probs) where it has them; the objectness target is the CIoU,
// clamped at 0 and held constant (the last assignment to a cell wins); objectness is BCE
// over all cells, with the level balance [4, 1, 0.4]. Box and class terms are weighted
// means over the assignments of a level. Gains: box 0.05, cls 0.5 * classes / 80, obj
// (size / 640)^2, each times 3 / levels; the total is multiplied by the batch size.
#ifndef NN_LOSS_H
#define NN_LOSS_H

#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int image, cls;
    float x, y, w, h;        // centre and size, normalised to [0,1] by the input size
    float weight;            // EARL weight c (1 for plain training)
    const float *probs;      // (classes): soft class targets summing to 1, borrowed; NULL: one-hot on cls
} Target;

typedef struct {
    float anchor_t;          // 4.0
    float box_gain, cls_gain, obj_gain;   // 0.05, 0.5, 1.0 (before rescaling)
    int weight_obj;          // also weight the positive objectness targets
    const float *frozen_tobj[NET_LEVELS];   // tests only: objectness targets to hold fixed
    float *alpha;            // tests only: CIoU's alpha per assignment, recorded (hold_alpha 0)
    int hold_alpha;          // or reused (1), as the gradient holds it
    // Data-parallel training: the loss of the global batch, split over the processes. Each
    // normalises by the global batch's images and assignments, so that the processes'
    // gradients add up to the global batch's. 0: this batch's own (one process).
    int norm_batch;                      // images of the global batch
    int norm_assigned[NET_LEVELS];       // each level's assignments over the global batch
} LossOptions;

typedef struct {
    double box, obj, cls, total;
    int assigned;            // target-anchor-cell assignments over all levels
} LossParts;

void loss_defaults(LossOptions *o);

// The loss in parts, for Detect outputs that live on a GPU: the assignments and their box
// and class terms (few) on the host, the objectness over every cell on the device.
typedef struct {
    int b, a, gj, gi;        // image, anchor, cell row and column
    float tbox[4];           // target: offset within the cell (x, y) and size (w, h), grid units
    int cls;
    float weight;
    const float *probs;      // the target's soft class targets, or NULL (one-hot on cls)
} Assign;

typedef struct {
    Assign *as;              // every level's assignments, level after level
    int start[NET_LEVELS + 1];   // level l's are as[start[l] .. start[l+1])
    int per;                 // logits per assignment: 4 box + classes (when > 1)
    long *off;               // (n, per): their offsets in the level's Detect output
    float *val, *grad;       // (n, per): the logits and the loss gradient with respect to them
    long *cell;              // (n): the objectness cell, (b * anchors + a) * H * W + gj * W + gi
    float *tobj, *wobj;      // (n): its objectness target and weight (the last assignment wins)
    int cap;                 // assignments allocated
} LossSparse;

// YOLOv5's build_targets on every level: fills as, start, off and cell. -1 out of memory.
int loss_assign(const Net *net, const Target *t, int nt, const LossOptions *o, LossSparse *s);
// Each level's assignments of these targets (counts[l]), as loss_assign makes them; -1 out
// of memory. Summed over the processes, they are norm_assigned.
int loss_count_assigned(const Net *net, const Target *t, int nt, const LossOptions *o, int counts[NET_LEVELS]);
// The normalisers: the batch size, and level l's assignments given this batch's n.
static inline int loss_norm_batch(const Net *net, const LossOptions *o) { return o->norm_batch > 0 ? o->norm_batch : net->batch; }
static inline int loss_norm_assigned(const LossOptions *o, int l, int n) { return o->norm_batch > 0 ? o->norm_assigned[l] : n; }
// From the gathered logits (val): the box and class terms of the loss, their gradients
// (grad), and the objectness targets; adds the box and class parts (before gains) to lbox
// and lcls.
void loss_sparse_terms(const Net *net, const LossOptions *o, LossSparse *s, double *lbox, double *lcls);
// The gains that scale the loss parts: box, objectness (before the level balance) and class.
void loss_gains(const Net *net, const LossOptions *o, float gain[3]);
extern const float LOSS_BALANCE[NET_LEVELS];
void loss_sparse_free(LossSparse *s);

// Computes the loss of the current Detect outputs and writes their gradients into the
// Detect nodes' dout. tobj_out[l], when given, receives each level's objectness targets
// (B * anchors * H * W). Returns -1 when out of memory.
int yolo_loss(Net *net, const Target *t, int nt, const LossOptions *o, LossParts *parts, float *tobj_out[NET_LEVELS]);

#ifdef __cplusplus
}
#endif

#endif
