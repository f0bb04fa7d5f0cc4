// MED-MNIST canvases: MNIST digits rescaled and pasted on a black canvas.
#ifndef SIM_CANVAS_H
#define SIM_CANVAS_H

#include "box.h"
#include "idx.h"
#include "image.h"
#include "rng.h"

typedef struct {
    int width, height;        // canvas size in pixels
    int count_min, count_max; // digits per non-empty image
    int size_min, size_max;   // longer side of a digit's tight box, pixels
    double max_iou;           // largest IoU allowed between two digits' boxes
    double empty;             // probability that an image has no digit
    int from, to;             // digits [from, to) of the IDX file may be used
} CanvasParams;

typedef struct {
    Box box;       // tight around the pasted digit's pixels
    int label;     // 0..9
    int source;    // index of the digit in the IDX file
} Placed;

// Draws one canvas into im (allocated here, 1 channel) and its digits into out[0..max-1].
// A digit that finds no place within max_iou after 100 tries is left out.
// Returns the number of digits placed, or -1 when out of memory.
int canvas_compose(Rng *r, const Digits *d, const CanvasParams *cp, Image *im, Placed *out, int max);

// Tight box of the non-zero pixels of a w x h patch, as [x1,y1,x2,y2) pixel edges.
// Returns 0 when the patch is all zero.
int patch_tight_box(const uint8_t *px, int w, int h, int *x1, int *y1, int *x2, int *y2);

#endif
