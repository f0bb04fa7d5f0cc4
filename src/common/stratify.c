// Iterative stratification over integer label ids; the rules are in stratify.h.
#include "stratify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Where an item comes in the order of assignment.
typedef struct {
    size_t count;   // the item's stratum label's count; SIZE_MAX for an item without labels
    size_t label;   // its stratum label; n_labels for an item without labels
    double tie;     // its tie_key
    size_t item;    // its index
} StratumKey;

// Rarer stratum first, then the smaller label id, the smaller tie key, the smaller index.
static int compare_stratum_keys(const void *a, const void *b) {
    const StratumKey *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? -1 : 1;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    if (x->tie != y->tie) return x->tie < y->tie ? -1 : 1;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    return 0;
}

// Whether the arguments describe valid compressed rows of label ids below n_labels.
static int labels_are_valid(size_t n_items, const size_t *label_start, const size_t *labels, size_t n_labels) {
    for (size_t i = 0; i < n_items; i++) {
        if (label_start[i + 1] < label_start[i]) return 0;
        for (size_t j = label_start[i]; j < label_start[i + 1]; j++)
            if (labels[j] >= n_labels) return 0;
    }
    return 1;
}

// count[l] = the number of items that carry label l, a label listed twice for one item
// counted once. mark[0..n_labels-1] must be zero; it is left holding 1 + the last item
// that carried each label.
static void count_items_per_label(size_t n_items, const size_t *label_start, const size_t *labels,
                                  size_t *count, size_t *mark) {
    for (size_t i = 0; i < n_items; i++)
        for (size_t j = label_start[i]; j < label_start[i + 1]; j++)
            if (mark[labels[j]] != i + 1) {
                mark[labels[j]] = i + 1;
                count[labels[j]]++;
            }
}

// Item i's place in the order of assignment: its rarest label, the first of equally rare
// ones in its own list, or the last stratum when it has no labels.
static StratumKey stratum_key_of_item(size_t i, const size_t *label_start, const size_t *labels,
                                      size_t n_labels, const size_t *count, const double *tie_key) {
    StratumKey key = { SIZE_MAX, n_labels, tie_key[i], i };
    for (size_t j = label_start[i]; j < label_start[i + 1]; j++)
        if (key.label == n_labels || count[labels[j]] < key.count) {
            key.label = labels[j];
            key.count = count[labels[j]];
        }
    return key;
}

// The part that still wants the label most (label_want[k], or 0 for every part when
// label_want is NULL), then the one that still wants the most items (total_want[k]), then
// the lowest part index.
static int part_wanting_most(const double *label_want, const double *total_want, int n_parts) {
    int best = 0;
    for (int k = 1; k < n_parts; k++) {
        double wk = label_want ? label_want[k] : 0, wb = label_want ? label_want[best] : 0;
        if (wk > wb || (wk == wb && total_want[k] > total_want[best])) best = k;
    }
    return best;
}

int stratify_assign(size_t n_items, const size_t *label_start, const size_t *labels, size_t n_labels,
                    const double *ratios, int n_parts, const double *tie_key, int *part) {
    if (n_parts < 1) return -2;
    if (n_items == 0) return 0;
    if (!labels_are_valid(n_items, label_start, labels, n_labels)) return -2;
    if (n_items > SIZE_MAX / sizeof(StratumKey)) return -1;

    size_t n_rows = n_labels ? n_labels : 1;   // calloc(0, ...) may give NULL
    size_t *count = calloc(n_rows, sizeof *count), *mark = calloc(n_rows, sizeof *mark);
    // want[l * n_parts + k]: how many more items with label l part k wants
    double *want = calloc(n_rows, (size_t)n_parts * sizeof *want);
    double *total_want = malloc((size_t)n_parts * sizeof *total_want);
    StratumKey *order = malloc(n_items * sizeof *order);
    int rc = -1;
    if (!count || !mark || !want || !total_want || !order) goto done;

    count_items_per_label(n_items, label_start, labels, count, mark);
    for (size_t l = 0; l < n_labels; l++)
        for (int k = 0; k < n_parts; k++) want[l * (size_t)n_parts + (size_t)k] = ratios[k] * (double)count[l];
    for (int k = 0; k < n_parts; k++) total_want[k] = ratios[k] * (double)n_items;

    for (size_t i = 0; i < n_items; i++)
        order[i] = stratum_key_of_item(i, label_start, labels, n_labels, count, tie_key);
    qsort(order, n_items, sizeof *order, compare_stratum_keys);

    memset(mark, 0, n_rows * sizeof *mark);
    for (size_t r = 0; r < n_items; r++) {
        size_t i = order[r].item, l = order[r].label;
        int best = part_wanting_most(l < n_labels ? &want[l * (size_t)n_parts] : NULL, total_want, n_parts);
        part[i] = best;
        total_want[best] -= 1;
        for (size_t j = label_start[i]; j < label_start[i + 1]; j++)
            if (mark[labels[j]] != i + 1) {
                mark[labels[j]] = i + 1;
                want[labels[j] * (size_t)n_parts + (size_t)best] -= 1;
            }
    }
    rc = 0;
done:
    free(count);
    free(mark);
    free(want);
    free(total_want);
    free(order);
    return rc;
}
