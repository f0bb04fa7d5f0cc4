# Writes N records (awk -v n=N -v seed=S), each with 3 annotators x 10 boxes over 10 objects
# on a 1024x1024 frame: every annotator draws each object once, jittered, with a label that
# is right 8 times in 10. The input of `make bench-fuse`.
BEGIN {
    if (n == "") n = 10000
    srand(seed == "" ? 1 : seed)
    for (i = 0; i < n; i++) {
        for (k = 0; k < 10; k++) {
            w[k] = 20 + 200 * rand(); h[k] = 20 + 200 * rand()
            x[k] = (1024 - w[k]) * rand(); y[k] = (1024 - h[k]) * rand()
            lab[k] = int(10 * rand())
        }
        line = sprintf("{\"id\":\"b%06d\",\"image\":\"b%06d.jpg\",\"width\":1024,\"height\":1024,\"annotators\":[\"R1\",\"R2\",\"R3\"],\"annotations\":[", i, i)
        sep = ""
        for (r = 1; r <= 3; r++)
            for (k = 0; k < 10; k++) {
                l = rand() < 0.8 ? lab[k] : int(10 * rand())
                x1 = x[k] + 0.05 * w[k] * (2 * rand() - 1); y1 = y[k] + 0.05 * h[k] * (2 * rand() - 1)
                x2 = x[k] + w[k] + 0.05 * w[k] * (2 * rand() - 1); y2 = y[k] + h[k] + 0.05 * h[k] * (2 * rand() - 1)
                if (x1 < 0) x1 = 0; if (y1 < 0) y1 = 0; if (x2 > 1024) x2 = 1024; if (y2 > 1024) y2 = 1024
                line = line sep sprintf("{\"annotator\":\"R%d\",\"label\":\"%d\",\"box\":[%.2f,%.2f,%.2f,%.2f]}", r, l, x1, y1, x2, y2)
                sep = ","
            }
        print line "]}"
    }
}
