// Locating objects across labels: the boxes of one image grouped into clusters, each
// cluster holding at most one box per annotator, whatever labels the boxes carry. This is
// the first stage of the Dawid-Skene truth inference (truth_em.h); WBF, by contrast,
// clusters per label.
//
// The assignment is greedy by IoU: every pair of boxes from two different annotators
// with IoU > iou_thr is a candidate link; links are taken by descending IoU, and a link
// joins its two boxes' clusters when no annotator has a box in both (single linkage under
// the one-box-per-annotator constraint). Ties in IoU are taken in the boxes' rank order,
// so the result depends only on the boxes and their ranks, not on the input order.
#ifndef MAD_LOCATE_H
#define MAD_LOCATE_H

#include "box.h"

// Reusable scratch of locate_clusters; zero-initialise, free with locate_free.
typedef struct {
    void *priv;
} LocateWork;

// Groups n boxes (pixels, not inverted) drawn by annotator[i] into clusters.
// rank[i] is a total order of the boxes that does not depend on the input order (the
// caller sorts by annotator name, label and coordinates): it breaks IoU ties and numbers
// the clusters. On return cluster_of[i] is box i's cluster, clusters numbered 0.. in the
// order of their lowest-ranked box. Returns the number of clusters, or -1 when out of
// memory. Cost: a sweep over the boxes sorted by x1, then the overlapping pairs.
int locate_clusters(const Box *box, const int *annotator, const int *rank, int n, double iou_thr, LocateWork *w,
                    int *cluster_of);
void locate_free(LocateWork *w);

#endif
