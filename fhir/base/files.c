/* SPDX-License-Identifier: Apache-2.0 */
/*
 * files.c: mkdir -p, the atomic file, and the folder walk (fg_files.h).
 */
#include "fhir/base/fg_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILES_PATH_MAX 4096
#define WALK_DEFAULT_DEPTH 64
#define ATOMIC_BUFFER (64u << 10)

/* ---- mkdir -p ---- */

int fg_mkdirs(const char *dir, fg_error *err)
{
    char p[FILES_PATH_MAX];
    size_t n = dir ? strlen(dir) : 0;
    if (n == 0 || n >= sizeof(p))
        return fg_error_set(err, FG_EUSAGE, dir ? dir : "", "folder name is empty or too long");
    memcpy(p, dir, n + 1);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = 0;
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return fg_error_set(err, FG_EIO, p, "cannot create the folder: %s", strerror(errno));
        p[i] = c;
    }
    struct stat st;
    if (stat(p, &st) != 0)
        return fg_error_set(err, FG_EIO, p, "cannot create the folder: %s", strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fg_error_set(err, FG_EIO, p, "cannot create the folder: %s", strerror(ENOTDIR));
    return FG_OK;
}

/* ---- the atomic file ---- */

struct fg_atomic_file {
    int fd;
    int failed; /* errno of the first failed write, or 0 */
    size_t len;
    char *tmp, *path;
    char *buf; /* ATOMIC_BUFFER bytes, made at the first small write */
};

static atomic_ulong tmp_counter;

const char *fg_atomic_path(const fg_atomic_file *f)
{
    return f->path;
}

int fg_atomic_open(const char *path, fg_atomic_file **out, fg_error *err)
{
    size_t n = strlen(path);
    if (n == 0 || n >= FILES_PATH_MAX)
        return fg_error_set(err, FG_EUSAGE, path, "file name is empty or too long");
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    fg_atomic_file *f = malloc(sizeof(*f));
    char *tmp = malloc(n + 64), *copy = strdup(path);
    if (!f || !tmp || !copy) {
        free(f);
        free(tmp);
        free(copy);
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    }
    unsigned long k = atomic_fetch_add(&tmp_counter, 1);
    snprintf(tmp, n + 64, "%.*s.%s.%ld-%lu.tmp", (int)dir_len, path, path + dir_len,
             (long)getpid(), k);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        free(f);
        free(copy);
        fg_error_set(err, FG_EIO, tmp, "cannot create the file: %s", strerror(e));
        free(tmp);
        return FG_EIO;
    }
    f->fd = fd;
    f->failed = 0;
    f->len = 0;
    f->tmp = tmp;
    f->path = copy;
    f->buf = NULL;
    *out = f;
    return FG_OK;
}

static int write_fd(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno ? errno : EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush(fg_atomic_file *f)
{
    if (f->len && !f->failed)
        f->failed = write_fd(f->fd, f->buf, f->len);
    f->len = 0;
    return f->failed;
}

int fg_atomic_write(fg_atomic_file *f, const void *data, size_t n, fg_error *err)
{
    if (!f->failed && f->len + n > ATOMIC_BUFFER)
        flush(f);
    if (!f->failed && n >= ATOMIC_BUFFER / 2)
        f->failed = write_fd(f->fd, data, n);
    else if (!f->failed && !f->buf && !(f->buf = malloc(ATOMIC_BUFFER)))
        return fg_error_set(err, FG_ENOMEM, f->path, "out of memory");
    else if (!f->failed) {
        memcpy(f->buf + f->len, data, n);
        f->len += n;
    }
    if (f->failed)
        return fg_error_set(err, FG_EIO, f->path, "write failed: %s", strerror(f->failed));
    return FG_OK;
}

static void atomic_free(fg_atomic_file *f)
{
    free(f->buf);
    free(f->tmp);
    free(f->path);
    free(f);
}

void fg_atomic_abort(fg_atomic_file *f)
{
    if (!f)
        return;
    close(f->fd);
    unlink(f->tmp);
    atomic_free(f);
}

int fg_atomic_commit(fg_atomic_file *f, fg_error *err)
{
    if (!f)
        return FG_OK;
    int e = flush(f);
    if (close(f->fd) != 0 && !e)
        e = errno;
    f->fd = -1;
    const char *what = "write failed";
    if (!e && rename(f->tmp, f->path) != 0) {
        e = errno;
        what = "rename failed";
    }
    if (e) {
        unlink(f->tmp);
        fg_error_set(err, FG_EIO, f->path, "%s: %s", what, strerror(e));
        atomic_free(f);
        return FG_EIO;
    }
    atomic_free(f);
    return FG_OK;
}

int fg_write_file_atomic(const char *path, const void *data, size_t n, fg_error *err)
{
    fg_atomic_file *f;
    int rc = fg_atomic_open(path, &f, err);
    if (rc != FG_OK)
        return rc;
    /* one write, not through the buffer */
    int e = write_fd(f->fd, data, n);
    if (e) {
        fg_error_set(err, FG_EIO, path, "write failed: %s", strerror(e));
        fg_atomic_abort(f);
        return FG_EIO;
    }
    return fg_atomic_commit(f, err);
}

/* ---- the walk ---- */

typedef struct walk_entry {
    char *name;
    unsigned char type; /* DT_* from readdir, DT_UNKNOWN when it must be asked */
} walk_entry;

typedef struct walk {
    const fg_walk_options *o;
    int flags, max_depth;
    size_t reported;
    int (*each)(void *, const char *, const char *);
    void *ud;
    fg_error *err;
} walk;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const walk_entry *)a)->name, ((const walk_entry *)b)->name);
}

static int wanted_name(const walk *w, const char *name)
{
    const char *const *s = w->o ? w->o->suffixes : NULL;
    if (!s)
        return 1;
    size_t n = strlen(name);
    for (; *s; s++) {
        size_t m = strlen(*s);
        if (n >= m && memcmp(name + n - m, *s, m) == 0)
            return 1;
    }
    return 0;
}

/* A folder that cannot be walked (e): skipped when on_error says so. */
static int walk_error(walk *w, const char *dir, const fg_error *e)
{
    if (e->code != FG_ENOMEM && w->o && w->o->on_error &&
        w->o->on_error(w->ud, dir, e) == FG_OK)
        return FG_OK;
    if (w->err)
        *w->err = *e;
    return e->code;
}

/* The sorted entries of dir (hidden ones left out), into *out. */
static int list_folder(walk *w, const char *dir, walk_entry **out, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        int code = e == ENOMEM ? FG_ENOMEM : e == ENOENT || e == ENOTDIR ? FG_ENOTFOUND : FG_EIO;
        return fg_error_set(w->err, code, dir, "cannot open the folder: %s", strerror(e));
    }
    walk_entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc = FG_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            walk_entry *nv = realloc(v, nc * sizeof(*v));
            if (!nv) {
                rc = fg_error_set(w->err, FG_ENOMEM, dir, "out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[n].name = strdup(de->d_name))) {
            rc = fg_error_set(w->err, FG_ENOMEM, dir, "out of memory");
            break;
        }
        v[n++].type = de->d_type;
    }
    closedir(d);
    if (rc != FG_OK) {
        for (size_t i = 0; i < n; i++)
            free(v[i].name);
        free(v);
        return rc;
    }
    qsort(v, n, sizeof(*v), cmp_entry);
    *out = v;
    *count = n;
    return FG_OK;
}

static int walk_folder(walk *w, const char *dir, int depth);

/* One entry of a folder: report it, enter it, or pass it by. */
static int walk_one(walk *w, const char *path, const walk_entry *e, int depth)
{
    int is_dir = e->type == DT_DIR, is_reg = e->type == DT_REG;
    if (e->type == DT_UNKNOWN || e->type == DT_LNK) {
        struct stat st;
        if (stat(path, &st) != 0)
            return FG_OK; /* a dangling link or a file gone meanwhile */
        is_dir = S_ISDIR(st.st_mode);
        is_reg = S_ISREG(st.st_mode);
    }
    int report = (is_reg && (w->flags & FG_WALK_FILES) && wanted_name(w, e->name)) ||
                 (is_dir && (w->flags & FG_WALK_FOLDERS));
    if (report) {
        if (w->o && w->o->max_entries && w->reported >= w->o->max_entries)
            return fg_error_set(w->err, FG_ELIMIT, path, "more than %zu entries",
                                w->o->max_entries);
        w->reported++;
        int rc = w->each(w->ud, path, e->name);
        if (rc != FG_OK)
            return rc;
    }
    if (is_dir && (w->flags & FG_WALK_RECURSE))
        return walk_folder(w, path, depth + 1);
    return FG_OK;
}

static int walk_folder(walk *w, const char *dir, int depth)
{
    fg_error e;
    if (depth > w->max_depth) {
        fg_error_set(&e, FG_ELIMIT, dir, "folders nested deeper than %d levels", w->max_depth);
        return walk_error(w, dir, &e);
    }
    walk_entry *v = NULL;
    size_t n = 0;
    fg_error *saved = w->err;
    w->err = &e;
    int rc = list_folder(w, dir, &v, &n);
    w->err = saved;
    if (rc != FG_OK)
        return walk_error(w, dir, &e);
    char path[FILES_PATH_MAX];
    size_t dl = strlen(dir);
    for (size_t i = 0; i < n && rc == FG_OK; i++) {
        if (dl + 1 + strlen(v[i].name) >= sizeof(path))
            continue; /* no such path can be opened */
        memcpy(path, dir, dl);
        path[dl] = '/';
        strcpy(path + dl + 1, v[i].name);
        rc = walk_one(w, path, &v[i], depth);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    return rc;
}

int fg_walk(const char *dir, const fg_walk_options *o,
            int (*each)(void *ud, const char *path, const char *name), void *ud, fg_error *err)
{
    walk w = {o, o ? o->flags : 0, o && o->max_depth > 0 ? o->max_depth : WALK_DEFAULT_DEPTH,
              0, each, ud, err};
    if (!(w.flags & (FG_WALK_FILES | FG_WALK_FOLDERS)))
        w.flags |= FG_WALK_FILES;
    return walk_folder(&w, dir, 0);
}

/* ---- a folder's names ---- */

typedef struct name_list {
    char **v;
    size_t n, cap;
    const char *dir;
    fg_error *err;
} name_list;

static int add_name(void *ud, const char *path, const char *name)
{
    name_list *l = ud;
    (void)path;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return fg_error_set(l->err, FG_ENOMEM, l->dir, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(name)))
        return fg_error_set(l->err, FG_ENOMEM, l->dir, "out of memory");
    l->n++;
    return FG_OK;
}

int fg_list_names(const char *dir, const char *suffix, size_t max, char ***names, size_t *n,
                  fg_error *err)
{
    const char *const suffixes[] = {suffix, NULL};
    fg_walk_options wo = {.suffixes = suffix ? suffixes : NULL, .max_entries = max};
    name_list l = {NULL, 0, 0, dir, err};
    int rc = fg_walk(dir, &wo, add_name, &l, err);
    if (rc == FG_ELIMIT)
        fg_error_set(err, FG_ELIMIT, dir, "more than %zu files", max);
    if (rc != FG_OK) {
        fg_names_free(l.v, l.n);
        return rc;
    }
    *names = l.v;
    *n = l.n;
    return FG_OK;
}

void fg_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}
