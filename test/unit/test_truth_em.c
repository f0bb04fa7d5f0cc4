// Dawid-Skene EM (truth_em.h): a case computed by hand, planted matrices and box spreads
// recovered, annotators renumbered, and 1 against 2 threads.
#include <omp.h>
#include <stdlib.h>

#include "check.h"
#include "rng.h"
#include "truth_em.h"

// Clusters under construction: each its own reader set.
typedef struct {
    long n, m, rd;
    long member_start[200001], cluster_readers[200001], readers_start[200001];
    int member_annotator[800000], member_label[800000], readers[800000];
    Box member_box[800000];
} Build;

static void build_init(Build *b) {
    b->n = b->m = b->rd = 0;
    b->member_start[0] = 0;
    b->readers_start[0] = 0;
}

// Adds a cluster: readers (ascending), and for each its label or -1 (no box), and its box.
static void add_cluster(Build *b, int n_readers, const int *readers, const int *labels, const Box *boxes) {
    for (int k = 0; k < n_readers; k++) {
        b->readers[b->rd++] = readers[k];
        if (labels[k] < 0) continue;
        b->member_annotator[b->m] = readers[k];
        b->member_label[b->m] = labels[k];
        b->member_box[b->m] = boxes ? boxes[k] : (Box){ 0, 0, 10, 10 };
        b->m++;
    }
    b->cluster_readers[b->n] = b->n;
    b->n++;
    b->member_start[b->n] = b->m;
    b->readers_start[b->n] = b->rd;
}

static EmData data_of(const Build *b, int K, int R) {
    return (EmData){ K, R, b->n, b->member_start, b->member_annotator, b->member_label, b->member_box,
                     b->cluster_readers, b->readers_start, b->readers };
}

static double mat(const EmFit *f, int r, int z, int l) { return f->matrix[((long)r * (f->K + 1) + z) * (f->K + 1) + l]; }

// Two annotators A (0) and B (1), two classes, no smoothing, one iteration. The vote
// shares T0 over (class 0, class 1, no_obj) of the four clusters:
//   c0 A:0 B:0  -> (1, 0, 0)      c1 A:0 B:1  -> (1/2, 1/2, 0)
//   c2 A:1 B:1  -> (0, 1, 0)      c3 A:1 B:-  -> (0, 1/2, 1/2)
// M-step: prior = column sums / 4 = (3/8, 1/2, 1/8);
//   A: row 0 = (1, 0, 0); row 1 = (1/2, 3/2, 0) / 2 = (1/4, 3/4, 0); row 2 = (0, 1, 0)
//   B: row 0 = (1, 1/2, 0) / (3/2) = (2/3, 1/3, 0); row 1 = (0, 3/2, 1/2) / 2 = (0, 3/4, 1/4);
//      row 2 = (0, 0, 1)
// E-step: prior x A's column x B's column, normalised:
//   c0: (3/8 * 1 * 2/3, 0, 0) = (1/4, 0, 0)              -> (1, 0, 0)
//   c1: (3/8 * 1 * 1/3, 1/2 * 1/4 * 3/4, 0) = (1/8, 3/32, 0) -> (4/7, 3/7, 0)
//   c2: (0, 1/2 * 3/4 * 3/4, 0) = (0, 9/32, 0)           -> (0, 1, 0)
//   c3: (0, 1/2 * 3/4 * 1/4, 1/8 * 1 * 1) = (0, 3/32, 1/8) -> (0, 3/7, 4/7)
// log-likelihood: log(1/4) + log(7/32) + log(9/32) + log(7/32).
static void check_by_hand(Build *b) {
    build_init(b);
    int rd[2] = { 0, 1 };
    add_cluster(b, 2, rd, (int[]){ 0, 0 }, NULL);
    add_cluster(b, 2, rd, (int[]){ 0, 1 }, NULL);
    add_cluster(b, 2, rd, (int[]){ 1, 1 }, NULL);
    add_cluster(b, 2, rd, (int[]){ 1, -1 }, NULL);
    EmData d = data_of(b, 2, 2);
    EmOptions o = { 0.0, 1, 1e-9 };
    EmFit f;
    char err[256];
    CHECK(em_fit(&d, &o, &f, err, sizeof err) == 0);
    CHECK(f.iterations == 1 && f.n_patterns == 4);
    CHECK_NEAR(f.prior[0], 3.0 / 8, 1e-15); CHECK_NEAR(f.prior[1], 0.5, 1e-15); CHECK_NEAR(f.prior[2], 1.0 / 8, 1e-15);
    CHECK_NEAR(mat(&f, 0, 1, 0), 0.25, 1e-15); CHECK_NEAR(mat(&f, 0, 1, 1), 0.75, 1e-15);
    CHECK_NEAR(mat(&f, 1, 0, 0), 2.0 / 3, 1e-15); CHECK_NEAR(mat(&f, 1, 1, 2), 0.25, 1e-15);
    CHECK(mat(&f, 1, 2, 2) == 1 && mat(&f, 0, 2, 1) == 1 && mat(&f, 0, 0, 0) == 1);
    const double want[4][3] = { { 1, 0, 0 }, { 4.0 / 7, 3.0 / 7, 0 }, { 0, 1, 0 }, { 0, 3.0 / 7, 4.0 / 7 } };
    for (int c = 0; c < 4; c++)
        for (int z = 0; z < 3; z++) CHECK_NEAR(em_posterior(&f, c)[z], want[c][z], 1e-15);
    CHECK_NEAR(f.log_likelihood, log(0.25) + 2 * log(7.0 / 32) + log(9.0 / 32), 1e-12);
    // the class probabilities given real, and the most probable class
    double p[2];
    CHECK(em_class_probs(&f, 1, p) == 0);
    CHECK_NEAR(p[0], 4.0 / 7, 1e-15);
    CHECK(em_class_probs(&f, 3, p) == 1);
    CHECK_NEAR(p[1], 1, 1e-15);
    // accuracy: P(z | real) = (3/7, 4/7); A's diagonal (1, 3/4), B's (2/3, 3/4)
    CHECK_NEAR(em_accuracy(&f, 0), 3.0 / 7 * 1 + 4.0 / 7 * 0.75, 1e-15);
    CHECK_NEAR(em_accuracy(&f, 1), 3.0 / 7 * 2.0 / 3 + 4.0 / 7 * 0.75, 1e-15);
    CHECK_NEAR(em_miss_rate(&f, 1), 4.0 / 7 * 0.25, 1e-15);
    em_free(&f);

    // With smoothing 1 the M-step adds one to every cell: the prior is (3/2+1, 2+1,
    // 1/2+1) / 7 and A's row 2 is (0+1, 1/2+1, 0+1) / (1/2+3).
    o.smoothing = 1;
    CHECK(em_fit(&d, &o, &f, err, sizeof err) == 0);
    CHECK_NEAR(f.prior[0], 2.5 / 7, 1e-15);
    CHECK_NEAR(mat(&f, 0, 2, 1), 1.5 / 3.5, 1e-15);
    CHECK_NEAR(mat(&f, 0, 2, 0), 1 / 3.5, 1e-15);
    em_free(&f);
}

// A planted model: K classes, R annotators, each cluster read by n_read of them at random.
// Every annotator's real rows have a diagonal drawn in [0.4, 0.95], the rest split at
// random; a miss column; false positives (state K) labelled at random. Clusters that
// every reader missed are not observed, as in the data.
enum { PK = 5, PR = 6 };
static void plant(Build *b, Rng *r, long n, int n_read, double truth[PR][PK + 1][PK + 1], double noise[PR]) {
    int S = PK + 1;
    for (int a = 0; a < PR; a++) {
        noise[a] = 0.03 + 0.01 * a;
        for (int z = 0; z < S; z++) {
            double w[PK + 1], ones[PK + 1];
            for (int l = 0; l < S; l++) ones[l] = 1;
            rng_dirichlet(r, ones, S, w);
            double d = z < PK ? rng_range(r, 0.4, 0.95) : 0.6;   // state K: no box 60% of the time
            int diag = z;
            double rest = 0;
            for (int l = 0; l < S; l++) rest += l == diag ? 0 : w[l];
            for (int l = 0; l < S; l++) truth[a][z][l] = l == diag ? d : (1 - d) * w[l] / rest;
        }
        // real objects are rarely missed: move all but 0.03 of the miss column to the diagonal
        for (int z = 0; z < PK; z++) {
            double extra = truth[a][z][PK] - 0.03;
            if (extra > 0) { truth[a][z][PK] -= extra; truth[a][z][z] += extra; }
        }
    }
    build_init(b);
    while (b->n < n) {
        int z = rng_uniform(r) < 0.2 ? PK : rng_int(r, 0, PK - 1);
        int pick[PR] = { 0, 1, 2, 3, 4, 5 };
        rng_shuffle_int(r, pick, PR);
        int rd[PR], lab[PR];
        for (int i = 0; i < n_read; i++) rd[i] = pick[i];
        for (int i = 0; i < n_read; i++)
            for (int j = i + 1; j < n_read; j++)
                if (rd[j] < rd[i]) { int t = rd[i]; rd[i] = rd[j]; rd[j] = t; }
        Box bx[PR], obj = { 100, 100, 100 + rng_range(r, 20, 60), 100 + rng_range(r, 20, 60) };
        int seen = 0;
        for (int k = 0; k < n_read; k++) {
            double u = rng_uniform(r), acc = 0;
            int l = PK;
            for (int c = 0; c < S; c++) {
                acc += truth[rd[k]][z][c];
                if (u < acc) { l = c; break; }
            }
            lab[k] = l == PK ? -1 : l;
            seen += l != PK;
            double w = obj.x2 - obj.x1, h = obj.y2 - obj.y1, s = noise[rd[k]];
            bx[k] = (Box){ obj.x1 + s * w * rng_normal(r), obj.y1 + s * h * rng_normal(r), obj.x2 + s * w * rng_normal(r),
                           obj.y2 + s * h * rng_normal(r) };
        }
        if (seen) add_cluster(b, n_read, rd, lab, bx);
    }
}

static void check_planted(Build *b) {
    Rng r;
    rng_seed(&r, 11, 3);
    double truth[PR][PK + 1][PK + 1], noise[PR];
    plant(b, &r, 60000, 3, truth, noise);
    EmData d = data_of(b, PK, PR);
    EmOptions o = { 0.1, 500, 1e-10 };
    EmFit f;
    char err[256];
    CHECK(em_fit(&d, &o, &f, err, sizeof err) == 0);
    double worst = 0, sum = 0;
    for (int a = 0; a < PR; a++)
        for (int z = 0; z < PK; z++)
            for (int l = 0; l <= PK; l++) {
                double e = fabs(mat(&f, a, z, l) - truth[a][z][l]);
                worst = e > worst ? e : worst;
                sum += e;
            }
    // 60,000 clusters, about 10,000 per class and 30,000 readings per annotator, so a
    // row of about 1,700 readings knows a cell to about 0.01 (measured: mean error 0.0046,
    // the worst cell 0.033)
    CHECK(sum / (PR * PK * (PK + 1)) < 0.008);
    CHECK(worst < 0.06);
    // the spreads: annotator a's relative noise is 0.03 + 0.01 a
    double spread_err = 0;
    for (int a = 0; a < PR; a++)
        for (int q = 0; q < 4; q++) spread_err = fmax(spread_err, fabs(f.spread[a * 4 + q] / noise[a] - 1));
    fprintf(stderr, "planted: mean error %.4f, worst %.4f; spreads' worst relative error %.4f\n",
            sum / (PR * PK * (PK + 1)), worst, spread_err);
    CHECK(spread_err < 0.06);   // measured 0.032
    // the fused box of a two-box cluster is the precision-weighted mean
    for (long c = 0; c < d.n_clusters; c++) {
        if (d.member_start[c + 1] - d.member_start[c] != 2) continue;
        long m = d.member_start[c];
        double w0 = 1 / pow(f.spread[d.member_annotator[m] * 4], 2), w1 = 1 / pow(f.spread[d.member_annotator[m + 1] * 4], 2);
        CHECK_NEAR(em_fused_box(&d, &f, c).x1, (w0 * d.member_box[m].x1 + w1 * d.member_box[m + 1].x1) / (w0 + w1), 1e-9);
        break;
    }
    em_free(&f);
}

// Renumbering the annotators permutes the matrices and leaves every posterior as it was
// (up to the last bits of the sums, whose order changes).
static void check_renumbered(Build *b, Build *p) {
    Rng r;
    rng_seed(&r, 12, 3);
    double truth[PR][PK + 1][PK + 1], noise[PR];
    plant(b, &r, 5000, 3, truth, noise);
    const int perm[PR] = { 3, 5, 0, 2, 1, 4 };   // annotator a becomes perm[a]
    build_init(p);
    for (long c = 0; c < b->n; c++) {
        int rd[3], lab[3];
        Box bx[3];
        long s = b->readers_start[c];
        for (int k = 0; k < 3; k++) {
            rd[k] = perm[b->readers[s + k]];
            lab[k] = -1;
            bx[k] = (Box){ 0, 0, 1, 1 };
            for (long m = b->member_start[c]; m < b->member_start[c + 1]; m++)
                if (b->member_annotator[m] == b->readers[s + k]) { lab[k] = b->member_label[m]; bx[k] = b->member_box[m]; }
        }
        for (int i = 0; i < 3; i++)   // the readers ascending again, with their labels
            for (int j = i + 1; j < 3; j++)
                if (rd[j] < rd[i]) {
                    int t = rd[i]; rd[i] = rd[j]; rd[j] = t;
                    t = lab[i]; lab[i] = lab[j]; lab[j] = t;
                    Box tb = bx[i]; bx[i] = bx[j]; bx[j] = tb;
                }
        add_cluster(p, 3, rd, lab, bx);
    }
    EmData d1 = data_of(b, PK, PR), d2 = data_of(p, PK, PR);
    EmOptions o = { 0.1, 300, 1e-12 };
    EmFit f1, f2;
    char err[256];
    CHECK(em_fit(&d1, &o, &f1, err, sizeof err) == 0);
    CHECK(em_fit(&d2, &o, &f2, err, sizeof err) == 0);
    CHECK(f1.iterations == f2.iterations);
    double worst = 0;
    for (long c = 0; c < d1.n_clusters; c++)
        for (int z = 0; z <= PK; z++) worst = fmax(worst, fabs(em_posterior(&f1, c)[z] - em_posterior(&f2, c)[z]));
    for (int a = 0; a < PR; a++) {
        for (int z = 0; z <= PK; z++)
            for (int l = 0; l <= PK; l++) worst = fmax(worst, fabs(mat(&f1, a, z, l) - mat(&f2, perm[a], z, l)));
        for (int q = 0; q < 4; q++) worst = fmax(worst, fabs(f1.spread[a * 4 + q] - f2.spread[perm[a] * 4 + q]));
    }
    CHECK(worst < 1e-12);
    em_free(&f1);
    em_free(&f2);
}

// 1 and 2 threads give bitwise the same fit (the E-step and the spreads run in parallel
// at this size: more than 4096 patterns and 4 blocks of clusters).
static void check_threads(Build *b) {
    Rng r;
    rng_seed(&r, 13, 3);
    double truth[PR][PK + 1][PK + 1], noise[PR];
    plant(b, &r, 60000, 4, truth, noise);
    EmData d = data_of(b, PK, PR);
    EmOptions o = { 0.1, 50, 1e-12 };
    EmFit f1, f2;
    char err[256];
    omp_set_num_threads(1);
    CHECK(em_fit(&d, &o, &f1, err, sizeof err) == 0);
    omp_set_num_threads(2);
    CHECK(em_fit(&d, &o, &f2, err, sizeof err) == 0);
    CHECK(f1.n_patterns > 4096);
    long diff = 0;
    int S = PK + 1;
    for (long c = 0; c < d.n_clusters; c++)
        diff += memcmp(em_posterior(&f1, c), em_posterior(&f2, c), sizeof(double) * (size_t)S) != 0;
    diff += memcmp(f1.matrix, f2.matrix, sizeof(double) * PR * S * S) != 0;
    diff += memcmp(f1.spread, f2.spread, sizeof(double) * PR * 4) != 0;
    diff += f1.log_likelihood != f2.log_likelihood;
    CHECK(diff == 0);
    em_free(&f1);
    em_free(&f2);
}

// Edge cases: one annotator, no clusters, and data that break the contract. With one
// annotator nothing tells its errors from the truth: from the vote shares the first
// iteration keeps its labels, and further iterations drift towards the smoothing's
// uniform rows (fuse refuses such data; the library still answers).
static void check_edges(Build *b) {
    build_init(b);
    int rd[1] = { 0 };
    for (int i = 0; i < 30; i++) add_cluster(b, 1, rd, (int[]){ i % 3 }, NULL);
    EmData d = data_of(b, 3, 1);
    EmOptions o = { 0.1, 1, 1e-9 };
    EmFit f;
    char err[256];
    CHECK(em_fit(&d, &o, &f, err, sizeof err) == 0);
    double p[3];
    for (long c = 0; c < 30; c++) CHECK(em_class_probs(&f, c, p) == c % 3);
    CHECK(em_posterior(&f, 0)[0] > 0.95);
    em_free(&f);
    o.max_iter = 100;
    CHECK(em_fit(&d, &o, &f, err, sizeof err) == 0);
    CHECK(em_posterior(&f, 0)[0] < 0.5);
    em_free(&f);

    build_init(b);
    d = data_of(b, 0, 0);
    CHECK(em_fit(&d, &o, &f, err, sizeof err) == 0);
    CHECK(f.prior[0] == 1);
    em_free(&f);

    build_init(b);
    add_cluster(b, 1, rd, (int[]){ 0 }, NULL);
    b->member_annotator[0] = 1;   // not a reader of its image
    d = data_of(b, 2, 2);
    CHECK(em_fit(&d, &o, &f, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "not a reader");
}

int main(void) {
    Build *b = malloc(sizeof *b), *p = malloc(sizeof *p);
    if (!b || !p) return 1;
    check_by_hand(b);
    check_planted(b);
    check_renumbered(b, p);
    check_threads(b);
    check_edges(b);
    free(b);
    free(p);
    return check_report("test_truth_em");
}
