#include "box.h"

#include <math.h>

static double pos(double v) { return v > 0.0 ? v : 0.0; }

double box_width(Box b) { return pos(b.x2 - b.x1); }
double box_height(Box b) { return pos(b.y2 - b.y1); }
double box_area(Box b) { return box_width(b) * box_height(b); }

double box_intersection(Box a, Box b) {
    double w = fmin(a.x2, b.x2) - fmax(a.x1, b.x1);
    double h = fmin(a.y2, b.y2) - fmax(a.y1, b.y1);
    return pos(w) * pos(h);
}

double box_iou(Box a, Box b) {
    double inter = box_intersection(a, b);
    double uni = box_area(a) + box_area(b) - inter;
    return uni > 0.0 ? inter / uni : 0.0;
}

bool box_is_finite(Box b) {
    return isfinite(b.x1) && isfinite(b.y1) && isfinite(b.x2) && isfinite(b.y2);
}

bool box_is_inverted(Box b) { return b.x1 > b.x2 || b.y1 > b.y2; }

bool box_fix_order(Box *b) {
    bool swapped = false;
    if (b->x1 > b->x2) { double t = b->x1; b->x1 = b->x2; b->x2 = t; swapped = true; }
    if (b->y1 > b->y2) { double t = b->y1; b->y1 = b->y2; b->y2 = t; swapped = true; }
    return swapped;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

bool box_clamp(Box *b, double w, double h) {
    Box c = { clampd(b->x1, 0, w), clampd(b->y1, 0, h), clampd(b->x2, 0, w), clampd(b->y2, 0, h) };
    bool moved = c.x1 != b->x1 || c.y1 != b->y1 || c.x2 != b->x2 || c.y2 != b->y2;
    *b = c;
    return moved;
}

bool box_in_frame(Box b, double w, double h, double tol) {
    return b.x1 >= -tol && b.y1 >= -tol && b.x2 <= w + tol && b.y2 <= h + tol;
}

Box box_normalise(Box b, double w, double h) {
    return (Box){ b.x1 / w, b.y1 / h, b.x2 / w, b.y2 / h };
}

Box box_denormalise(Box b, double w, double h) {
    Box p = { b.x1 * w, b.y1 * h, b.x2 * w, b.y2 * h };
    box_clamp(&p, w, h);   // x / w * w can overshoot w by a rounding
    return p;
}

void box_to_cxcywh(Box b, double out[4]) {
    out[0] = 0.5 * (b.x1 + b.x2);
    out[1] = 0.5 * (b.y1 + b.y2);
    out[2] = b.x2 - b.x1;
    out[3] = b.y2 - b.y1;
}

Box box_from_cxcywh(const double in[4]) {
    return (Box){ in[0] - 0.5 * in[2], in[1] - 0.5 * in[3], in[0] + 0.5 * in[2], in[1] + 0.5 * in[3] };
}

Box box_from_letterbox(Box b, double scale_x, double scale_y, double pad_x, double pad_y, double w, double h) {
    Box f = { (b.x1 - pad_x) / scale_x, (b.y1 - pad_y) / scale_y, (b.x2 - pad_x) / scale_x, (b.y2 - pad_y) / scale_y };
    box_clamp(&f, w, h);
    return f;
}
