// Iterative stratification: hand-computed assignments, quotas on random cases, every item
// assigned once, items without labels, bad arguments, determinism and invariances.
#include <stdlib.h>

#include "check.h"
#include "rng.h"
#include "stratify.h"

enum { MAXP = 8 };

// Compressed rows of labels for a test case.
typedef struct {
    size_t n, n_labels;
    size_t *start, *labels;
    double *tie;
} Case;

static void case_free(Case *c) {
    free(c->start);
    free(c->labels);
    free(c->tie);
}

// n items; item i carries label l with probability p[l] (multi) or exactly one label drawn
// by the weights p[] (single), or none with probability p_none. Tie keys are a random
// permutation of 0, 1/n, 2/n, ... so they are all distinct.
static Case random_case(Rng *r, size_t n, size_t n_labels, const double *p, double p_none, int single) {
    Case c = { n, n_labels, malloc((n + 1) * sizeof(size_t)), malloc(n * n_labels * sizeof(size_t) + 1),
               malloc(n * sizeof(double)) };
    int *perm = malloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++) perm[i] = (int)i;
    rng_shuffle_int(r, perm, (int)n);
    double sum = 0;
    for (size_t l = 0; l < n_labels; l++) sum += p[l];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        c.start[i] = m;
        c.tie[i] = perm[i] / (double)n;
        if (rng_uniform(r) < p_none) continue;
        if (single) {
            double x = rng_uniform(r) * sum;
            size_t l = 0;
            while (l + 1 < n_labels && x >= p[l]) x -= p[l++];
            c.labels[m++] = l;
        } else {
            // a random order within the row, so the first of equally rare labels varies
            size_t first = m;
            for (size_t l = 0; l < n_labels; l++)
                if (rng_uniform(r) < p[l]) c.labels[m++] = l;
            for (size_t j = m; j > first + 1; j--) {
                size_t k = first + (size_t)rng_int(r, 0, (int)(j - first - 1));
                size_t t = c.labels[j - 1]; c.labels[j - 1] = c.labels[k]; c.labels[k] = t;
            }
        }
    }
    c.start[n] = m;
    free(perm);
    return c;
}

static int assign(const Case *c, const double *ratios, int n_parts, int *part) {
    return stratify_assign(c->n, c->start, c->labels, c->n_labels, ratios, n_parts, c->tie, part);
}

// Every item has exactly one part in 0..n_parts-1 (part starts filled with -1).
static int all_assigned(const int *part, size_t n, int n_parts) {
    for (size_t i = 0; i < n; i++)
        if (part[i] < 0 || part[i] >= n_parts) return 0;
    return 1;
}

// The largest |items of label l in part k - ratios[k] * items with l| over labels and parts;
// label n_labels stands for the items without labels, and n_labels + 1 for all items.
static double largest_quota_miss(const Case *c, const int *part, const double *ratios, int n_parts, size_t label) {
    double in_part[MAXP] = { 0 }, total = 0, worst = 0;
    for (size_t i = 0; i < c->n; i++) {
        int has = label == c->n_labels + 1 || (label == c->n_labels && c->start[i] == c->start[i + 1]);
        for (size_t j = c->start[i]; j < c->start[i + 1] && !has; j++) has = c->labels[j] == label;
        if (has) { in_part[part[i]]++; total++; }
    }
    for (int k = 0; k < n_parts; k++) {
        double miss = fabs(in_part[k] - ratios[k] * total);
        if (miss > worst) worst = miss;
    }
    return worst;
}

static void fill(int *part, size_t n, int v) { for (size_t i = 0; i < n; i++) part[i] = v; }

static int same_parts(const int *a, const int *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

int main(void) {
    // ---- Hand-computed case: 6 items, labels A=0 B=1 C=2, two halves.
    //   item  labels  tie   counts: A 3 (items 0 1 4), B 4 (0 2 4 5), C 2 (2 5)
    //   0     A B     0.9   stratum A (3 < 4)
    //   1     A       0.1   stratum A
    //   2     B C     0.5   stratum C (2 < 4)
    //   3     -       0.2   no labels: last
    //   4     A B     0.3   stratum A
    //   5     C B     0.7   stratum C
    // Order: C (count 2) items 2, 5; A (count 3) items 1, 4, 0; then item 3.
    // Wants per half: A 1.5, B 2, C 1, items 3.
    //   item 2: C 1 = 1, items 3 = 3 -> part 0 (lowest); part 0 now B 1, C 0, items 2
    //   item 5: C 0 < 1 -> part 1;                        part 1 now B 1, C 0, items 2
    //   item 1: A 1.5 = 1.5, items 2 = 2 -> part 0;       part 0 now A 0.5, items 1
    //   item 4: A 0.5 < 1.5 -> part 1;                    part 1 now A 0.5, B 0, items 1
    //   item 0: A 0.5 = 0.5, items 1 = 1 -> part 0;       part 0 now items 0
    //   item 3: no label, items 0 < 1 -> part 1
    {
        size_t start[] = { 0, 2, 3, 5, 5, 7, 9 }, labels[] = { 0, 1, 0, 1, 2, 0, 1, 2, 1 };
        double tie[] = { 0.9, 0.1, 0.5, 0.2, 0.3, 0.7 }, ratios[] = { 0.5, 0.5 };
        int part[6], expect[6] = { 0, 0, 0, 1, 1, 1 };
        fill(part, 6, -1);
        CHECK(stratify_assign(6, start, labels, 3, ratios, 2, tie, part) == 0);
        CHECK(same_parts(part, expect, 6));
        // the same with a label repeated within items: a repeat counts once
        size_t start2[] = { 0, 3, 5, 7, 7, 9, 13 }, labels2[] = { 0, 1, 0, 0, 0, 1, 2, 0, 1, 2, 1, 2, 1 };
        fill(part, 6, -1);
        CHECK(stratify_assign(6, start2, labels2, 3, ratios, 2, tie, part) == 0);
        CHECK(same_parts(part, expect, 6));
    }

    // ---- Of equally rare labels, an item's stratum is the first in its own list, not the
    // smaller id. X=0 and Y=1 are both on 2 items. Item 0 lists Y X (stratum Y), item 1
    // lists X Y (stratum X). Strata with equal counts go by label id: item 1 (X) comes
    // first although its tie key is larger. Halves want X 1, Y 1, items 1 each.
    //   item 1: X 1 = 1, items 1 = 1 -> part 0; part 0 now X 0, Y 0, items 0
    //   item 0: Y 0 < 1 -> part 1
    // (Taking the smaller id for item 0 would put item 0 first and give { 0, 1 }.)
    {
        size_t start[] = { 0, 2, 4 }, labels[] = { 1, 0, 0, 1 };
        double tie[] = { 0.1, 0.2 }, ratios[] = { 0.5, 0.5 };
        int part[2] = { -1, -1 };
        CHECK(stratify_assign(2, start, labels, 2, ratios, 2, tie, part) == 0);
        CHECK(part[0] == 1 && part[1] == 0);
    }

    // ---- No labels at all: items by tie key (items 1 3 0 4 2) to the part that wants the
    // most items, 3 and 2 at first: 3>2 -> 0; 2=2 -> 0; 1<2 -> 1; 1=1 -> 0; 0<1 -> 1.
    {
        size_t start[] = { 0, 0, 0, 0, 0, 0 };
        double tie[] = { 0.4, 0.0, 0.8, 0.2, 0.6 }, ratios[] = { 0.6, 0.4 };
        int part[5], expect[5] = { 1, 0, 1, 0, 0 };
        fill(part, 5, -1);
        CHECK(stratify_assign(5, start, NULL, 0, ratios, 2, tie, part) == 0);
        CHECK(same_parts(part, expect, 5));
    }

    // ---- Bad arguments leave part alone; no items is no work.
    {
        size_t start[] = { 0, 1, 2 }, labels[] = { 0, 3 }, back[] = { 1, 0, 2 };
        double tie[] = { 0.1, 0.2 }, ratios[] = { 0.5, 0.5 };
        int part[2] = { -1, -1 };
        CHECK(stratify_assign(2, start, labels, 3, ratios, 2, tie, part) == -2);   // id 3 of 3 labels
        CHECK(stratify_assign(2, back, labels, 4, ratios, 2, tie, part) == -2);    // rows going back
        CHECK(stratify_assign(2, start, labels, 4, ratios, 0, tie, part) == -2);   // no parts
        CHECK(part[0] == -1 && part[1] == -1);
        CHECK(stratify_assign(0, NULL, NULL, 0, ratios, 2, NULL, NULL) == 0);
        CHECK(stratify_assign(2, start, labels, 4, ratios, 1, tie, part) == 0);    // one part takes all
        CHECK(part[0] == 0 && part[1] == 0);
    }

    Rng r;
    rng_seed(&r, 2011, 1);

    // ---- One label per item (or none): an item then moves only its own label's wants, and
    // each label is dealt greedily to the part that wants it most, which keeps every part
    // within one item of its quota (a part is only ever taken down from the largest want,
    // so no want falls to -1, and the wants sum to 0 at the end, so none stays at +1 or
    // more). Items without labels go last to the parts short of items overall, so the part
    // sizes come within one item too, when they are enough to even things out (here about
    // 500 of them).
    {
        enum { N = 5000, L = 9 };
        double p[L] = { 0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.04, 0.01 };
        double ratios[3] = { 0.6, 0.25, 0.15 };
        Case c = random_case(&r, N, L, p, 0.1, 1);
        int *part = malloc(N * sizeof *part);
        fill(part, N, -1);
        CHECK(assign(&c, ratios, 3, part) == 0);
        CHECK(all_assigned(part, N, 3));
        for (size_t l = 0; l < L; l++) CHECK(largest_quota_miss(&c, part, ratios, 3, l) < 1);
        CHECK(largest_quota_miss(&c, part, ratios, 3, L + 1) < 1);   // all items
        free(part);
        case_free(&c);
    }

    // ---- All items without labels: part sizes within one item of their quotas.
    {
        enum { N = 1001 };
        double ratios[4] = { 0.4, 0.3, 0.2, 0.1 };
        Case c = random_case(&r, N, 1, (double[]){ 1 }, 1.0, 1);
        int part[N];
        fill(part, N, -1);
        CHECK(assign(&c, ratios, 4, part) == 0);
        CHECK(all_assigned(part, N, 4));
        CHECK(largest_quota_miss(&c, part, ratios, 4, c.n_labels + 1) < 1);
        case_free(&c);
    }

    // ---- Several labels per item: every item assigned once; each label and the part sizes
    // stay within one item of their quotas (measured on this case, not a guarantee: an item
    // also moves the wants of labels other than its stratum's; the items without labels,
    // dealt last to even out the part sizes, are 4 off here), and the result is the
    // same on a second run, after an increasing map of the tie keys (only their order counts),
    // with every label repeated within its row, and with the items permuted (each keeps its
    // part: with distinct tie keys the order of assignment does not depend on the input order).
    {
        enum { N = 4000, L = 12 };
        double p[L] = { 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.08, 0.05, 0.03, 0.02, 0.01, 0.005 };
        double ratios[3] = { 0.7, 0.1, 0.2 };
        Case c = random_case(&r, N, L, p, 0.05, 0);
        int *part = malloc(N * sizeof *part), *again = malloc(N * sizeof *again);
        fill(part, N, -1);
        CHECK(assign(&c, ratios, 3, part) == 0);
        CHECK(all_assigned(part, N, 3));
        for (size_t l = 0; l < L; l++) CHECK(largest_quota_miss(&c, part, ratios, 3, l) < 1);
        CHECK(largest_quota_miss(&c, part, ratios, 3, L + 1) < 1);   // all items

        fill(again, N, 7);
        CHECK(assign(&c, ratios, 3, again) == 0);
        CHECK(same_parts(part, again, N));

        Case ranked = c;
        ranked.tie = malloc(N * sizeof(double));
        for (size_t i = 0; i < N; i++) ranked.tie[i] = c.tie[i] * N * 3 - 5;   // same order
        fill(again, N, -1);
        CHECK(assign(&ranked, ratios, 3, again) == 0);
        CHECK(same_parts(part, again, N));
        free(ranked.tie);

        Case doubled = { N, L, malloc((N + 1) * sizeof(size_t)), malloc(2 * c.start[N] * sizeof(size_t) + 1), c.tie };
        for (size_t i = 0, m = 0; i <= N; i++) {
            doubled.start[i] = m;
            if (i == N) break;
            for (size_t j = c.start[i]; j < c.start[i + 1]; j++) doubled.labels[m++] = c.labels[j];
            for (size_t j = c.start[i]; j < c.start[i + 1]; j++) doubled.labels[m++] = c.labels[j];
        }
        fill(again, N, -1);
        CHECK(assign(&doubled, ratios, 3, again) == 0);
        CHECK(same_parts(part, again, N));
        free(doubled.start);
        free(doubled.labels);

        int *perm = malloc(N * sizeof *perm);
        for (int i = 0; i < N; i++) perm[i] = i;
        rng_shuffle_int(&r, perm, N);
        Case shuffled = { N, L, malloc((N + 1) * sizeof(size_t)), malloc(c.start[N] * sizeof(size_t) + 1),
                          malloc(N * sizeof(double)) };
        size_t m = 0;
        for (size_t i = 0; i < N; i++) {   // item i of shuffled is item perm[i] of c
            size_t from = (size_t)perm[i];
            shuffled.start[i] = m;
            shuffled.tie[i] = c.tie[from];
            for (size_t j = c.start[from]; j < c.start[from + 1]; j++) shuffled.labels[m++] = c.labels[j];
        }
        shuffled.start[N] = m;
        fill(again, N, -1);
        CHECK(assign(&shuffled, ratios, 3, again) == 0);
        int moved = 0;
        for (size_t i = 0; i < N; i++) moved += again[i] != part[perm[i]];
        CHECK(moved == 0);
        case_free(&shuffled);
        free(perm);
        free(part);
        free(again);
        case_free(&c);
    }

    return check_report("test_stratify");
}
