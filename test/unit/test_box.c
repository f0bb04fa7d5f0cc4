// Box geometry against hand-computed values.
#include "box.h"
#include "check.h"

// Undoing a letterbox: a 200 x 100 frame letterboxed into 128 x 128 (scale 0.64, pad 32 on y).
static void test_box_from_letterbox(void) {
    Box b = box_from_letterbox((Box){ 6.4, 38.4, 70.4, 96.0 }, 0.64, 0.64, 0, 32, 200, 100);
    CHECK_NEAR(b.x1, 10, 1e-12); CHECK_NEAR(b.y1, 10, 1e-12); CHECK_NEAR(b.x2, 110, 1e-12); CHECK_NEAR(b.y2, 100, 1e-12);
    // past the frame: clamped to it
    b = box_from_letterbox((Box){ -10, 20, 140, 127 }, 0.64, 0.64, 0, 32, 200, 100);
    CHECK(b.x1 == 0 && b.y1 == 0 && b.x2 == 200 && b.y2 == 100);
}

int main(void) {
    test_box_from_letterbox();
    Box a = { 0, 0, 10, 10 }, b = { 5, 5, 15, 15 };
    CHECK_NEAR(box_area(a), 100, 0);
    CHECK_NEAR(box_intersection(a, b), 25, 0);
    CHECK_NEAR(box_iou(a, b), 25.0 / 175.0, 1e-15);
    CHECK_NEAR(box_iou(a, a), 1.0, 0);
    // touching edges: no overlap
    CHECK_NEAR(box_iou(a, (Box){ 10, 0, 20, 10 }), 0.0, 0);
    // contained box: IoU = small area / big area
    CHECK_NEAR(box_iou(a, (Box){ 2, 2, 4, 7 }), 10.0 / 100.0, 1e-15);
    // fractional coordinates: inter 1.5 x 2.5 = 3.75, union 6 + 12 - 3.75
    CHECK_NEAR(box_iou((Box){ 0.5, 0.5, 2.5, 3.5 }, (Box){ 1.0, 1.0, 4.0, 5.0 }), 3.75 / 14.25, 1e-15);
    // empty boxes
    CHECK_NEAR(box_iou((Box){ 1, 1, 1, 1 }, (Box){ 1, 1, 1, 1 }), 0.0, 0);
    CHECK_NEAR(box_area((Box){ 5, 5, 1, 9 }), 0.0, 0);

    Box inv = { 10, 8, 2, 3 };
    CHECK(box_is_inverted(inv));
    CHECK(box_fix_order(&inv));
    CHECK(inv.x1 == 2 && inv.y1 == 3 && inv.x2 == 10 && inv.y2 == 8);
    CHECK(!box_fix_order(&inv));

    Box out = { -3, 2, 140, 200 };
    CHECK(!box_in_frame(out, 128, 128, 0));
    CHECK(box_clamp(&out, 128, 128));
    CHECK(out.x1 == 0 && out.y1 == 2 && out.x2 == 128 && out.y2 == 128);
    CHECK(box_in_frame(out, 128, 128, 0));
    CHECK(!box_clamp(&out, 128, 128));

    Box n = box_normalise((Box){ 32, 16, 64, 48 }, 128, 64);
    CHECK_NEAR(n.x1, 0.25, 0); CHECK_NEAR(n.y1, 0.25, 0);
    CHECK_NEAR(n.x2, 0.5, 0); CHECK_NEAR(n.y2, 0.75, 0);
    Box back = box_denormalise(n, 128, 64);
    CHECK(back.x1 == 32 && back.y1 == 16 && back.x2 == 64 && back.y2 == 48);
    // a fused edge a rounding past the frame comes back on it
    Box edge = box_denormalise((Box){ 0.25, 0.5, 1 + 1e-12, 1 + 1e-12 }, 128, 64);
    CHECK(edge.x2 == 128 && edge.y2 == 64 && edge.x1 == 32 && edge.y1 == 32);

    double c[4];
    box_to_cxcywh((Box){ 10, 20, 30, 60 }, c);
    CHECK(c[0] == 20 && c[1] == 40 && c[2] == 20 && c[3] == 40);
    Box r = box_from_cxcywh(c);
    CHECK(r.x1 == 10 && r.y1 == 20 && r.x2 == 30 && r.y2 == 60);

    CHECK(box_is_finite(a));
    CHECK(!box_is_finite((Box){ 0, NAN, 1, 1 }));
    CHECK(!box_is_finite((Box){ 0, 0, INFINITY, 1 }));
    return check_report("box");
}
