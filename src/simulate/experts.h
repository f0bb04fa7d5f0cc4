// Simulated expert annotators of MED-MNIST: each expert has an 11x11 class transition
// matrix over the 10 digits and `no_obj` (a missed digit), and draws boxes whose IoU with
// the true box exceeds its proficiency.
#ifndef SIM_EXPERTS_H
#define SIM_EXPERTS_H

#include "box.h"
#include "rng.h"

enum { N_DIGITS = 10, NO_OBJ = 10, N_COLS = 11 };

typedef struct {
    double p;       // proficiency: mean of the diagonal draws and the box IoU threshold
    double sigma;   // spread of the diagonal draws
    double zeta;    // floor of the diagonal
} ExpertParams;

// Draws a row-stochastic 11x11 matrix A (rows: true class, then the no_obj row; columns:
// label given, no_obj last). For each row i:
//   a_ii = min(max(zeta, alpha), 1) with alpha ~ N(p, sigma);
//   the rest, 1 - a_ii, is spread over the other 10 columns by a Dirichlet(1,...,1) draw,
//   mixed with the even spread just enough that every a_ij (j != i) is strictly below a_ii.
// When a_ii <= 1/11 no split keeps the row dominant; the rest is then spread evenly, which
// is the closest to dominant a row with that diagonal can be. The diagonal is never changed.
void expert_draw_matrix(Rng *r, const ExpertParams *ep, double A[N_COLS][N_COLS]);

// Label an expert gives a true digit of class `truth` (0..9): a draw from row `truth`;
// NO_OBJ means the expert missed it.
int expert_draw_label(Rng *r, const double A[N_COLS][N_COLS], int truth);

// Label of a false-positive box: a draw from the digit columns of the no_obj row.
int expert_draw_false_label(Rng *r, const double A[N_COLS][N_COLS]);

// A perturbed copy of `truth`: each coordinate moves by N(0, jitter * side), the result is
// clamped to the w x h frame and rounded to 0.01 px, and the draw is repeated until its IoU
// with `truth` is strictly greater than min_iou. When min_iou >= 1, or no draw succeeds in
// 10000 tries, the truth box itself is returned (IoU 1).
Box expert_perturb_box(Rng *r, Box truth, double min_iou, double jitter, double w, double h);

#endif
