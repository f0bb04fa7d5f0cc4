// Truth inference that learns each annotator: Dawid-Skene EM over located clusters
// (locate.h), with a box-noise model per annotator.
//
// Model. Each cluster c has a latent state z in {0..K-1} (a real object of that class)
// or K (no_obj: no object, the cluster is a false positive). Every annotator r who read
// the cluster's image gives one observation l in {0..K-1, K}: the label of its box in the
// cluster, or K when it has no box there (for a real object: a miss). Given z, the
// observations are independent with P(l | z) = matrix[r][z][l]; z has the prior
// prior[z]. Row K of an annotator's matrix is the label distribution of its false
// positives (and, in column K, how often it draws no box where another annotator drew a
// false one).
//
// Estimation. The posterior T[c][z] starts from the vote shares: the share of the
// cluster's readers who gave each l (column K: those who drew nothing). Each iteration
// is an M-step (prior and matrices from T, with Dirichlet smoothing: `smoothing` pseudo-
// counts in every cell) and an E-step (T and the log-likelihood of the observations).
// It stops when the relative change of the log-likelihood is at most `tol`, or after
// `max_iter` iterations. Clusters with the same readers and the same observations have
// the same posterior: EM runs over the distinct patterns, each counted with its
// multiplicity, so an iteration costs O(patterns), not O(clusters).
//
// Boxes. Annotator r's coordinate q (x1, y1, x2, y2) is the object's plus Gaussian noise
// with standard deviation spread[r][q] times the object's side (width for x, height for
// y). The spreads are estimated once the classes have converged, weighted by each
// cluster's P(real): a box's error against the precision-weighted mean of the other boxes
// of its cluster has variance spread^2 + the variance of that mean, which gives a fixed
// point iterated to a relative change of 1e-6 (at most 100 times). Spreads are at least
// EM_MIN_SPREAD. The fused box is the precision-weighted mean of the cluster's boxes.
//
// Determinism. Patterns are numbered in cluster order and every sum is taken in a fixed
// order (the spreads' sums per fixed block of clusters, then the blocks in order), so the
// result is bitwise the same for any number of threads. Renumbering the annotators or
// classes permutes the result and can change only the last bits of its sums.
#ifndef MAD_TRUTH_EM_H
#define MAD_TRUTH_EM_H

#include <stddef.h>

#include "box.h"

#define EM_MIN_SPREAD 1e-3

// The clusters of every record, as flat arrays (all borrowed by em_fit).
typedef struct {
    int n_classes;              // K; state K is no_obj
    int n_annotators;           // R
    long n_clusters;            // C
    const long *member_start;   // (C + 1): cluster c's boxes are [member_start[c], member_start[c+1])
    const int *member_annotator;   // (M) 0..R-1, distinct within a cluster
    const int *member_label;       // (M) 0..K-1
    const Box *member_box;         // (M) pixels, not inverted; NULL: no box model
    const long *cluster_readers;   // (C) the cluster's reader set: an index into readers_start
    const long *readers_start;     // (S + 1): reader set s is readers[readers_start[s] .. readers_start[s+1])
    const int *readers;            // annotators, each set ascending and holding its clusters' annotators
} EmData;

typedef struct {
    double smoothing;           // Dirichlet pseudo-count per cell of the prior and the matrices
    int max_iter;               // at least 1
    double tol;                 // relative change of the log-likelihood that ends the iterations
} EmOptions;

typedef struct {
    int K, R;                   // S = K + 1 states
    double *prior;              // (S)
    double *matrix;             // (R, S, S): [(r * S + z) * S + l] = P(annotator r gives l | truth z)
    double *spread;             // (R, 4): relative box noise of x1, y1, x2, y2
    long *spread_n;             // (R): the boxes each annotator's spread was estimated from
    long *boxes;                // (R): boxes drawn
    long *clusters_read;        // (R): clusters whose image the annotator read
    int iterations;             // EM's
    int spread_iterations;      // the spreads' fixed point's
    double log_likelihood;      // of the observations under the final parameters
    long n_patterns;
    // private
    long *pattern_of;           // (C)
    double *post;               // (P, S) posterior of each pattern
    double *log_post;           // (P, S) its logarithm, up to a constant per pattern
} EmFit;

// Fits the model. Returns 0, or -1 when out of memory or the data break the contract
// (message in err).
int em_fit(const EmData *d, const EmOptions *o, EmFit *fit, char *err, size_t errn);
void em_free(EmFit *fit);

// Cluster c's posterior over the S states.
const double *em_posterior(const EmFit *fit, long c);
// P(class | real) of cluster c, out[0..K-1], computed from the logarithms so that it is
// exact even where P(real) underflows. Returns the most probable class (the lowest on ties).
int em_class_probs(const EmFit *fit, long c, double *out);
// The precision-weighted mean of cluster c's boxes (a lone box is returned as it is).
Box em_fused_box(const EmData *d, const EmFit *fit, long c);
// An annotator's accuracy on real objects: sum over classes z of P(z | real) P(r gives z | z).
double em_accuracy(const EmFit *fit, int r);
// Its miss rate on real objects: sum over z of P(z | real) P(r gives no box | z).
double em_miss_rate(const EmFit *fit, int r);

#endif
