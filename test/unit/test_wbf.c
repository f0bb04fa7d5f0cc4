// Weighted Boxes Fusion: hand-computed cases for every conf_type, the reference's edge
// cases, majority vote, and properties on random inputs.
#include <stdlib.h>

#include "check.h"
#include "numpy.h"
#include "rng.h"
#include "wbf.h"

static WbfParams params(ConfType ct, double iou) { return (WbfParams){ FUSE_WBF, iou, 0.0, ct, false }; }

// Three clusters over two sources with weights 2 and 1 (label 1: two clusters; label 0: one).
static const WbfInput THREE[] = {
    { 1, 0, 0.9, { 0.10, 0.10, 0.50, 0.50 } }, { 1, 0, 0.8, { 0.11, 0.11, 0.51, 0.51 } },
    { 1, 0, 0.7, { 0.60, 0.60, 0.80, 0.80 } }, { 1, 1, 0.85, { 0.59, 0.59, 0.79, 0.79 } },
    { 1, 1, 0.75, { 0.61, 0.61, 0.81, 0.81 } }, { 0, 1, 0.65, { 0.80, 0.80, 0.90, 0.90 } },
};

static const WbfCluster *find(const WbfResult *r, int label, double x1) {
    for (int i = 0; i < r->n_clusters; i++)
        if (r->clusters[i].label == label && fabs(r->clusters[i].box.x1 - x1) < 0.02) return &r->clusters[i];
    return NULL;
}

// Fuses THREE with source weights w0, w1 and checks boxes and confidences.
static void check_three(ConfType ct, double w0, double w1, double c_a, double c_b, double c_c) {
    double w[2] = { w0, w1 };
    WbfResult r = { 0 };
    WbfRepairs rep = { 0 };
    WbfParams p = params(ct, 0.5);
    CHECK(wbf_fuse(THREE, 6, w, 2, &p, &r, &rep) == 0);
    CHECK(r.n_clusters == 3);
    const WbfCluster *a = find(&r, 1, 0.60), *b = find(&r, 1, 0.10), *c = find(&r, 0, 0.80);
    CHECK(a && b && c);
    if (!a || !b || !c) return;
    // boxes: score*weight-weighted means of the members (float32 in the reference)
    double sa = 0.7 * w0 + 0.85 * w1 + 0.75 * w1;   // cluster b has one source: its weight cancels
    CHECK_NEAR(a->box.x1, (0.60 * 0.7 * w0 + 0.59 * 0.85 * w1 + 0.61 * 0.75 * w1) / sa, 1e-6);
    CHECK_NEAR(a->box.x2, (0.80 * 0.7 * w0 + 0.79 * 0.85 * w1 + 0.81 * 0.75 * w1) / sa, 1e-6);
    CHECK_NEAR(b->box.y1, (0.10 * 0.9 + 0.11 * 0.8) / 1.7, 1e-6);
    CHECK_NEAR(b->box.y2, (0.50 * 0.9 + 0.51 * 0.8) / 1.7, 1e-6);
    CHECK(c->box.x1 == 0.80 && c->box.y2 == 0.90);   // a lone box keeps its float64 values
    CHECK(a->n_members == 3 && a->votes == 2 && b->n_members == 2 && b->votes == 1 && c->votes == 1);
    CHECK_NEAR(a->conf, c_a, 1e-6);
    CHECK_NEAR(b->conf, c_b, 1e-6);
    CHECK_NEAR(c->conf, c_c, 1e-12);
    // sorted by descending confidence
    for (int i = 1; i < r.n_clusters; i++) CHECK(r.clusters[i - 1].conf >= r.clusters[i].conf);
    wbf_free(&r);
}

int main(void) {
    // Unequal weights 2 and 1 (sum 3, max 2), M = 2 sources.
    // avg: mean(s*w) * min(M, n) / sum(w)
    check_three(CONF_AVG, 2, 1, (0.7 * 2 + 0.85 + 0.75) / 3 * 2 / 3, (0.9 * 2 + 0.8 * 2) / 2 * 2 / 3, 0.65 / 3);
    // max: max(s*w) / max(w)
    check_three(CONF_MAX, 2, 1, 1.4 / 2, 1.8 / 2, 0.65 / 2);
    // box_and_model_avg: mean(s*w) * n / sum(w in cluster) * sum(w of its sources) / sum(w)
    check_three(CONF_BOX_AND_MODEL_AVG, 2, 1, (0.7 * 2 + 0.85 + 0.75) / 4 * 3 / 3, (0.9 * 2 + 0.8 * 2) / 4 * 2 / 3,
                0.65 / 1 * 1 / 3);
    // absent_model_aware_avg: mean(s*w) * n / (sum(w in cluster) + sum(w of absent sources))
    check_three(CONF_ABSENT_MODEL_AWARE_AVG, 2, 1, (0.7 * 2 + 0.85 + 0.75) / 4, (0.9 * 2 + 0.8 * 2) / (4 + 1),
                0.65 / (1 + 2));
    // Equal weights 1 and 1 (sum 2, max 1).
    check_three(CONF_AVG, 1, 1, (0.7 + 0.85 + 0.75) / 3 * 2 / 2, (0.9 + 0.8) / 2 * 2 / 2, 0.65 / 2);
    check_three(CONF_MAX, 1, 1, 0.85, 0.9, 0.65);
    check_three(CONF_BOX_AND_MODEL_AVG, 1, 1, (0.7 + 0.85 + 0.75) / 3 * 3 / 3 * 2 / 2, (0.9 + 0.8) / 2 * 2 / 2 * 1 / 2,
                0.65 * 1 / 1 * 1 / 2);
    check_three(CONF_ABSENT_MODEL_AWARE_AVG, 1, 1, (0.7 + 0.85 + 0.75) / 3 * 3 / 3, (0.9 + 0.8) / 2 * 2 / (2 + 1),
                0.65 * 1 / (1 + 1));

    WbfResult r = { 0 };
    WbfRepairs rep = { 0 };
    double eq[3] = { 1, 1, 1 };

    // Equal weights, scores 1: conf is the share of annotators, votes their number.
    {
        WbfInput in[] = { { 0, 0, 1, { .1, .1, .3, .3 } }, { 0, 1, 1, { .11, .1, .31, .3 } },
                          { 0, 2, 1, { .1, .12, .3, .32 } }, { 0, 0, 1, { .6, .6, .7, .7 } },
                          { 0, 1, 1, { .6, .61, .7, .71 } } };
        WbfParams p = params(CONF_AVG, 0.4);
        CHECK(wbf_fuse(in, 5, eq, 3, &p, &r, &rep) == 0);
        CHECK(r.n_clusters == 2);
        CHECK(r.clusters[0].conf == 1.0 && r.clusters[0].votes == 3);
        CHECK_NEAR(r.clusters[1].conf, 2.0 / 3.0, 1e-15);
        CHECK(r.clusters[1].votes == 2);
        // x1 of the first cluster, in the reference's float32 steps: members join in the
        // order in[2], in[1], in[0] (equal scores: later input first)
        float acc = (float)(0.0 + 1.0 * 0.1);
        acc = (float)((double)acc + 1.0 * 0.11);
        acc = (float)((double)acc + 1.0 * 0.1);
        CHECK(r.clusters[0].box.x1 == (double)(acc / 3.0f));
        CHECK(r.clusters[0].members[0] == 2 && r.clusters[0].members[1] == 1 && r.clusters[0].members[2] == 0);
    }

    // The same-source duplicate (ensemble-boxes issue #40): one annotator's two boxes make a
    // "full agreement" cluster in plain WBF; --one-per-annotator keeps them apart.
    {
        WbfInput in[] = { { 0, 0, 1, { .1, .1, .3, .3 } }, { 0, 0, 1, { .11, .11, .31, .31 } } };
        WbfParams p = params(CONF_AVG, 0.4);
        CHECK(wbf_fuse(in, 2, eq, 2, &p, &r, &rep) == 0);
        CHECK(r.n_clusters == 1 && r.clusters[0].conf == 1.0 && r.clusters[0].votes == 1 && r.clusters[0].n_members == 2);
        p.one_per_source = true;
        CHECK(wbf_fuse(in, 2, eq, 2, &p, &r, &rep) == 0);
        CHECK(r.n_clusters == 2 && r.clusters[0].conf == 0.5 && r.clusters[1].conf == 0.5);
    }

    // An IoU exactly at the threshold is not fused; just above it is.
    {
        WbfInput in[] = { { 0, 0, 1, { 0, 0, .5, .5 } }, { 0, 1, 1, { 0, 0, .5, .25 } } };   // IoU 0.5 exactly
        WbfParams p = params(CONF_AVG, 0.5);
        CHECK(wbf_fuse(in, 2, eq, 2, &p, &r, &rep) == 0);
        CHECK(r.n_clusters == 2);
        p.iou_thr = 0.4999999;
        CHECK(wbf_fuse(in, 2, eq, 2, &p, &r, &rep) == 0);
        CHECK(r.n_clusters == 1);
    }

    // Ties in score: the later input is taken first, and among equal confidences the later
    // cluster comes first.
    {
        WbfInput in[] = { { 0, 0, .5, { 0, 0, .1, .1 } }, { 0, 1, .5, { .5, .5, .6, .6 } } };
        WbfParams p = params(CONF_AVG, 0.4);
        CHECK(wbf_fuse(in, 2, eq, 2, &p, &r, &rep) == 0);
        CHECK(r.n_clusters == 2 && r.clusters[0].members[0] == 0 && r.clusters[1].members[0] == 1);
        // equal scores, both overlapping a first box: the later one founds the cluster
        WbfInput tie[] = { { 0, 0, .5, { 0, 0, .2, .2 } }, { 0, 1, .5, { 0, 0, .2, .21 } } };
        CHECK(wbf_fuse(tie, 2, eq, 2, &p, &r, &rep) == 0);
        CHECK(r.n_clusters == 1 && r.clusters[0].members[0] == 1 && r.clusters[0].members[1] == 0);
    }

    // Empty input, and no sources at all.
    {
        WbfParams p = params(CONF_AVG, 0.4);
        CHECK(wbf_fuse(NULL, 0, eq, 3, &p, &r, &rep) == 0 && r.n_clusters == 0);
        CHECK(wbf_fuse(NULL, 0, NULL, 0, &p, &r, &rep) == 0 && r.n_clusters == 0);
    }

    // Boxes on and over the border: clamped, swapped, or dropped for zero area.
    {
        WbfRepairs rr = { 0 };
        WbfInput in[] = { { 0, 0, 1, { 0, 0, 1, 1 } },          // the whole frame: kept as is
                          { 1, 0, 1, { -.2, .5, .3, 1.4 } },     // clamped
                          { 2, 0, 1, { .4, .3, .1, .2 } },       // inverted: swapped
                          { 3, 0, 1, { 1.0, .2, 1.3, .4 } },     // clamped to zero width: dropped
                          { 4, 0, .2, { .1, .1, .2, .2 } },      // score equal to skip_box_thr: kept
                          { 5, 0, .1, { .1, .1, .2, .2 } } };    // below it: dropped
        WbfParams p = params(CONF_AVG, 0.4);
        p.skip_box_thr = 0.2;
        CHECK(wbf_fuse(in, 6, eq, 1, &p, &r, &rr) == 0);
        CHECK(r.n_clusters == 4);
        CHECK(rr.clamped == 2 && rr.swapped == 1 && rr.zero_area == 1 && rr.below_thr == 1);
        for (int i = 0; i < r.n_clusters; i++) {
            Box b = r.clusters[i].box;
            CHECK(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= 1 && b.y2 <= 1 && b.x1 < b.x2 && b.y1 < b.y2);
            if (r.clusters[i].label == 1) CHECK(b.x1 == 0 && b.y2 == 1);
            if (r.clusters[i].label == 2) CHECK(b.x1 == .1 && b.y1 == .2 && b.x2 == .4 && b.y2 == .3);
        }
    }

    // Majority vote: clusters with more than half of the sources, box = plain mean.
    {
        WbfInput in[] = { { 0, 0, 1, { .1, .1, .3, .3 } }, { 0, 1, 1, { .12, .1, .32, .3 } },
                          { 0, 2, 1, { .6, .6, .7, .7 } } };
        WbfParams p = { FUSE_MV, 0.4, 0.0, CONF_AVG, false };
        CHECK(wbf_fuse(in, 3, eq, 3, &p, &r, &rep) == 0);
        CHECK(r.n_clusters == 1);
        CHECK_NEAR(r.clusters[0].conf, 2.0 / 3.0, 1e-15);
        CHECK_NEAR(r.clusters[0].box.x1, 0.11, 1e-15);
        CHECK_NEAR(r.clusters[0].box.x2, 0.31, 1e-15);
    }

    // numpy's pairwise sum: sequential below 8 terms, 8 accumulators above.
    {
        double a[20];
        for (int i = 0; i < 20; i++) a[i] = 0.1 * (i + 1);
        double seq = 0;
        for (int i = 0; i < 5; i++) seq += a[i];
        CHECK(numpy_sum(a, 5) == seq);
        double r8[8];
        for (int k = 0; k < 8; k++) r8[k] = a[k] + a[k + 8];
        double pw = ((r8[0] + r8[1]) + (r8[2] + r8[3])) + ((r8[4] + r8[5]) + (r8[6] + r8[7]));
        pw += a[16]; pw += a[17]; pw += a[18]; pw += a[19];
        CHECK(numpy_sum(a, 20) == pw);
    }

    // numpy's default argsort of equal values, reversed, as the reference uses it: in input
    // order up to 16, numpy's own order above (read off numpy 1.24).
    {
        double ones[40];
        int idx[40];
        for (int i = 0; i < 40; i++) ones[i] = 1.0;
        static const int want17[17] = { 16, 7, 1, 2, 3, 4, 5, 6, 8, 15, 9, 10, 11, 12, 13, 14, 0 };
        static const int want40[40] = { 39, 38, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 18,
                                        19, 20, 30, 37, 36, 35, 34, 33, 32, 31, 29, 21, 28, 27, 26, 25, 24, 23, 22, 0 };
        numpy_argsort(ones, idx, 17);
        int ok = 1;
        for (int i = 0; i < 17; i++) ok &= idx[16 - i] == want17[i];
        CHECK(ok);
        numpy_argsort(ones, idx, 40);
        ok = 1;
        for (int i = 0; i < 40; i++) ok &= idx[39 - i] == want40[i];
        CHECK(ok);
        numpy_argsort(ones, idx, 16);
        ok = 1;
        for (int i = 0; i < 16; i++) ok &= idx[i] == i;
        CHECK(ok);
        // and it sorts
        Rng q;
        rng_seed(&q, 4, 4);
        double v[300];
        int order[300];
        for (int trial = 0; trial < 200; trial++) {
            int n = rng_int(&q, 0, 300);
            for (int i = 0; i < n; i++) v[i] = rng_int(&q, 0, 9) * 0.1;
            numpy_argsort(v, order, n);
            int seen[300] = { 0 }, sorted = 1;
            for (int i = 0; i < n; i++) { seen[order[i]]++; if (i && v[order[i - 1]] > v[order[i]]) sorted = 0; }
            for (int i = 0; i < n; i++) sorted &= seen[i] == 1;
            if (!sorted) { CHECK(sorted); break; }
        }
    }

    // Above 8192 values numpy sums buffer by buffer.
    {
        static double big[20000];
        for (int i = 0; i < 20000; i++) big[i] = 1.0 / (i + 3);
        double blocks = numpy_sum(big, 8192);
        blocks += numpy_sum(big + 8192, 8192);
        blocks += numpy_sum(big + 16384, 20000 - 16384);
        CHECK(numpy_sum(big, 20000) == 0.0 + blocks);
    }

    // Properties on random inputs.
    Rng g;
    rng_seed(&g, 17, 0);
    int bad_conf = 0, bad_votes = 0, bad_cover = 0, bad_repeat = 0;
    WbfResult r2 = { 0 };
    for (int trial = 0; trial < 3000; trial++) {
        int m = rng_int(&g, 1, 5), n = rng_int(&g, 0, 40);
        WbfInput in[40];
        double w[5] = { 1, 1, 1, 1, 1 };
        for (int i = 0; i < n; i++) {
            double x = rng_uniform(&g), y = rng_uniform(&g), s = rng_range(&g, 0.02, 0.4);
            in[i] = (WbfInput){ rng_int(&g, 0, 2), rng_int(&g, 0, m - 1), rng_uniform(&g) < 0.5 ? 1.0 : rng_uniform(&g),
                                { x - s, y - s, x + s, y + s } };
        }
        WbfParams p = params((ConfType)rng_int(&g, 0, 3), rng_range(&g, 0.1, 0.9));
        p.one_per_source = rng_uniform(&g) < 0.3;
        WbfRepairs rr = { 0 };
        CHECK(wbf_fuse(in, n, w, m, &p, &r, &rr) == 0);
        int seen[40] = { 0 }, dropped = (int)(rr.zero_area + rr.below_thr), covered = 0;
        for (int c = 0; c < r.n_clusters; c++) {
            const WbfCluster *cl = &r.clusters[c];
            if (p.conf_type == CONF_AVG && !(cl->conf >= 0 && cl->conf <= 1)) bad_conf++;
            if (cl->votes > m || cl->votes < 1) bad_votes++;
            for (int k = 0; k < cl->n_members; k++) {
                if (in[cl->members[k]].label != cl->label) bad_cover++;
                seen[cl->members[k]]++;
                covered++;
            }
        }
        for (int i = 0; i < n; i++) if (seen[i] > 1) bad_cover++;
        if (covered + dropped != n) bad_cover++;
        CHECK(wbf_fuse(in, n, w, m, &p, &r2, &rr) == 0);
        if (r2.n_clusters != r.n_clusters) bad_repeat++;
        else
            for (int c = 0; c < r.n_clusters; c++)
                if (memcmp(&r.clusters[c].box, &r2.clusters[c].box, sizeof(Box)) != 0 || r.clusters[c].conf != r2.clusters[c].conf)
                    bad_repeat++;
    }
    CHECK(bad_conf == 0);
    CHECK(bad_votes == 0);
    CHECK(bad_cover == 0);
    CHECK(bad_repeat == 0);
    wbf_free(&r);
    wbf_free(&r2);
    return check_report("wbf");
}
