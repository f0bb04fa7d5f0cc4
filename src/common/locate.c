#include "locate.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    double iou;
    int lo, hi;        // the two boxes' ranks, lo < hi
    int a, b;          // the boxes
} Link;

// A box's place in the sweep: by x1, then rank.
typedef struct {
    double x1;
    int rank, i;
} XKey;

typedef struct {
    int cap;
    int *by_rank;      // (n) the box of each rank
    int *root;         // (n) union-find parent
    int *next;         // (n) the next box of the same cluster (the cluster is a ring)
    int *number;       // (n) at a root: the cluster's number
    XKey *by_x;        // (n) boxes sorted by x1
    Link *link;
    long cap_link;
} Scratch;

static int grow(Scratch *s, int n) {
    if (n <= s->cap) return 0;
    int cap = n * 2 + 16;
    int *p[4];
    for (int k = 0; k < 4; k++) p[k] = malloc(sizeof(int) * (size_t)cap);
    XKey *x = malloc(sizeof *x * (size_t)cap);
    if (!p[0] || !p[1] || !p[2] || !p[3] || !x) {
        for (int k = 0; k < 4; k++) free(p[k]);
        free(x);
        return -1;
    }
    free(s->by_rank); free(s->root); free(s->next); free(s->number); free(s->by_x);
    s->by_rank = p[0]; s->root = p[1]; s->next = p[2]; s->number = p[3]; s->by_x = x;
    s->cap = cap;
    return 0;
}

static int push_link(Scratch *s, long *n, Link l) {
    if (*n == s->cap_link) {
        long cap = s->cap_link ? s->cap_link * 2 : 256;
        Link *p = realloc(s->link, sizeof *p * (size_t)cap);
        if (!p) return -1;
        s->link = p;
        s->cap_link = cap;
    }
    s->link[(*n)++] = l;
    return 0;
}

static int cmp_x(const void *pa, const void *pb) {
    const XKey *a = pa, *b = pb;
    if (a->x1 != b->x1) return a->x1 < b->x1 ? -1 : 1;
    return (a->rank > b->rank) - (a->rank < b->rank);
}

static int cmp_link(const void *pa, const void *pb) {
    const Link *a = pa, *b = pb;
    if (a->iou != b->iou) return a->iou > b->iou ? -1 : 1;
    if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
    return (a->hi > b->hi) - (a->hi < b->hi);
}

static int find_root(int *root, int i) {
    while (root[i] != i) {
        root[i] = root[root[i]];
        i = root[i];
    }
    return i;
}

// True when no annotator has a box in both clusters (their rings through next).
static int disjoint_annotators(const Scratch *s, const int *annotator, int a, int b) {
    int i = a;
    do {
        int j = b;
        do {
            if (annotator[i] == annotator[j]) return 0;
            j = s->next[j];
        } while (j != b);
        i = s->next[i];
    } while (i != a);
    return 1;
}

int locate_clusters(const Box *box, const int *annotator, const int *rank, int n, double iou_thr, LocateWork *w,
                    int *cluster_of) {
    if (n <= 0) return 0;
    if (!w->priv && !(w->priv = calloc(1, sizeof(Scratch)))) return -1;
    Scratch *s = w->priv;
    if (grow(s, n) != 0) return -1;
    // the ranks must be 0..n-1, each once
    for (int i = 0; i < n; i++) s->by_rank[i] = -1;
    for (int i = 0; i < n; i++) {
        if (rank[i] < 0 || rank[i] >= n || s->by_rank[rank[i]] >= 0) return -1;
        s->by_rank[rank[i]] = i;
    }

    // candidate links: pairs that overlap in x (the sweep), from two annotators, IoU > thr
    for (int i = 0; i < n; i++) s->by_x[i] = (XKey){ box[i].x1, rank[i], i };
    qsort(s->by_x, (size_t)n, sizeof *s->by_x, cmp_x);
    long n_link = 0;
    for (int p = 0; p < n; p++) {
        int a = s->by_x[p].i;
        for (int q = p + 1; q < n; q++) {
            int b = s->by_x[q].i;
            if (box[b].x1 >= box[a].x2) break;   // this one and every later one lie to the right
            if (annotator[a] == annotator[b]) continue;
            double iou = box_iou(box[a], box[b]);
            if (!(iou > iou_thr)) continue;
            Link l = { iou, rank[a] < rank[b] ? rank[a] : rank[b], rank[a] < rank[b] ? rank[b] : rank[a], a, b };
            if (push_link(s, &n_link, l) != 0) return -1;
        }
    }
    if (n_link > 1) qsort(s->link, (size_t)n_link, sizeof *s->link, cmp_link);

    // the links by descending IoU, each joining two clusters with no annotator in common
    for (int i = 0; i < n; i++) {
        s->root[i] = i;
        s->next[i] = i;
    }
    for (long k = 0; k < n_link; k++) {
        int ra = find_root(s->root, s->link[k].a), rb = find_root(s->root, s->link[k].b);
        if (ra == rb || !disjoint_annotators(s, annotator, ra, rb)) continue;
        int t = s->next[ra];   // splice the two rings into one
        s->next[ra] = s->next[rb];
        s->next[rb] = t;
        s->root[rb] = ra;
    }

    // number the clusters by their lowest rank
    for (int i = 0; i < n; i++) s->number[i] = -1;
    int n_clusters = 0;
    for (int r = 0; r < n; r++) {
        int root = find_root(s->root, s->by_rank[r]);
        if (s->number[root] < 0) s->number[root] = n_clusters++;
    }
    for (int i = 0; i < n; i++) cluster_of[i] = s->number[find_root(s->root, i)];
    return n_clusters;
}

void locate_free(LocateWork *w) {
    Scratch *s = w->priv;
    if (s) {
        free(s->by_rank); free(s->root); free(s->next); free(s->number); free(s->by_x); free(s->link);
        free(s);
    }
    w->priv = NULL;
}
