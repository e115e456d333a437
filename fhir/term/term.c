/* SPDX-License-Identifier: Apache-2.0 */
/*
 * term.c: the terminology table.
 *
 * Every .tsv file of the folder is read with fg_tsv_load and the table
 * keeps those fg_tsv tables, so an entry's strings are their cells and
 * loading costs one table per file plus the entry arrays. Two indexes serve
 * the lookups: an open-addressing hash of (system, code), which every term
 * the mapper writes and every code grounding checks goes through, and an
 * array sorted by (system, display ignoring case). A display index row may
 * come from the optional `synonyms` column (alternatives separated by '|'),
 * so it names its entry by number.
 *
 * Codes may appear in more than one file (two parts of the engine can both
 * list a code); lookups return the first row loaded, files being read in
 * name order.
 */
#include "fhir/term/fg_term.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fhir/base/fg_arena.h"
#include "fhir/base/fg_files.h"
#include "fhir/base/fg_hash.h"
#include "fhir/base/fg_tsv.h"

#define TERM_MAX_FILES 256

typedef struct term_disp {
    const char *system;
    const char *text;
    size_t entry;
} term_disp;

struct fg_terminology {
    fg_tsv **tables; /* one a file; the entries' strings point into them */
    size_t n_tables;
    fg_arena synonyms; /* copies of the synonyms column's alternatives */
    fg_code_entry *entries; /* in load order */
    size_t n, cap;
    size_t *slots;   /* hash of (system, code): entry number + 1, 0 empty; first row wins */
    size_t n_slots;  /* a power of two, at least twice the entries */
    term_disp *disp; /* sorted by system, display ignoring case, load order */
    size_t n_disp, cap_disp;
};

void fg_terminology_free(fg_terminology *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_tables; i++)
        fg_tsv_free(t->tables[i]);
    free(t->tables);
    fg_arena_free(&t->synonyms);
    free(t->entries);
    free(t->slots);
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

/* The synonyms cell of one row: each '|'-separated alternative, copied
 * into the table's arena, indexed as a display of entry. */
static int add_synonyms(fg_terminology *t, const char *sys, const char *cell, size_t entry)
{
    while (*cell) {
        size_t n = strcspn(cell, "|");
        char *s = fg_arena_strndup(&t->synonyms, cell, n);
        if (!s || add_disp(t, sys, s, entry))
            return -1;
        cell += n + (cell[n] == '|');
    }
    return 0;
}

static int load_file(fg_terminology *t, const char *path, fg_error *err)
{
    fg_tsv *tab = NULL;
    size_t cs, cc, cd, cu, cy;
    int rc = fg_tsv_load(path, &tab, err);
    if (rc != FG_OK)
        return rc;
    fg_tsv **nt = realloc(t->tables, (t->n_tables + 1) * sizeof(*nt));
    if (!nt) {
        fg_tsv_free(tab);
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    }
    t->tables = nt;
    t->tables[t->n_tables++] = tab;
    if ((rc = fg_tsv_col(tab, "system_uri", &cs, err)) ||
        (rc = fg_tsv_col(tab, "code", &cc, err)) || (rc = fg_tsv_col(tab, "display", &cd, err)))
        return rc;
    int has_unit = fg_tsv_col(tab, "unit", &cu, NULL) == FG_OK;
    int has_synonyms = fg_tsv_col(tab, "synonyms", &cy, NULL) == FG_OK;
    size_t rows = fg_tsv_rows(tab);
    if (grow((void **)&t->entries, &t->cap, t->n + rows, sizeof(*t->entries)))
        return fg_error_set(err, FG_ENOMEM, path, "out of memory");
    for (size_t r = 0; r < rows; r++) {
        const char *sys = fg_tsv_cell(tab, r, cs), *code = fg_tsv_cell(tab, r, cc);
        const char *display = fg_tsv_cell(tab, r, cd);
        const char *unit = has_unit ? fg_tsv_cell(tab, r, cu) : NULL;
        if (!*sys || !*code)
            return fg_tsv_row_error(tab, r, err, FG_EINVALID, "empty system_uri or code");
        t->entries[t->n] = (fg_code_entry){sys, code, display, unit && *unit ? unit : NULL};
        if (add_disp(t, sys, display, t->n) ||
            (has_synonyms && add_synonyms(t, sys, fg_tsv_cell(tab, r, cy), t->n)))
            return fg_error_set(err, FG_ENOMEM, path, "out of memory");
        t->n++;
    }
    return FG_OK;
}

static size_t key_hash(const char *system, const char *code)
{
    static const unsigned char sep = 0xff;
    uint64_t h = fg_fnv1a_str(FG_FNV_SEED, system);
    h = fg_fnv1a_str(fg_fnv1a(h, &sep, 1), code);
    return (size_t)(h ^ (h >> 29));
}

/* Index every entry by (system, code); a code listed again keeps its first
 * row (files are read in name order). */
static int build_code_index(fg_terminology *t)
{
    t->n_slots = 16;
    while (t->n_slots < 2 * t->n)
        t->n_slots *= 2;
    t->slots = calloc(t->n_slots, sizeof(*t->slots));
    if (!t->slots)
        return -1;
    size_t mask = t->n_slots - 1;
    for (size_t i = 0; i < t->n; i++) {
        const fg_code_entry *e = &t->entries[i];
        for (size_t k = key_hash(e->system, e->code) & mask;; k = (k + 1) & mask) {
            size_t s = t->slots[k];
            if (!s) {
                t->slots[k] = i + 1;
                break;
            }
            const fg_code_entry *o = &t->entries[s - 1];
            if (strcmp(o->code, e->code) == 0 && strcmp(o->system, e->system) == 0)
                break;
        }
    }
    return 0;
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

/* The sorted list of *.tsv names of dir into *names (each malloc'd). */
static int list_tsv(const char *dir, char ***names, size_t *n, fg_error *err)
{
    int rc = fg_list_names(dir, ".tsv", TERM_MAX_FILES, names, n, err);
    if (rc == FG_ELIMIT)
        fg_error_set(err, FG_ELIMIT, dir, "more than %d terminology files", TERM_MAX_FILES);
    if (rc == FG_ENOTFOUND || rc == FG_EIO)
        fg_error_set(err, FG_ENOTFOUND, dir, "cannot open the terminology folder");
    return rc == FG_EIO ? FG_ENOTFOUND : rc;
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
        if (build_code_index(t)) {
            rc = fg_error_set(err, FG_ENOMEM, dir, "out of memory");
            goto cleanup;
        }
        qsort(t->disp, t->n_disp, sizeof(*t->disp), cmp_disp);
    }
    *out = t;
    t = NULL;
cleanup:
    fg_names_free(names, n_names);
    fg_terminology_free(t);
    return rc;
}

const fg_code_entry *fg_terminology_find(const fg_terminology *t, const char *system,
                                         const char *code)
{
    if (!t || !system || !code || !t->slots)
        return NULL;
    size_t mask = t->n_slots - 1;
    for (size_t i = key_hash(system, code) & mask;; i = (i + 1) & mask) {
        size_t s = t->slots[i];
        if (!s)
            return NULL;
        const fg_code_entry *e = &t->entries[s - 1];
        if (e->code[0] == code[0] && strcmp(e->code, code) == 0 && strcmp(e->system, system) == 0)
            return e;
    }
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
