// YOLOv5's loss on the Detect outputs, with EARL: each target's CIoU and class terms are
// multiplied by its weight (the annotators' agreement).
//
// Targets are assigned per level to the anchors whose width and height ratios to the
// target are below anchor_t (4), in the target's cell and the two nearest neighbour cells
// (YOLOv5's offsets), in YOLOv5's order: offset, then anchor, then target. For each
// assignment: box term 1 - CIoU of the decoded box (2 sigmoid - 0.5, (2 sigmoid)^2 anchor);
// class term BCE against one-hot; the objectness target is the CIoU, clamped at 0 and
// held constant (the last assignment to a cell wins); objectness is BCE over all cells,
// with the level balance [4, 1, 0.4]. Box and class terms are weighted means over the
// assignments of a level. Gains: box 0.05, cls 0.5 * classes / 80, obj (size / 640)^2,
// each times 3 / levels; the total is multiplied by the batch size.
#ifndef NN_LOSS_H
#define NN_LOSS_H

#include "net.h"

typedef struct {
    int image, cls;
    float x, y, w, h;        // centre and size, normalised to [0,1] by the input size
    float weight;            // EARL weight c (1 for plain training)
} Target;

typedef struct {
    float anchor_t;          // 4.0
    float box_gain, cls_gain, obj_gain;   // 0.05, 0.5, 1.0 (before rescaling)
    int weight_obj;          // also weight the positive objectness targets
    const float *frozen_tobj[NET_LEVELS];   // tests only: objectness targets to hold fixed
    float *alpha;            // tests only: CIoU's alpha per assignment, recorded (hold_alpha 0)
    int hold_alpha;          // or reused (1), as the gradient holds it
} LossOptions;

typedef struct {
    double box, obj, cls, total;
    int assigned;            // target-anchor-cell assignments over all levels
} LossParts;

void loss_defaults(LossOptions *o);

// Computes the loss of the current Detect outputs and writes their gradients into the
// Detect nodes' dout. tobj_out[l], when given, receives each level's objectness targets
// (B * anchors * H * W). Returns -1 when out of memory.
int yolo_loss(Net *net, const Target *t, int nt, const LossOptions *o, LossParts *parts, float *tobj_out[NET_LEVELS]);

#endif
