# Writes N records (awk -v n=N -v seed=S) for `make bench-score`: 10 classes, about 5 truth
# boxes and 20 detections per image on a 1024x1024 frame; most detections lie near a truth
# box, with scores that favour them, the rest anywhere.
BEGIN {
    if (n == "") n = 5000
    srand(seed == "" ? 1 : seed)
    for (i = 0; i < n; i++) {
        nt = int(11 * rand())
        line = sprintf("{\"id\":\"s%05d\",\"image\":\"s%05d.jpg\",\"width\":1024,\"height\":1024,\"truth\":[", i, i)
        for (k = 0; k < nt; k++) {
            w[k] = 20 + 200 * rand(); h[k] = 20 + 200 * rand()
            x[k] = (1024 - w[k]) * rand(); y[k] = (1024 - h[k]) * rand(); lab[k] = int(10 * rand())
            line = line (k ? "," : "") sprintf("{\"label\":\"%d\",\"box\":[%.2f,%.2f,%.2f,%.2f]}", lab[k], x[k], y[k], x[k] + w[k], y[k] + h[k])
        }
        line = line "],\"detections\":["
        for (d = 0; d < 20; d++) {
            if (nt > 0 && rand() < 0.6) {
                k = int(nt * rand())
                dx = 0.15 * w[k] * (2 * rand() - 1); dy = 0.15 * h[k] * (2 * rand() - 1)
                x1 = x[k] + dx; y1 = y[k] + dy; x2 = x1 + w[k] * (0.85 + 0.3 * rand()); y2 = y1 + h[k] * (0.85 + 0.3 * rand())
                l = rand() < 0.85 ? lab[k] : int(10 * rand()); s = 0.3 + 0.7 * rand()
            } else {
                bw = 20 + 200 * rand(); bh = 20 + 200 * rand()
                x1 = (1024 - bw) * rand(); y1 = (1024 - bh) * rand(); x2 = x1 + bw; y2 = y1 + bh
                l = int(10 * rand()); s = 0.6 * rand()
            }
            if (x1 < 0) x1 = 0; if (y1 < 0) y1 = 0; if (x2 > 1024) x2 = 1024; if (y2 > 1024) y2 = 1024
            line = line (d ? "," : "") sprintf("{\"label\":\"%d\",\"box\":[%.2f,%.2f,%.2f,%.2f],\"score\":%.4f}", l, x1, y1, x2, y2, s)
        }
        print line "]}"
    }
}
