// Files that are never left half-written: data goes to a temporary name in the target's
// folder, then rename() moves it into place.
#ifndef MAD_FSUTIL_H
#define MAD_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

// Writes n bytes to path atomically. On failure returns -1 with a message in err.
int write_file_atomic(const char *path, const void *data, size_t n, char *err, size_t errn);

// A stream that becomes `path` only when committed.
typedef struct {
    FILE *fp;
    char *path;
    char *tmp;
} AtomicFile;

int atomic_open(AtomicFile *f, const char *path, char *err, size_t errn);
// Flushes and renames into place. Returns -1 on any write error (the file is removed).
int atomic_commit(AtomicFile *f, char *err, size_t errn);
// As atomic_commit, and durable: fsync of the file before the rename and of its folder
// after, so that a power loss leaves the old file or the new one, whole (models, checkpoints).
int atomic_commit_durable(AtomicFile *f, char *err, size_t errn);
// Commits n files as one set (split's parts): every file is written and synced; then every
// old target is removed, and only then are the new ones renamed into place. A crash may
// leave parts missing, never parts of two runs side by side; an error leaves none of them.
int atomic_commit_set(AtomicFile *f, int n, char *err, size_t errn);
// Removes what a killed writer left of path: the temporary files path.tmp.XXXXXX. Returns
// how many were removed.
int remove_stale_temps(const char *path);
// Removes the temporary file, if one is left, and frees the paths (also after a commit).
void atomic_abort(AtomicFile *f);

// Reads a whole regular file into a malloc'd buffer. Anything else (a FIFO, a device such
// as /dev/zero, a folder) is refused without blocking. Returns NULL with err on failure.
unsigned char *read_file(const char *path, size_t *n, char *err, size_t errn);
// Creates a folder and its parents (like mkdir -p). Returns -1 with err on failure.
int make_dirs(const char *path, char *err, size_t errn);
// Joins a folder and a name into a malloc'd path.
char *path_join(const char *dir, const char *name);
// The path of a record's image: an absolute name as given; a relative one joined to root
// (NULL: the working folder), refused when a ".." takes it out of root, unless
// outside_root. The rule is lexical: symbolic links inside root are followed. Returns a
// malloc'd path, or NULL with err.
char *path_under_root(const char *root, const char *name, bool outside_root, char *err, size_t errn);

#endif
