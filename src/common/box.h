// Box geometry. A box is [x1, y1, x2, y2] in pixels of its record's frame: corners, not
// centre and size. Areas are continuous (no +1 pixel convention), as pycocotools and
// ensemble-boxes compute them.
#ifndef MAD_BOX_H
#define MAD_BOX_H

#include <stdbool.h>

typedef struct {
    double x1, y1, x2, y2;
} Box;

// Width and height, 0 when the box is inverted on that axis.
double box_width(Box b);
double box_height(Box b);
double box_area(Box b);
// Area of the overlap of a and b (0 when they do not touch).
double box_intersection(Box a, Box b);
// Intersection over union; 0 when the union is empty.
double box_iou(Box a, Box b);
// True when all four coordinates are finite numbers.
bool box_is_finite(Box b);
// True when x1 > x2 or y1 > y2.
bool box_is_inverted(Box b);
// Swaps the corners of an inverted box; returns true when it swapped anything.
bool box_fix_order(Box *b);
// Clamps the box into [0,w] x [0,h]; returns true when any coordinate moved.
bool box_clamp(Box *b, double w, double h);
// A box in letterboxed pixels back in the record's w x h frame: x = (x' - pad_x) / scale_x
// (the scale includes any resize of the image file against the frame), then clamped to
// the frame. predict and train's validation share it.
Box box_from_letterbox(Box b, double scale_x, double scale_y, double pad_x, double pad_y, double w, double h);
// True when the box lies inside [0,w] x [0,h] (with tolerance tol pixels).
bool box_in_frame(Box b, double w, double h, double tol);
// Pixels <-> coordinates normalised by the frame (each in [0,1] for in-frame boxes);
// box_denormalise clamps its result to the frame, which rounding could overshoot.
Box box_normalise(Box b, double w, double h);
Box box_denormalise(Box b, double w, double h);
// Centre-size form (cx, cy, w, h) <-> corners.
void box_to_cxcywh(Box b, double out[4]);
Box box_from_cxcywh(const double in[4]);

#endif
