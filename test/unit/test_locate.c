// Locating objects across labels: hand-made images whose clusters are known.
#include <stdlib.h>

#include "check.h"
#include "locate.h"
#include "rng.h"

// Runs locate_clusters with ranks 0..n-1 in input order.
static int locate(const Box *b, const int *who, int n, double thr, int *cl) {
    int rank[64];
    for (int i = 0; i < n; i++) rank[i] = i;
    LocateWork w = { 0 };
    int nc = locate_clusters(b, who, rank, n, thr, &w, cl);
    locate_free(&w);
    return nc;
}

int main(void) {
    // Two annotators, two digits; they disagree on the labels, which locate never sees:
    // each digit is one cluster of two boxes.
    {
        Box b[] = { { 10, 10, 30, 40 }, { 60, 60, 90, 100 }, { 11, 9, 31, 41 }, { 58, 61, 91, 99 } };
        int who[] = { 0, 0, 1, 1 }, cl[4];
        CHECK(locate(b, who, 4, 0.4, cl) == 2);
        CHECK(cl[0] == 0 && cl[2] == 0 && cl[1] == 1 && cl[3] == 1);
    }
    // One annotator's two overlapping boxes never share a cluster, even with IoU 1.
    {
        Box b[] = { { 0, 0, 10, 10 }, { 0, 0, 10, 10 } };
        int who[] = { 0, 0 }, cl[2];
        CHECK(locate(b, who, 2, 0.4, cl) == 2);
        CHECK(cl[0] == 0 && cl[1] == 1);
    }
    // Greedy by IoU: annotator 0's box overlaps two boxes of annotator 1 and joins the one
    // it overlaps most (IoU 0.81 against 0.6); the other stays alone.
    {
        Box b[] = { { 0, 0, 10, 10 }, { 0, 0, 10, 6 }, { 0, 0, 9, 9 } };
        int who[] = { 0, 1, 1 }, cl[3];
        CHECK(locate(b, who, 3, 0.4, cl) == 2);
        CHECK(cl[0] == cl[2] && cl[1] != cl[0]);
    }
    // The order of the links, not of the input: the same boxes listed in another order,
    // with their ranks carried along, give the same clusters.
    {
        Box b[] = { { 0, 0, 10, 10 }, { 0, 0, 10, 6 }, { 0, 0, 9, 9 } };
        Box p[] = { b[2], b[0], b[1] };
        int who[] = { 1, 0, 1 }, rank[] = { 2, 0, 1 }, cl[3];
        LocateWork w = { 0 };
        CHECK(locate_clusters(p, who, rank, 3, 0.4, &w, cl) == 2);
        // numbered by the lowest rank: the cluster of rank 0 (b[0], here p[1]) is 0
        CHECK(cl[1] == 0 && cl[0] == 0 && cl[2] == 1);
        locate_free(&w);
    }
    // Single linkage under the constraint: 0-1 IoU 0.6, 1-2 IoU 0.6, 0-2 IoU below 0.4
    // still make one cluster of three annotators.
    {
        Box b[] = { { 0, 0, 10, 10 }, { 2.5, 0, 12.5, 10 }, { 5, 0, 15, 10 } };
        int who[] = { 0, 1, 2 }, cl[3];
        CHECK(box_iou(b[0], b[1]) == 0.6 && box_iou(b[0], b[2]) < 0.4);
        CHECK(locate(b, who, 3, 0.4, cl) == 1);
    }
    // A link needs IoU strictly above the threshold: 0.6 at threshold 0.6 does not link.
    {
        Box b[] = { { 0, 0, 10, 10 }, { 2.5, 0, 12.5, 10 } };
        int who[] = { 0, 1 }, cl[2];
        CHECK(locate(b, who, 2, 0.6, cl) == 2);
        CHECK(locate(b, who, 2, 0.59, cl) == 1);
    }
    // A chain can't put an annotator in twice: 0-1 (IoU 0.6), then 1-0' is refused because
    // annotator 0 is already in; 0' stays alone.
    {
        Box b[] = { { 0, 0, 10, 10 }, { 2.5, 0, 12.5, 10 }, { 5, 0, 15, 10 } };
        int who[] = { 0, 1, 0 }, cl[3];
        CHECK(locate(b, who, 3, 0.4, cl) == 2);
        CHECK(cl[0] == cl[1] && cl[2] != cl[0]);
    }
    // Ranks must be 0..n-1, each once.
    {
        Box b[] = { { 0, 0, 1, 1 }, { 0, 0, 1, 1 } };
        int who[] = { 0, 1 }, rank[] = { 0, 0 }, cl[2];
        LocateWork w = { 0 };
        CHECK(locate_clusters(b, who, rank, 2, 0.4, &w, cl) == -1);
        locate_free(&w);
    }
    // Random crowded images: the clusters are the same whatever the input order (with the
    // ranks carried along), no cluster holds an annotator twice, and two boxes of one
    // cluster are joined by a chain of links above the threshold.
    {
        Rng r;
        rng_seed(&r, 5, 1);
        int fails = 0;
        for (int t = 0; t < 200; t++) {
            enum { N = 40 };
            Box b[N], p[N];
            int who[N], rank[N], cl[N], perm[N], pw[N], pr[N], pcl[N];
            for (int i = 0; i < N; i++) {
                double x = rng_range(&r, 0, 80), y = rng_range(&r, 0, 80);
                b[i] = (Box){ x, y, x + rng_range(&r, 5, 20), y + rng_range(&r, 5, 20) };
                who[i] = rng_int(&r, 0, 3);
                rank[i] = i;
                perm[i] = i;
            }
            rng_shuffle_int(&r, perm, N);
            for (int i = 0; i < N; i++) { p[i] = b[perm[i]]; pw[i] = who[perm[i]]; pr[i] = rank[perm[i]]; }
            LocateWork w = { 0 };
            int n1 = locate_clusters(b, who, rank, N, 0.3, &w, cl);
            int n2 = locate_clusters(p, pw, pr, N, 0.3, &w, pcl);
            locate_free(&w);
            fails += n1 != n2;
            for (int i = 0; i < N; i++) fails += pcl[i] != cl[perm[i]];
            for (int i = 0; i < N; i++)
                for (int j = i + 1; j < N; j++) fails += cl[i] == cl[j] && who[i] == who[j];
        }
        CHECK(fails == 0);
    }
    return check_report("test_locate");
}
