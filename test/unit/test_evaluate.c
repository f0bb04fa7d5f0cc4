// The scoring core against hand-computed COCOeval results.
#include <stdlib.h>

#include "check.h"
#include "evaluate.h"
#include "numpy.h"
#include "rng.h"

static const double EPS = 2.220446049250313e-16;

static EvalBox B(const char *label, double x1, double y1, double x2, double y2, double score) {
    return (EvalBox){ label, (int)strlen(label), { x1, y1, x2, y2 }, score };
}

static void set_up(EvalSet *e) {
    double thr[11];
    thr[0] = 0.4;
    eval_coco_thresholds(thr + 1);
    CHECK(eval_init(e, thr, 11) == 0);
}

// The mean of 101 equal precisions, as numpy computes it.
static double mean101(double v) {
    double q[101];
    for (int i = 0; i < 101; i++) q[i] = v;
    return numpy_sum(q, 101) / 101;
}

int main(void) {
    // Thresholds and recall points as numpy.linspace makes them.
    double thr[10];
    eval_coco_thresholds(thr);
    for (int k = 0; k < 9; k++) CHECK(thr[k] == k * 0.049999999999999996 + 0.5);
    CHECK(thr[9] == 0.95 && thr[5] == 0.75);
    for (int i = 0; i < 100; i++) CHECK(eval_recall_point(i) == i * 0.01);
    CHECK(eval_recall_point(100) == 1.0);

    EvalSet e;
    // A perfect score: precision 1/(1+eps) at every recall point.
    set_up(&e);
    EvalBox t1[] = { B("x", 1, 1, 5, 5, 1) }, d1[] = { B("x", 1, 1, 5, 5, 0.9) };
    CHECK(eval_add_image(&e, t1, 1, d1, 1) == 0);
    eval_sort_classes(&e);
    CHECK(eval_class_ap(&e, 0, 1, AP_COCO, NULL, NULL) == mean101(1.0 / (1.0 + EPS)));
    CHECK(eval_mean_ap(&e, 1, 2, AP_COCO, NULL, -1) == 0.9999999999999999);
    CHECK(eval_mean_ap(&e, 1, 11, AP_COCO, NULL, -1) < 1.0);
    CHECK_NEAR(eval_class_ap(&e, 0, 1, AP_VOC, NULL, NULL), 1.0, 0);
    eval_free(&e);

    // No detections: AP 0. No truth anywhere for a class: -1 (left out of the means).
    set_up(&e);
    EvalBox t2[] = { B("x", 1, 1, 5, 5, 1) }, d2[] = { B("y", 1, 1, 5, 5, 0.9) };
    CHECK(eval_add_image(&e, t2, 1, d2, 1) == 0);
    eval_sort_classes(&e);
    CHECK(e.n_classes == 2 && strcmp(e.classes[0].label, "x") == 0);
    CHECK(eval_class_ap(&e, 0, 1, AP_COCO, NULL, NULL) == 0.0);
    CHECK(eval_class_ap(&e, 1, 1, AP_COCO, NULL, NULL) == -1.0);   // "y": detections only
    CHECK(eval_mean_ap(&e, 1, 2, AP_COCO, NULL, -1) == 0.0);
    eval_free(&e);
    set_up(&e);
    CHECK(eval_add_image(&e, NULL, 0, d2, 1) == 0);
    eval_sort_classes(&e);
    CHECK(eval_mean_ap(&e, 1, 2, AP_COCO, NULL, -1) == -1.0);   // no class has truth
    eval_free(&e);

    // A false positive in an image without truth, scored above the true positive:
    // precision [0, 1/2] made monotone -> 1/2 at every recall point.
    set_up(&e);
    EvalBox d3[] = { B("x", 20, 20, 30, 30, 0.95) };
    CHECK(eval_add_image(&e, t1, 1, d1, 1) == 0);
    CHECK(eval_add_image(&e, NULL, 0, d3, 1) == 0);
    eval_sort_classes(&e);
    CHECK(eval_class_ap(&e, 0, 1, AP_COCO, NULL, NULL) == 0.5);
    CHECK(eval_class_ap(&e, 0, 1, AP_VOC, NULL, NULL) == 0.5);
    eval_free(&e);

    // A duplicate detection of one truth: the second is a false positive below the first.
    set_up(&e);
    EvalBox d4[] = { B("x", 1, 1, 5, 5, 0.9), B("x", 1, 1, 5, 5.2, 0.8) };
    CHECK(eval_add_image(&e, t1, 1, d4, 2) == 0);
    eval_sort_classes(&e);
    CHECK(eval_class_ap(&e, 0, 1, AP_COCO, NULL, NULL) == mean101(1.0 / (1.0 + EPS)));
    CHECK(e.classes[0].dets[0].tp == 0x7ff && e.classes[0].dets[1].tp == 0);
    eval_free(&e);

    // IoU exactly 0.5: a match at 0.5 (IoU >= threshold), not at 0.55 and above.
    set_up(&e);
    EvalBox t5[] = { B("x", 0, 0, 10, 10, 1) }, d5[] = { B("x", 0, 0, 10, 5, 0.9) };
    CHECK(eval_add_image(&e, t5, 1, d5, 1) == 0);
    eval_sort_classes(&e);
    CHECK(e.classes[0].dets[0].tp == 0x3);   // thresholds 0.4 and 0.5
    CHECK(eval_class_ap(&e, 0, 2, AP_COCO, NULL, NULL) == 0.0);
    double per_t[10 * 101] = { 0 };
    for (int r = 0; r < 101; r++) per_t[r] = 1.0 / (1.0 + EPS);
    CHECK(eval_mean_ap(&e, 1, 11, AP_COCO, NULL, -1) == numpy_sum(per_t, 1010) / 1010);
    eval_free(&e);

    // More than 100 detections in one image and class: only the 100 best count.
    set_up(&e);
    EvalBox many[150];
    for (int i = 0; i < 150; i++) many[i] = B("x", 50, 50, 60, 60, 0.9 - i * 0.001);
    many[149] = B("x", 1, 1, 5, 5, 0.5);          // the true match, ranked last: cut
    CHECK(eval_add_image(&e, t1, 1, many, 150) == 0);
    eval_sort_classes(&e);
    CHECK(e.classes[0].n_dets == 100);
    CHECK(eval_class_ap(&e, 0, 1, AP_COCO, NULL, NULL) == 0.0);
    eval_free(&e);
    set_up(&e);
    many[149] = B("x", 50, 50, 60, 60, 0.1);
    many[60] = B("x", 1, 1, 5, 5, 0.9 - 60 * 0.001);   // ranked 61st: kept and matched
    CHECK(eval_add_image(&e, t1, 1, many, 150) == 0);
    eval_sort_classes(&e);
    CHECK(eval_class_ap(&e, 0, 1, AP_COCO, NULL, NULL) == mean101(1.0 / (60.0 + 1.0 + EPS)));
    eval_free(&e);

    // Equal IoU with two truths: the later truth is matched, the earlier stays for the next.
    set_up(&e);
    EvalBox t6[] = { B("x", 0, 0, 10, 10, 1), B("x", 0, 0, 10, 10, 1) };
    EvalBox d6[] = { B("x", 0, 0, 10, 10, 0.9), B("x", 0, 0, 10, 10, 0.8) };
    CHECK(eval_add_image(&e, t6, 2, d6, 2) == 0);
    eval_sort_classes(&e);
    CHECK(e.classes[0].dets[0].tp == 0x7ff && e.classes[0].dets[1].tp == 0x7ff);
    eval_free(&e);

    // Property: shuffling record order and detection order (distinct scores) changes nothing.
    Rng g;
    rng_seed(&g, 23, 0);
    static const char *labels[] = { "a", "b", "c" };
    int mismatches = 0;
    for (int trial = 0; trial < 40; trial++) {
        enum { N = 30, MAXB = 12 };
        EvalBox tr[N][MAXB], de[N][MAXB];
        int nt[N], nd[N];
        for (int i = 0; i < N; i++) {
            nt[i] = rng_int(&g, 0, 5);
            nd[i] = rng_int(&g, 0, MAXB);
            for (int j = 0; j < nt[i]; j++) {
                double x = rng_range(&g, 0, 80), y = rng_range(&g, 0, 80);
                tr[i][j] = B(labels[rng_int(&g, 0, 2)], x, y, x + rng_range(&g, 5, 20), y + rng_range(&g, 5, 20), 1);
            }
            for (int j = 0; j < nd[i]; j++) {
                double x = rng_range(&g, 0, 80), y = rng_range(&g, 0, 80);
                if (nt[i] && rng_uniform(&g) < 0.6) {   // near a truth box
                    Box b = tr[i][rng_int(&g, 0, nt[i] - 1)].box;
                    x = b.x1 + rng_range(&g, -2, 2); y = b.y1 + rng_range(&g, -2, 2);
                }
                de[i][j] = B(labels[rng_int(&g, 0, 2)], x, y, x + rng_range(&g, 5, 20), y + rng_range(&g, 5, 20),
                             rng_uniform(&g));
            }
        }
        double ref[4] = { 0 };
        for (int pass = 0; pass < 3; pass++) {
            int order[N];
            for (int i = 0; i < N; i++) order[i] = i;
            if (pass) rng_shuffle_int(&g, order, N);
            set_up(&e);
            for (int o = 0; o < N; o++) {
                int i = order[o];
                EvalBox d[MAXB];
                int perm[MAXB];
                for (int j = 0; j < nd[i]; j++) perm[j] = j;
                if (pass) rng_shuffle_int(&g, perm, nd[i]);
                for (int j = 0; j < nd[i]; j++) d[j] = de[i][perm[j]];
                CHECK(eval_add_image(&e, tr[i], nt[i], d, nd[i]) == 0);
            }
            eval_sort_classes(&e);
            double v[4] = { eval_mean_ap(&e, 0, 1, AP_COCO, NULL, -1), eval_mean_ap(&e, 1, 2, AP_COCO, NULL, -1),
                            eval_mean_ap(&e, 1, 11, AP_COCO, NULL, -1), eval_mean_ap(&e, 1, 2, AP_VOC, NULL, -1) };
            if (pass == 0) memcpy(ref, v, sizeof v);
            else
                for (int q = 0; q < 4; q++) mismatches += v[q] != ref[q];
            eval_free(&e);
        }
    }
    CHECK(mismatches == 0);
    // Label accuracy: detections matched to truth whatever their labels, by descending
    // score, one to one. The "7" at 0.9 takes the first truth (IoU 1); the "1" at 0.8
    // overlaps the same truth more than the second one but it is taken, so it takes the
    // second (IoU 2/3) and its label agrees; the "3" at 0.7 finds nothing left.
    {
        EvalBox truth[] = { { "7", 1, { 0, 0, 10, 10 }, 1 }, { "1", 1, { 2, 0, 12, 10 }, 1 } };
        EvalBox dets[] = { { "3", 1, { 0, 0, 10, 10 }, 0.7 }, { "7", 1, { 0, 0, 10, 10 }, 0.9 }, { "1", 1, { 0, 0, 10, 10 }, 0.8 } };
        long matched = 0, same = 0;
        CHECK(eval_label_matches(truth, 2, dets, 3, 0.5, &matched, &same) == 0);
        CHECK(matched == 2 && same == 2);
        // a wrong label counts as matched, not correct; IoU below 0.5 matches nothing
        EvalBox wrong[] = { { "4", 1, { 0, 0, 10, 10 }, 0.9 }, { "1", 1, { 40, 40, 50, 50 }, 0.8 } };
        CHECK(eval_label_matches(truth, 2, wrong, 2, 0.5, &matched, &same) == 0);
        CHECK(matched == 3 && same == 2);
    }
    return check_report("evaluate");
}
