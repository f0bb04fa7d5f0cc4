// The simulator's pieces: transition matrices, label draws, box perturbation, tight boxes.
#include <stdlib.h>

#include "canvas.h"
#include "check.h"
#include "experts.h"

int main(void) {
    Rng r;
    rng_seed(&r, 3, 0);
    int dominant_rows = 0, low_rows = 0;
    for (int trial = 0; trial < 300; trial++) {
        ExpertParams ep = { 0.8, 0.5, 0.05 };
        double A[N_COLS][N_COLS];
        expert_draw_matrix(&r, &ep, A);
        for (int i = 0; i < N_COLS; i++) {
            double s = 0, off_max = 0;
            for (int j = 0; j < N_COLS; j++) {
                s += A[i][j];
                if (A[i][j] < 0) CHECK(0);
                if (j != i && A[i][j] > off_max) off_max = A[i][j];
            }
            CHECK_NEAR(s, 1.0, 1e-12);
            CHECK(A[i][i] >= 0.05 && A[i][i] <= 1.0);
            if (A[i][i] > 1.0 / 11) {
                dominant_rows++;
                if (!(off_max < A[i][i])) { CHECK(off_max < A[i][i]); }
            } else {
                // dominance impossible: the rest is spread evenly
                low_rows++;
                for (int j = 0; j < N_COLS; j++)
                    if (j != i) CHECK_NEAR(A[i][j], (1 - A[i][i]) / 10, 1e-12);
            }
        }
    }
    CHECK(dominant_rows > 0 && low_rows > 0);   // sigma 0.5 reaches both cases

    // sigma 0: the diagonal is p exactly
    ExpertParams exact = { 0.7, 0.0, 0.05 };
    double A[N_COLS][N_COLS];
    expert_draw_matrix(&r, &exact, A);
    for (int i = 0; i < N_COLS; i++) CHECK_NEAR(A[i][i], 0.7, 0);

    // label draws follow the row
    int counts[N_COLS] = { 0 };
    for (int t = 0; t < 200000; t++) counts[expert_draw_label(&r, A, 4)]++;
    for (int j = 0; j < N_COLS; j++) CHECK_NEAR(counts[j] / 200000.0, A[4][j], 0.005);
    for (int t = 0; t < 1000; t++) {
        int l = expert_draw_false_label(&r, A);
        if (l < 0 || l > 9) { CHECK(0); break; }
    }

    // perturbed boxes: IoU > p, inside the frame, never inverted
    Box truth = { 10, 20, 40, 60 };
    double mean_iou = 0;
    for (int t = 0; t < 5000; t++) {
        Box b = expert_perturb_box(&r, truth, 0.8, 0.1, 64, 64);
        double iou = box_iou(b, truth);
        if (!(iou > 0.8) || !box_in_frame(b, 64, 64, 0) || !(b.x1 < b.x2)) { CHECK(0); break; }
        mean_iou += iou / 5000;
    }
    CHECK(mean_iou < 0.95);   // really perturbed, not copies of the truth
    Box same = expert_perturb_box(&r, truth, 1.0, 0.1, 64, 64);
    CHECK(same.x1 == truth.x1 && same.y2 == truth.y2);

    // tight box of a patch
    uint8_t px[5 * 4] = { 0 };
    px[1 * 5 + 2] = 9; px[3 * 5 + 3] = 1;
    int x1, y1, x2, y2;
    CHECK(patch_tight_box(px, 5, 4, &x1, &y1, &x2, &y2) == 1);
    CHECK(x1 == 2 && y1 == 1 && x2 == 4 && y2 == 4);
    memset(px, 0, sizeof px);
    CHECK(patch_tight_box(px, 5, 4, &x1, &y1, &x2, &y2) == 0);

    // canvases: boxes inside, tight, sizes in range, overlaps bounded, deterministic
    Digits d = { 20, 28, 28, calloc(20 * 784, 1), malloc(20) };
    for (int k = 0; k < 20; k++) {
        d.labels[k] = (uint8_t)(k % 10);
        for (int y = 6 + k % 3; y < 22; y++)
            for (int x = 9; x < 19 - k % 4; x++) d.pixels[k * 784 + y * 28 + x] = 200;
    }
    CanvasParams cp = { 96, 96, 1, 6, 8, 30, 0.1, 0.0, 0, 20 };
    for (int t = 0; t < 50; t++) {
        Image im;
        Placed p[16];
        Rng a, b;
        rng_seed(&a, 9, (uint64_t)t);
        rng_seed(&b, 9, (uint64_t)t);
        int n = canvas_compose(&a, &d, &cp, &im, p, 16);
        Image im2;
        Placed p2[16];
        int n2 = canvas_compose(&b, &d, &cp, &im2, p2, 16);
        CHECK(n >= 1 && n <= 6 && n == n2);
        CHECK(memcmp(im.data, im2.data, 96 * 96) == 0);
        for (int i = 0; i < n; i++) {
            double side = fmax(box_width(p[i].box), box_height(p[i].box));
            CHECK(side >= 8 && side <= 30);
            CHECK(box_in_frame(p[i].box, 96, 96, 0));
            CHECK(p[i].label == d.labels[p[i].source]);
            // tight: every edge row and column of the box holds a lit pixel
            int top = 0, left = 0;
            for (int x = (int)p[i].box.x1; x < (int)p[i].box.x2; x++) top |= im.data[(int)p[i].box.y1 * 96 + x] > 0;
            for (int y = (int)p[i].box.y1; y < (int)p[i].box.y2; y++) left |= im.data[y * 96 + (int)p[i].box.x1] > 0;
            CHECK(top && left);
            for (int j = 0; j < i; j++) CHECK(box_iou(p[i].box, p[j].box) <= 0.1);
        }
        image_free(&im);
        image_free(&im2);
    }
    idx_free_digits(&d);
    return check_report("simulate");
}
