/*
 * term.c: the terminology table.
 *
 * Every .tsv file of the folder is read whole into one buffer that the
 * table keeps; fields are cut in place (tabs and newlines become NULs), so
 * an entry's strings point into those buffers and loading costs one
 * allocation per file plus the entry arrays. Two sorted index arrays serve
 * the lookups: one by (system, code), one by (system, display ignoring
 * case). A display index row may come from the optional `synonyms` column
 * (alternatives separated by '|'), so it names its entry by number.
 *
 * Codes may appear in more than one file (two parts of the engine can both
 * list a code); lookups return the first row loaded, files being read in
 * name order.
 */
#include "fg_term.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fg_data.h"
#include "fg_limits.h"

#define TERM_MAX_FILE_BYTES (64u << 20)
#define TERM_MAX_FILES 256

typedef struct term_disp {
    const char *system;
    const char *text;
    size_t entry;
} term_disp;

struct fg_terminology {
    char **bufs;
    size_t n_bufs;
    fg_code_entry *entries; /* in load order */
    size_t n, cap;
    size_t *by_code; /* entry numbers sorted by system, code, load order */
    term_disp *disp; /* sorted by system, display ignoring case, load order */
    size_t n_disp, cap_disp;
};

void fg_terminology_free(fg_terminology *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_bufs; i++)
        free(t->bufs[i]);
    free(t->bufs);
    free(t->entries);
    free(t->by_code);
    free(t->disp);
    free(t);
}

static int grow(void **v, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    while (nc < need)
        nc *= 2;
    void *nv = realloc(*v, nc * item);
    if (!nv)
        return -1;
    *v = nv;
    *cap = nc;
    return 0;
}

static int add_disp(fg_terminology *t, const char *system, const char *text, size_t entry)
{
    if (!text || !*text)
        return 0;
    if (grow((void **)&t->disp, &t->cap_disp, t->n_disp + 1, sizeof(*t->disp)))
        return -1;
    t->disp[t->n_disp++] = (term_disp){system, text, entry};
    return 0;
}

/* Split line into at most max tab-separated fields, in place. */
static size_t split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = 0;
        p = tab + 1;
    }
    return n;
}

enum { COL_SYSTEM, COL_CODE, COL_DISPLAY, COL_UNIT, COL_SYNONYMS, COL_N };
#define TERM_MAX_COLS 32

static int load_file(fg_terminology *t, const char *path, fg_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = fg_read_file(path, TERM_MAX_FILE_BYTES, &buf, &len, err);
    if (rc != FG_OK)
        return rc;
    char **nb = realloc(t->bufs, (t->n_bufs + 1) * sizeof(char *));
    if (!nb) {
        free(buf);
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    }
    t->bufs = nb;
    t->bufs[t->n_bufs++] = buf;

    int col[COL_N] = {-1, -1, -1, -1, -1};
    size_t ncols = 0;
    int line_no = 0;
    size_t rows = 0;
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        char *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = 0;
        size_t ll = strlen(p);
        if (ll && p[ll - 1] == '\r')
            p[ll - 1] = 0;
        line_no++;
        char *f[TERM_MAX_COLS];
        if (line_no == 1) {
            ncols = split_tabs(p, f, TERM_MAX_COLS);
            for (size_t i = 0; i < ncols; i++) {
                if (strcmp(f[i], "system_uri") == 0)
                    col[COL_SYSTEM] = (int)i;
                else if (strcmp(f[i], "code") == 0)
                    col[COL_CODE] = (int)i;
                else if (strcmp(f[i], "display") == 0)
                    col[COL_DISPLAY] = (int)i;
                else if (strcmp(f[i], "unit") == 0)
                    col[COL_UNIT] = (int)i;
                else if (strcmp(f[i], "synonyms") == 0)
                    col[COL_SYNONYMS] = (int)i;
            }
            if (col[COL_SYSTEM] < 0 || col[COL_CODE] < 0 || col[COL_DISPLAY] < 0) {
                rc = fg_error_set(err, FG_EINVALID, path,
                                  "line 1: the header must name the columns system_uri, code, "
                                  "display (and unit, source)");
                if (err)
                    err->line = 1;
                return rc;
            }
            p = next;
            continue;
        }
        if (*p == 0 || *p == '#') { /* blank lines and comments */
            p = next;
            continue;
        }
        size_t nf = split_tabs(p, f, TERM_MAX_COLS);
        if (nf != ncols) {
            rc = fg_error_set(err, FG_EINVALID, path, "line %d: %zu fields where the header has %zu",
                              line_no, nf, ncols);
            if (err)
                err->line = line_no;
            return rc;
        }
        const char *sys = f[col[COL_SYSTEM]], *code = f[col[COL_CODE]];
        if (!*sys || !*code) {
            rc = fg_error_set(err, FG_EINVALID, path, "line %d: empty system_uri or code",
                              line_no);
            if (err)
                err->line = line_no;
            return rc;
        }
        if (++rows > FG_MAX_TABLE_ROWS)
            return fg_error_set(err, FG_ELIMIT, path, "more than FG_MAX_TABLE_ROWS (%d) rows",
                                FG_MAX_TABLE_ROWS);
        if (grow((void **)&t->entries, &t->cap, t->n + 1, sizeof(*t->entries)))
            return fg_error_set(err, FG_ENOMEM, path, "out of memory");
        const char *unit = col[COL_UNIT] >= 0 ? f[col[COL_UNIT]] : NULL;
        t->entries[t->n] = (fg_code_entry){sys, code, f[col[COL_DISPLAY]],
                                           unit && *unit ? unit : NULL};
        if (add_disp(t, sys, f[col[COL_DISPLAY]], t->n))
            return fg_error_set(err, FG_ENOMEM, path, "out of memory");
        if (col[COL_SYNONYMS] >= 0) {
            char *s = f[col[COL_SYNONYMS]];
            while (s && *s) {
                char *bar = strchr(s, '|');
                if (bar)
                    *bar = 0;
                if (add_disp(t, sys, s, t->n))
                    return fg_error_set(err, FG_ENOMEM, path, "out of memory");
                s = bar ? bar + 1 : NULL;
            }
        }
        t->n++;
        p = next;
    }
    if (line_no == 0)
        return fg_error_set(err, FG_EINVALID, path, "empty file: a header row is required");
    return FG_OK;
}

static const fg_terminology *sort_ctx;

static int cmp_code(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const fg_code_entry *ex = &sort_ctx->entries[x], *ey = &sort_ctx->entries[y];
    int c = strcmp(ex->system, ey->system);
    if (!c)
        c = strcmp(ex->code, ey->code);
    if (!c)
        c = x < y ? -1 : x > y;
    return c;
}

static int cmp_disp(const void *a, const void *b)
{
    const term_disp *x = a, *y = b;
    int c = strcmp(x->system, y->system);
    if (!c)
        c = strcasecmp(x->text, y->text);
    if (!c)
        c = x->entry < y->entry ? -1 : x->entry > y->entry;
    return c;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted list of *.tsv names of dir into *names (each malloc'd). */
static int list_tsv(const char *dir, char ***names, size_t *n, fg_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return fg_error_set(err, FG_ENOTFOUND, dir, "cannot open the terminology folder");
    char **v = NULL;
    size_t cnt = 0;
    int rc = FG_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".tsv"))
            continue;
        if (cnt >= TERM_MAX_FILES) {
            rc = fg_error_set(err, FG_ELIMIT, dir, "more than %d terminology files",
                              TERM_MAX_FILES);
            goto cleanup;
        }
        char **nv = realloc(v, (cnt + 1) * sizeof(char *));
        if (!nv || !(nv[cnt] = strdup(de->d_name))) {
            if (nv)
                v = nv;
            rc = fg_error_set(err, FG_ENOMEM, dir, "out of memory");
            goto cleanup;
        }
        v = nv;
        cnt++;
    }
    qsort(v, cnt, sizeof(char *), cmp_str);
    *names = v;
    *n = cnt;
    v = NULL;
    cnt = 0;
cleanup:
    for (size_t i = 0; i < cnt; i++)
        free(v[i]);
    free(v);
    closedir(d);
    return rc;
}

int fg_terminology_load(const char *dir, fg_terminology **out, fg_error *err)
{
    fg_terminology *t = calloc(1, sizeof(*t));
    char **names = NULL;
    size_t n_names = 0;
    char path[4096];
    int rc = FG_OK;
    if (!t)
        return fg_error_set(err, FG_ENOMEM, dir, "out of memory");
    struct stat st;
    if (stat(dir, &st) != 0) {
        rc = fg_error_set(err, FG_ENOTFOUND, dir, "no such terminology folder or file");
        goto cleanup;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = list_tsv(dir, &names, &n_names, err);
        if (rc != FG_OK)
            goto cleanup;
        for (size_t i = 0; i < n_names; i++) {
            if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path)) {
                rc = fg_error_set(err, FG_ELIMIT, dir, "path too long");
                goto cleanup;
            }
            rc = load_file(t, path, err);
            if (rc != FG_OK)
                goto cleanup;
        }
    } else {
        rc = load_file(t, dir, err);
        if (rc != FG_OK)
            goto cleanup;
    }
    if (t->n) {
        t->by_code = malloc(t->n * sizeof(size_t));
        if (!t->by_code) {
            rc = fg_error_set(err, FG_ENOMEM, dir, "out of memory");
            goto cleanup;
        }
        for (size_t i = 0; i < t->n; i++)
            t->by_code[i] = i;
        sort_ctx = t; /* load runs once at start-up, before any thread */
        qsort(t->by_code, t->n, sizeof(size_t), cmp_code);
        sort_ctx = NULL;
        qsort(t->disp, t->n_disp, sizeof(*t->disp), cmp_disp);
    }
    *out = t;
    t = NULL;
cleanup:
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    fg_terminology_free(t);
    return rc;
}

const fg_code_entry *fg_terminology_find(const fg_terminology *t, const char *system,
                                         const char *code)
{
    if (!t || !system || !code)
        return NULL;
    size_t lo = 0, hi = t->n;
    while (lo < hi) { /* first row not less than (system, code) */
        size_t mid = lo + (hi - lo) / 2;
        const fg_code_entry *e = &t->entries[t->by_code[mid]];
        int c = strcmp(e->system, system);
        if (!c)
            c = strcmp(e->code, code);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n) {
        const fg_code_entry *e = &t->entries[t->by_code[lo]];
        if (strcmp(e->system, system) == 0 && strcmp(e->code, code) == 0)
            return e;
    }
    return NULL;
}

const fg_code_entry *fg_terminology_lookup_display(const fg_terminology *t, const char *system,
                                                   const char *text)
{
    if (!t || !system || !text)
        return NULL;
    size_t lo = 0, hi = t->n_disp;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const term_disp *d = &t->disp[mid];
        int c = strcmp(d->system, system);
        if (!c)
            c = strcasecmp(d->text, text);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n_disp && strcmp(t->disp[lo].system, system) == 0 &&
        strcasecmp(t->disp[lo].text, text) == 0)
        return &t->entries[t->disp[lo].entry];
    return NULL;
}

size_t fg_terminology_count(const fg_terminology *t)
{
    return t ? t->n : 0;
}

const fg_code_entry *fg_terminology_at(const fg_terminology *t, size_t i)
{
    return t && i < t->n ? &t->entries[i] : NULL;
}

/* ---- check digits ---- */

static const unsigned char verhoeff_d[10][10] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
    {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
    {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
    {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
    {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
};
static const unsigned char verhoeff_p[8][10] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
    {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
    {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
    {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
};

/* An SCTID is 6 to 18 digits without a leading zero; its last digit is a
 * Verhoeff check digit over the whole string, and the two digits before it
 * are the partition identifier: 00 (concept, short format) or 10 (concept,
 * long format with a namespace). */
int fg_snomed_valid(const char *code)
{
    if (!code)
        return 0;
    size_t n = strlen(code);
    if (n < 6 || n > 18 || code[0] == '0')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (code[i] < '0' || code[i] > '9')
            return 0;
    if (!((code[n - 3] == '0' || code[n - 3] == '1') && code[n - 2] == '0'))
        return 0;
    unsigned c = 0;
    for (size_t i = 0; i < n; i++)
        c = verhoeff_d[c][verhoeff_p[i % 8][code[n - 1 - i] - '0']];
    return c == 0;
}

/* LOINC: digits, a hyphen, one check digit (the mod-10 scheme LOINC
 * publishes: double every other digit from the rightmost, sum the digits
 * of the products and the rest, check = (10 - sum % 10) % 10). Answer and
 * part codes (LA..., LP...) are accepted by shape only, as their check
 * digit follows the same rule over the number but is not what a table of
 * answers is checked against here. */
int fg_loinc_valid(const char *code)
{
    if (!code || !*code)
        return 0;
    const char *p = code;
    int prefixed = 0;
    if (p[0] == 'L' && (p[1] == 'A' || p[1] == 'P')) {
        prefixed = 1;
        p += 2;
    }
    const char *hy = strchr(p, '-');
    if (!hy || hy == p || hy - p > 10)
        return 0;
    for (const char *q = p; q < hy; q++)
        if (*q < '0' || *q > '9')
            return 0;
    if (hy[1] < '0' || hy[1] > '9' || hy[2] != 0)
        return 0;
    if (prefixed)
        return 1;
    int sum = 0, dbl = 1;
    for (const char *q = hy - 1; q >= p; q--) {
        int d = *q - '0';
        if (dbl) {
            d *= 2;
            d = d / 10 + d % 10;
        }
        sum += d;
        dbl = !dbl;
    }
    return (10 - sum % 10) % 10 == hy[1] - '0';
}
