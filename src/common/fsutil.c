#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
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

// Flushes and closes the temporary file (with fsync when durable). Returns -1 with err,
// the temporary file removed, on any write error.
static int atomic_close(AtomicFile *f, bool durable, char *err, size_t errn) {
    int bad = ferror(f->fp) != 0;
    if (fflush(f->fp) != 0) bad = 1;
    int e = errno;
    if (!bad && durable && fsync(fileno(f->fp)) != 0) { bad = 1; e = errno; }
    if (fclose(f->fp) != 0) { bad = 1; e = errno; }
    f->fp = NULL;
    if (bad) {
        snprintf(err, errn, "cannot write %s: %s", f->path, strerror(e));
        atomic_abort(f);
        return -1;
    }
    return 0;
}

// fsync of the folder that holds path, so that a rename in it is on the disk.
static void sync_folder_of(const char *path) {
    char *dir = strdup(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { fsync(fd); close(fd); }
    free(dir);
}

// Renames the temporary file into place (or removes it, with err, on failure). f->path
// stays for the caller; atomic_abort then frees it.
static int atomic_rename(AtomicFile *f, char *err, size_t errn) {
    if (rename(f->tmp, f->path) != 0) {
        snprintf(err, errn, "cannot rename into %s: %s", f->path, strerror(errno));
        atomic_abort(f);
        return -1;
    }
    free(f->tmp);
    f->tmp = NULL;
    return 0;
}

static int commit(AtomicFile *f, bool durable, char *err, size_t errn) {
    if (atomic_close(f, durable, err, errn) != 0 || atomic_rename(f, err, errn) != 0) return -1;
    if (durable) sync_folder_of(f->path);
    atomic_abort(f);   // nothing left to remove: frees the path
    return 0;
}

int atomic_commit(AtomicFile *f, char *err, size_t errn) { return commit(f, false, err, errn); }

int atomic_commit_durable(AtomicFile *f, char *err, size_t errn) { return commit(f, true, err, errn); }

int atomic_commit_set(AtomicFile *f, int n, char *err, size_t errn) {
    int failed = 0, renamed = 0;
    for (int k = 0; k < n && !failed; k++) failed = atomic_close(&f[k], true, err, errn) != 0;
    // Nothing is replaced unless every target can be: an existing target must be a file.
    for (int k = 0; k < n && !failed; k++) {
        struct stat st;
        if (lstat(f[k].path, &st) == 0 && !S_ISREG(st.st_mode)) {
            snprintf(err, errn, "cannot replace %s: not a regular file", f[k].path);
            failed = 1;
        }
    }
    // The old set goes first: from here a crash leaves parts missing, never old beside new.
    for (int k = 0; k < n && !failed; k++)
        if (unlink(f[k].path) != 0 && errno != ENOENT) {
            snprintf(err, errn, "cannot replace %s: %s", f[k].path, strerror(errno));
            failed = 1;
        }
    while (renamed < n && !failed) {
        if (atomic_rename(&f[renamed], err, errn) != 0) failed = 1;
        else renamed++;
    }
    if (failed) {
        // an error (not a crash): the parts already renamed are removed too, so none is left
        for (int k = 0; k < renamed; k++) unlink(f[k].path);
    } else if (n > 0) {
        sync_folder_of(f[0].path);
    }
    for (int k = 0; k < n; k++) atomic_abort(&f[k]);   // temporaries left, and the paths
    return failed ? -1 : 0;
}

int remove_stale_temps(const char *path) {
    size_t n = strlen(path);
    char *pattern = malloc(n + 16);
    if (!pattern) return 0;
    snprintf(pattern, n + 16, "%s.tmp.??????", path);
    glob_t g;
    int removed = 0;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) removed += unlink(g.gl_pathv[i]) == 0;
        globfree(&g);
    }
    free(pattern);
    return removed;
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
