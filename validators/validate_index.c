/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_index.c: a child index over every compiled element tree, built
 * once when the validator is made, so the walk finds the definition of a
 * JSON property with one hash probe instead of a scan of the children.
 *
 * The key is (parent element, JSON property name). A choice element is
 * entered once per allowed type under its JSON name (`value[x]` with
 * Quantity -> `valueQuantity`), so the probe also yields the type. Names
 * the index does not hold (unknown elements, a choice suffix that is not
 * allowed) fall back to the scan, which then explains what is wrong.
 */
#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_hash.h"
#include "validators/validate_private.h"

typedef struct fgv_slot {
    const fg_elem *parent;
    const char *key;
    uint32_t hash;
    int32_t child;  /* index in parent->children */
    int32_t type;   /* index in the child's types, -1 for none */
} fgv_slot;

typedef struct fgv_canon {
    const char *url; /* by address: the registry's own string */
    const fg_structure *s;
} fgv_canon;

typedef struct fgv_flag {
    const void *key;
    atomic_int seen;
    int kind; /* for constraints: fgv_expr_kind of the expression */
} fgv_flag;

struct fgv_index {
    fgv_slot *slots;
    size_t mask;
    size_t used;
    fgv_canon *canon; /* type profiles, target profiles and base URLs, resolved */
    size_t canon_mask;
    fgv_flag *once; /* binding value sets and constraints met at least once */
    size_t once_mask;
    char **names; /* choice names allocated here */
    size_t n_names, cap_names;
};

static uint32_t hash_key(const fg_elem *parent, const char *key)
{
    uint64_t h = fg_fnv1a_str(FG_FNV_SEED ^ (uint64_t)(uintptr_t)parent, key);
    h ^= h >> 29;
    return (uint32_t)h;
}

static int put(fgv_index *ix, const fg_elem *parent, const char *key, int32_t child,
               int32_t type)
{
    uint32_t h = hash_key(parent, key);
    size_t i = h & ix->mask;
    while (ix->slots[i].parent != NULL) {
        const fgv_slot *s = &ix->slots[i];
        if (s->hash == h && s->parent == parent && strcmp(s->key, key) == 0)
            return 0; /* first entry wins: exact names are entered first */
        i = (i + 1) & ix->mask;
    }
    ix->slots[i] = (fgv_slot){parent, key, h, child, type};
    ix->used++;
    return 0;
}

static size_t ptr_hash(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 20);
}

static void canon_put(fgv_index *ix, const fg_registry *reg, const char *url)
{
    if (url == NULL || ix->canon == NULL)
        return;
    size_t i = ptr_hash(url) & ix->canon_mask;
    while (ix->canon[i].url != NULL) {
        if (ix->canon[i].url == url)
            return;
        i = (i + 1) & ix->canon_mask;
    }
    ix->canon[i].url = url;
    ix->canon[i].s = fg_registry_structure(reg, url);
}

static void once_put(fgv_index *ix, const void *key, int kind)
{
    if (key == NULL || ix->once == NULL)
        return;
    size_t i = ptr_hash(key) & ix->once_mask;
    while (ix->once[i].key != NULL) {
        if (ix->once[i].key == key)
            return;
        i = (i + 1) & ix->once_mask;
    }
    ix->once[i].key = key;
    ix->once[i].kind = kind;
    atomic_init(&ix->once[i].seen, 0);
}

int fgv_constraint_kind(const fg_validator *v, const fg_constraint *k)
{
    const fgv_index *ix = v->index;
    if (ix == NULL || ix->once == NULL)
        return 0;
    size_t i = ptr_hash(k) & ix->once_mask;
    while (ix->once[i].key != NULL) {
        if (ix->once[i].key == k)
            return ix->once[i].kind;
        i = (i + 1) & ix->once_mask;
    }
    return 0;
}

int fgv_once(const fg_validator *v, const void *key)
{
    fgv_index *ix = v->index;
    if (ix == NULL || ix->once == NULL || key == NULL)
        return 1;
    size_t i = ptr_hash(key) & ix->once_mask;
    while (ix->once[i].key != NULL) {
        if (ix->once[i].key == key) {
            if (atomic_load_explicit(&ix->once[i].seen, memory_order_relaxed))
                return 0;
            return atomic_exchange(&ix->once[i].seen, 1) == 0;
        }
        i = (i + 1) & ix->once_mask;
    }
    return 1;
}

static void canon_tree(fgv_index *ix, const fg_registry *reg, const fg_elem *e, int depth)
{
    if (e == NULL || depth > 64)
        return;
    if (e->binding >= FG_BIND_EXTENSIBLE && e->binding_vs != NULL)
        once_put(ix, e->binding_vs, 0);
    for (size_t k = 0; k < e->n_constraints; k++)
        once_put(ix, &e->constraints[k], fgv_expr_kind(e->constraints[k].expression));
    for (size_t t = 0; t < e->n_types; t++) {
        for (size_t k = 0; k < e->types[t].n_profiles; k++)
            canon_put(ix, reg, e->types[t].profiles[k]);
        for (size_t k = 0; k < e->types[t].n_targets; k++)
            canon_put(ix, reg, e->types[t].targets[k]);
    }
    for (size_t i = 0; i < e->n_children; i++)
        canon_tree(ix, reg, e->children[i], depth + 1);
    for (size_t i = 0; i < e->n_slices; i++)
        canon_tree(ix, reg, e->slices[i], depth + 1);
}

const fg_structure *fgv_canonical(const fg_validator *v, const char *url)
{
    const fgv_index *ix = v->index;
    if (url == NULL)
        return NULL;
    if (ix != NULL && ix->canon != NULL) {
        size_t i = ptr_hash(url) & ix->canon_mask;
        while (ix->canon[i].url != NULL) {
            if (ix->canon[i].url == url)
                return ix->canon[i].s;
            i = (i + 1) & ix->canon_mask;
        }
    }
    return fg_registry_structure(v->reg, url);
}

static size_t count_elems(const fg_elem *e, int depth)
{
    if (e == NULL || depth > 64)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < e->n_children; i++)
        n += 1 + e->children[i]->n_types + count_elems(e->children[i], depth + 1);
    for (size_t i = 0; i < e->n_slices; i++)
        n += count_elems(e->slices[i], depth + 1);
    return n;
}

static char *choice_name(fgv_index *ix, const char *name, const char *code)
{
    size_t nl = strlen(name), cl = strlen(code);
    char *s = malloc(nl + cl + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, name, nl);
    memcpy(s + nl, code, cl + 1);
    s[nl] = (char)toupper((unsigned char)s[nl]);
    if (ix->n_names == ix->cap_names) {
        size_t nc = ix->cap_names ? ix->cap_names * 2 : 1024;
        char **n = realloc(ix->names, nc * sizeof *n);
        if (n == NULL) {
            free(s);
            return NULL;
        }
        ix->names = n;
        ix->cap_names = nc;
    }
    ix->names[ix->n_names++] = s;
    return s;
}

static int add_tree(fgv_index *ix, const fg_elem *e, int depth)
{
    if (e == NULL || depth > 64)
        return 0;
    /* exact names first, so a name never loses to a choice expansion */
    for (size_t i = 0; i < e->n_children; i++) {
        const fg_elem *c = e->children[i];
        if (!c->is_choice && c->name != NULL)
            put(ix, e, c->name, (int32_t)i, c->n_types > 0 ? 0 : -1);
    }
    for (size_t i = 0; i < e->n_children; i++) {
        const fg_elem *c = e->children[i];
        if (!c->is_choice || c->name == NULL)
            continue;
        for (size_t t = 0; t < c->n_types; t++) {
            const char *code = c->types[t].code;
            if (code == NULL || strchr(code, ':') != NULL)
                continue;
            char *k = choice_name(ix, c->name, code);
            if (k == NULL)
                return -1;
            put(ix, e, k, (int32_t)i, (int32_t)t);
        }
    }
    for (size_t i = 0; i < e->n_children; i++)
        if (add_tree(ix, e->children[i], depth + 1) < 0)
            return -1;
    for (size_t i = 0; i < e->n_slices; i++)
        if (add_tree(ix, e->slices[i], depth + 1) < 0)
            return -1;
    return 0;
}

int fgv_index_build(const fg_registry *reg, fgv_index **out)
{
    fgv_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL)
        return FG_ENOMEM;
    size_t ns = fg_registry_structure_count(reg), total = 0;
    for (size_t i = 0; i < ns; i++) {
        const fg_structure *s = fg_registry_structure_at(reg, i);
        if (s != NULL)
            total += count_elems(s->root, 0);
    }
    size_t cap = 1024;
    while (cap < total * 2)
        cap <<= 1;
    ix->slots = calloc(cap, sizeof *ix->slots);
    if (ix->slots == NULL) {
        fgv_index_free(ix);
        return FG_ENOMEM;
    }
    ix->mask = cap - 1;
    for (size_t i = 0; i < ns; i++) {
        const fg_structure *s = fg_registry_structure_at(reg, i);
        if (s != NULL && add_tree(ix, s->root, 0) < 0) {
            fgv_index_free(ix);
            return FG_ENOMEM;
        }
    }
    /* every canonical a type names, resolved once (at most one per
     * element type profile/target, so `total` bounds them) */
    size_t ccap = 1024;
    while (ccap < total * 2)
        ccap <<= 1;
    ix->canon = calloc(ccap, sizeof *ix->canon);
    if (ix->canon == NULL) {
        fgv_index_free(ix);
        return FG_ENOMEM;
    }
    ix->canon_mask = ccap - 1;
    ix->once = calloc(ccap, sizeof *ix->once);
    if (ix->once == NULL) {
        fgv_index_free(ix);
        return FG_ENOMEM;
    }
    ix->once_mask = ccap - 1;
    for (size_t i = 0; i < ns; i++) {
        const fg_structure *s = fg_registry_structure_at(reg, i);
        if (s != NULL) {
            canon_put(ix, reg, s->base);
            canon_tree(ix, reg, s->root, 0);
        }
    }
    *out = ix;
    return FG_OK;
}

void fgv_index_free(fgv_index *ix)
{
    if (ix == NULL)
        return;
    for (size_t i = 0; i < ix->n_names; i++)
        free(ix->names[i]);
    free(ix->names);
    free(ix->slots);
    free(ix->canon);
    free(ix->once);
    free(ix);
}

long fgv_index_find(const fgv_index *ix, const fg_elem *parent, const char *key, int *type)
{
    if (ix == NULL)
        return -2;
    uint32_t h = hash_key(parent, key);
    size_t i = h & ix->mask;
    while (ix->slots[i].parent != NULL) {
        const fgv_slot *s = &ix->slots[i];
        if (s->hash == h && s->parent == parent && strcmp(s->key, key) == 0) {
            *type = s->type;
            return s->child;
        }
        i = (i + 1) & ix->mask;
    }
    return -1;
}
