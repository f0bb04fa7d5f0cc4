#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *path_under_root(const char *root, const char *name, bool outside_root, char *err, size_t errn) {
    if (!*name) { snprintf(err, errn, "an empty image path"); return NULL; }
    if (name[0] != '/' && !outside_root) {
        // Count the folders the path goes down, component by component: a ".." that would
        // take the count below zero leaves the root.
        long depth = 0;
        for (const char *p = name; *p;) {
            size_t k = strcspn(p, "/");
            if (k == 2 && p[0] == '.' && p[1] == '.') depth--;
            else if (k > 0 && !(k == 1 && p[0] == '.')) depth++;
            if (depth < 0) {
                snprintf(err, errn, "%s: the path leaves the image root with \"..\" (--allow-outside-root allows it)", name);
                return NULL;
            }
            p += k;
            while (*p == '/') p++;
        }
    }
    char *path = path_join(root, name);
    if (!path) snprintf(err, errn, "out of memory");
    return path;
}

char *path_join(const char *dir, const char *name) {
    if (!dir || !*dir || name[0] == '/') return strdup(name);
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (p[k - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int atomic_open(AtomicFile *f, const char *path, char *err, size_t errn) {
    memset(f, 0, sizeof *f);
    size_t n = strlen(path);
    f->path = strdup(path);
    f->tmp = malloc(n + 16);
    if (!f->path || !f->tmp) { snprintf(err, errn, "out of memory"); atomic_abort(f); return -1; }
    snprintf(f->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp);
    if (fd < 0) {
        snprintf(err, errn, "cannot write %s: %s", path, strerror(errno));
        free(f->tmp); f->tmp = NULL;
        atomic_abort(f);
        return -1;
    }
    fchmod(fd, 0644);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        snprintf(err, errn, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        atomic_abort(f);
        return -1;
    }
    return 0;
}

int atomic_commit(AtomicFile *f, char *err, size_t errn) {
    int bad = ferror(f->fp) != 0;
    if (fflush(f->fp) != 0) bad = 1;
    int e = errno;
    if (fclose(f->fp) != 0) { bad = 1; e = errno; }
    f->fp = NULL;
    if (bad) {
        snprintf(err, errn, "cannot write %s: %s", f->path, strerror(e));
        atomic_abort(f);
        return -1;
    }
    if (rename(f->tmp, f->path) != 0) {
        snprintf(err, errn, "cannot rename into %s: %s", f->path, strerror(errno));
        atomic_abort(f);
        return -1;
    }
    free(f->tmp); f->tmp = NULL;
    free(f->path); f->path = NULL;
    return 0;
}

void atomic_abort(AtomicFile *f) {
    if (f->fp) { fclose(f->fp); f->fp = NULL; }
    if (f->tmp) { unlink(f->tmp); free(f->tmp); f->tmp = NULL; }
    free(f->path); f->path = NULL;
}

int write_file_atomic(const char *path, const void *data, size_t n, char *err, size_t errn) {
    AtomicFile f;
    if (atomic_open(&f, path, err, errn) != 0) return -1;
    if (n && fwrite(data, 1, n, f.fp) != n) {
        snprintf(err, errn, "cannot write %s: %s", path, strerror(errno));
        atomic_abort(&f);
        return -1;
    }
    return atomic_commit(&f, err, errn);
}

unsigned char *read_file(const char *path, size_t *n, char *err, size_t errn) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errn, "cannot open %s: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errn, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errn, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    // The size fstat gives, plus one byte to notice a file that grew while it was read.
    size_t cap = (size_t)st.st_size + 1, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) { snprintf(err, errn, "out of memory reading %s", path); close(fd); return NULL; }
    for (;;) {
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) { snprintf(err, errn, "out of memory reading %s", path); free(buf); close(fd); return NULL; }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            snprintf(err, errn, "cannot read %s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    close(fd);
    *n = len;
    return buf;
}

int make_dirs(const char *path, char *err, size_t errn) {
    char *p = strdup(path);
    if (!p) { snprintf(err, errn, "out of memory"); return -1; }
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errn, "cannot create folder %s: %s", p, strerror(errno));
            free(p); return -1;
        }
        p[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errn, "%s is not a folder", path);
        free(p); return -1;
    }
    free(p);
    return 0;
}
