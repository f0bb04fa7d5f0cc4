// Model files: the network's parameters as a safetensors file, with metadata that holds
// the architecture, class names, input size, anchors and training arguments.
#ifndef NN_MODEL_H
#define NN_MODEL_H

#include <jansson.h>

#include "net.h"

typedef struct {
    Net net;
    char **classes;        // class names, sorted (index = class id)
    int n_classes;
    json_t *args;          // training arguments (may be NULL)
} Model;

// Writes `weights` (the net's layout; params or their EMA) and the metadata atomically.
int model_save(const char *path, const Model *m, const float *weights, const char *preset, char *err, size_t errn);
// Reads a model file: builds the net and fills its parameters. Returns -1 with err.
int model_load(const char *path, Model *m, char *err, size_t errn);
void model_free(Model *m);

// Detections of one image of the last forward pass (eval mode), in input pixels.
typedef struct {
    float x1, y1, x2, y2, score;
    int cls;
} Det;

// Decodes image b's Detect outputs: score = objectness x best class probability, kept
// above conf_thr, then class-wise non-maximum suppression at iou_thr, best max_det first.
// Returns the number written to out (at most cap).
int detect_boxes(const Net *net, int b, float conf_thr, float iou_thr, int max_det, Det *out, int cap);

#endif
