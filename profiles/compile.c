/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compile.c: a StructureDefinition snapshot into a tree of fg_elem.
 *
 * The snapshot is a flat list in document order. Each element finds its
 * place by its id: "A.b.c" is a child of "A.b"; "A.b:s" is slice s of
 * "A.b"; "A.b:s/t" is re-slice t of slice "A.b:s"; "A.b:s.c" is a child of
 * that slice. Elements without an id use their path as id. When an id does
 * not lead to an earlier element (slice names with dots, odd tooling), the
 * element hangs below the latest earlier element whose path is its parent
 * path, which is what snapshot order guarantees.
 *
 * A choice element constrained by its type-specific name ("valueQuantity"
 * next to "value[x]", the older way of writing a type slice) becomes a
 * slice of the choice element with slice_name "valueQuantity", exactly as
 * "value[x]:valueQuantity" would; the choice element is then marked sliced
 * by type ($this) when the profile did not say so itself. So a validator
 * reads type-specific constraints of a choice in one place: the slices of
 * the choice element whose slice_name is the name plus a type.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/registry_private.h"

struct fgr_node {
    fg_elem *e;
    const fg_jv *json;
    long parent;   /* index, or -1 */
    long slice_of; /* index of the sliced element, or -1 */
    size_t n_children, n_slices;
};
typedef fgr_node node;

static int parse_max(const char *s, uint32_t *out)
{
    if (!s || !*s)
        return -1;
    if (strcmp(s, "*") == 0) {
        *out = FG_CARD_MANY;
        return 0;
    }
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) || v > 100000000UL)
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    *out = (uint32_t)v;
    return 0;
}

static fg_binding_strength strength_of(const char *s)
{
    if (!s)
        return FG_BIND_NONE;
    if (strcmp(s, "required") == 0)
        return FG_BIND_REQUIRED;
    if (strcmp(s, "extensible") == 0)
        return FG_BIND_EXTENSIBLE;
    if (strcmp(s, "preferred") == 0)
        return FG_BIND_PREFERRED;
    if (strcmp(s, "example") == 0)
        return FG_BIND_EXAMPLE;
    return FG_BIND_NONE;
}

/* An array of the strings of a JSON array, in the arena. */
static int string_list(fg_registry *reg, const fg_jv *arr, const char *const **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cnt = fg_jv_array_size(arr);
    if (!cnt)
        return FG_OK;
    const char **list = fg_arena_alloc(&reg->arena, cnt * sizeof *list);
    if (!list)
        return FG_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        const char *s = fg_jv_str(fg_jv_at(arr, i));
        if (s)
            list[k++] = s;
    }
    *out = list;
    *n = k;
    return FG_OK;
}

static int compile_types(fg_registry *reg, fg_elem *e, const fg_jv *types, const char *where,
                         fg_error *err)
{
    size_t n = fg_jv_array_size(types);
    if (!n)
        return FG_OK;
    fg_type_ref *list = fg_arena_calloc(&reg->arena, n * sizeof *list);
    if (!list)
        return fg_error_set(err, FG_ENOMEM, where, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const fg_jv *t = fg_jv_at(types, i);
        /* The compact core writes a type that is only a code as a string. */
        const char *code = fg_jv_is_string(t) ? fg_jv_str(t) : fgr_str(t, "code");
        if (!code)
            return fg_error_set(err, FG_EINVALID, where,
                                "type[%zu] has no code: the definition is broken", i);
        list[i].code = code;
        const fgr_sd *base = fgr_map_get(&reg->sd_by_type, code);
        list[i].base = base ? &base->st : NULL;
        if (string_list(reg, fg_jv_get(t, "profile"), &list[i].profiles,
                        &list[i].n_profiles) != FG_OK ||
            string_list(reg, fg_jv_get(t, "targetProfile"), &list[i].targets,
                        &list[i].n_targets) != FG_OK)
            return fg_error_set(err, FG_ENOMEM, where, "out of memory");
    }
    e->types = list;
    e->n_types = n;
    return FG_OK;
}

static int compile_binding(fg_registry *reg, fg_elem *e, const fg_jv *b, const char *where,
                           fg_error *err)
{
    if (!b)
        return FG_OK;
    e->binding = strength_of(fgr_str(b, "strength"));
    const char *vs = fgr_str(b, "valueSet");
    if (vs) {
        const char *bar = strchr(vs, '|');
        e->binding_vs = bar ? fg_arena_strndup(&reg->arena, vs, (size_t)(bar - vs)) : vs;
        if (!e->binding_vs)
            return fg_error_set(err, FG_ENOMEM, where, "out of memory");
    }
    if (e->binding_vs && e->binding >= FG_BIND_EXTENSIBLE && fgr_vec_push(&reg->bound, e) != FG_OK)
        return fg_error_set(err, FG_ENOMEM, where, "out of memory");
    return FG_OK;
}

static void compile_fixed(fg_elem *e, const fg_jv *ej)
{
    const char *key;
    const fg_jv *val;
    fg_jv_object_foreach(ej, key, val) {
        if (strncmp(key, "fixed", 5) == 0 && isupper((unsigned char)key[5])) {
            e->fixed = val;
            e->fixed_type = key + 5;
        } else if (strncmp(key, "pattern", 7) == 0 && isupper((unsigned char)key[7])) {
            e->pattern = val;
            e->fixed_type = key + 7;
        }
    }
}

/* The fields of one element that do not depend on its place in the tree. */
static int compile_element(fg_registry *reg, fgr_sd *sd, fg_elem *e, const fg_jv *ej,
                           const char *where, fg_error *err)
{
    int rc;
    const char *last = strrchr(e->path, '.');
    last = last ? last + 1 : e->path;
    size_t len = strlen(last);
    e->is_choice = len > 3 && strcmp(last + len - 3, "[x]") == 0;
    e->name = e->is_choice ? fg_arena_strndup(&reg->arena, last, len - 3) : last;
    if (!e->name)
        return fg_error_set(err, FG_ENOMEM, where, "out of memory");
    e->slice_name = fgr_str(ej, "sliceName");
    const fg_jv *min = fg_jv_get(ej, "min");
    if (min && (!fg_jv_is_integer(min) || fg_jv_integer(min) < 0 ||
                fg_jv_integer(min) > 100000000))
        return fg_error_set(err, FG_EINVALID, where, "min is not a non-negative integer");
    e->min = min ? (uint32_t)fg_jv_integer(min) : 0;
    const char *max = fgr_str(ej, "max");
    e->max = FG_CARD_MANY;
    if (max && parse_max(max, &e->max) != 0)
        return fg_error_set(err, FG_EINVALID, where, "max \"%s\" is neither a number nor \"*\"", max);
    const char *base_max = fgr_str(fg_jv_get(ej, "base"), "max");
    if (!base_max)
        base_max = max;
    e->is_array = base_max && strcmp(base_max, "1") != 0 && strcmp(base_max, "0") != 0;
    e->is_modifier = fg_jv_is_true(fg_jv_get(ej, "isModifier"));
    e->must_support = fg_jv_is_true(fg_jv_get(ej, "mustSupport"));
    e->owner = &sd->st;
    if ((rc = compile_types(reg, e, fg_jv_get(ej, "type"), where, err)) != FG_OK ||
        (rc = compile_binding(reg, e, fg_jv_get(ej, "binding"), where, err)) != FG_OK)
        return rc;
    compile_fixed(e, ej);
    const fg_jv *cons = fg_jv_get(ej, "constraint");
    if (cons && (rc = fgr_compile_constraints(reg, sd, e, cons, where, err)) != FG_OK)
        return rc;
    const fg_jv *slicing = fg_jv_get(ej, "slicing");
    if (slicing && (rc = fgr_compile_slicing(reg, e, slicing, where, err)) != FG_OK)
        return rc;
    return FG_OK;
}

#define IDX(p) ((void *)(intptr_t)((p) + 1))
#define UNIDX(v) ((long)(intptr_t)(v)-1)

/* "Observation.valueQuantity": the index of choice element
 * "Observation.value[x]" registered under "Observation.value", or -1. */
static long choice_of(const fgr_map *choices, const char *id, char *buf, size_t size,
                      const char **suffix)
{
    const char *last = strrchr(id, '.');
    if (!last || strlen(id) >= size)
        return -1;
    for (const char *p = last + 1; *p; p++) {
        if (p == last + 1 || !isupper((unsigned char)*p))
            continue;
        size_t n = (size_t)(p - id);
        memcpy(buf, id, n);
        buf[n] = 0;
        void *v = fgr_map_get(choices, buf);
        if (v) {
            *suffix = p; /* "Quantity" */
            return UNIDX(v);
        }
    }
    return -1;
}

/* "Quantity" names one of the choice's types ("Quantity"; "String" for
 * "string"). */
static int choice_has_type(const fg_elem *c, const char *suffix)
{
    for (size_t i = 0; i < c->n_types; i++) {
        const char *code = c->types[i].code;
        if (toupper((unsigned char)code[0]) == suffix[0] && strcmp(code + 1, suffix + 1) == 0)
            return 1;
    }
    return 0;
}

/* Mark a choice element sliced by type when a type-specific name folds in. */
static int implied_type_slicing(fg_registry *reg, fg_elem *c)
{
    if (c->sliced)
        return FG_OK;
    fg_discriminator *d = fg_arena_calloc(&reg->arena, sizeof *d);
    if (!d)
        return FG_ENOMEM;
    d->kind = FG_DISC_TYPE;
    d->path = "$this";
    c->sliced = 1;
    c->slice_rules = FG_SLICE_OPEN;
    c->discriminators = d;
    c->n_discriminators = 1;
    return FG_OK;
}

/* Find where element i hangs: parent or sliced element. */
static int place(fg_registry *reg, node *nodes, long i, const char *id, fgr_map *ids,
                 fgr_map *paths, fgr_map *choices, const char *where, fg_error *err)
{
    node *nd = &nodes[i];
    char buf[1024];
    const char *dot = strrchr(id, '.');
    const char *seg = dot ? dot + 1 : id;
    const char *colon = strchr(seg, ':');
    if (colon) {
        const char *slash = strrchr(colon, '/');
        size_t n = (size_t)((slash ? slash : colon) - id);
        if (n >= sizeof buf)
            return fg_error_set(err, FG_ELIMIT, where, "element id longer than %zu", sizeof buf);
        memcpy(buf, id, n);
        buf[n] = 0;
        void *v = fgr_map_get(ids, buf);
        if (v) {
            nd->slice_of = UNIDX(v);
            if (!nd->e->slice_name)
                nd->e->slice_name = (slash ? slash : colon) + 1;
            return FG_OK;
        }
    } else if (dot) {
        size_t n = (size_t)(dot - id);
        if (n >= sizeof buf)
            return fg_error_set(err, FG_ELIMIT, where, "element id longer than %zu", sizeof buf);
        memcpy(buf, id, n);
        buf[n] = 0;
        void *v = fgr_map_get(ids, buf);
        if (v) {
            const char *suffix = NULL;
            long c = nodes[i].e->is_choice ? -1 : choice_of(choices, id, buf, sizeof buf, &suffix);
            if (c >= 0 && nodes[c].parent == UNIDX(v) && choice_has_type(nodes[c].e, suffix)) {
                nd->slice_of = c;
                if (!nd->e->slice_name)
                    nd->e->slice_name = seg;
                return implied_type_slicing(reg, nodes[c].e) == FG_OK
                           ? FG_OK
                           : fg_error_set(err, FG_ENOMEM, where, "out of memory");
            }
            nd->parent = UNIDX(v);
            return FG_OK;
        }
    }
    /* Fallback: the latest element whose path is the parent path, or, for
     * a slice, the latest element with the same path. */
    const char *path = nd->e->path;
    const char *pdot = strrchr(path, '.');
    if (nd->e->slice_name) {
        void *v = fgr_map_get(paths, path);
        if (v) {
            long s = UNIDX(v);
            while (s >= 0 && nodes[s].e->slice_name && nodes[s].slice_of >= 0)
                s = nodes[s].slice_of;
            nd->slice_of = s;
            return FG_OK;
        }
        /* A slice of an element the snapshot never lists (R4's own
         * catalog profile has Composition.date:IssueDate): read it as the
         * element itself. */
        if (strcmp(nd->e->owner->package, FGR_CORE_PACKAGE) != 0 &&
            fgr_note(reg, "%s: slice %s has no sliced element %s; read as the element itself",
                     nd->e->owner->url, id, path) != FG_OK)
            return fg_error_set(err, FG_ENOMEM, where, "out of memory");
        nd->e->slice_name = NULL;
    }
    if (pdot) {
        size_t n = (size_t)(pdot - path);
        if (n < sizeof buf) {
            memcpy(buf, path, n);
            buf[n] = 0;
            void *v = fgr_map_get(paths, buf);
            if (v) {
                nd->parent = UNIDX(v);
                return FG_OK;
            }
        }
    }
    return fg_error_set(err, FG_EINVALID, where,
                        "no earlier element is the parent of %s: the snapshot is out of order "
                        "or incomplete",
                        id);
}

static int link_tree(fg_registry *reg, node *nodes, long n, const char *where, fg_error *err)
{
    for (long i = 1; i < n; i++) {
        if (nodes[i].slice_of >= 0)
            nodes[nodes[i].slice_of].n_slices++;
        else
            nodes[nodes[i].parent].n_children++;
    }
    for (long i = 0; i < n; i++) {
        fg_elem *e = nodes[i].e;
        if (nodes[i].n_children) {
            e->children = fg_arena_alloc(&reg->arena, nodes[i].n_children * sizeof(fg_elem *));
            if (!e->children)
                return fg_error_set(err, FG_ENOMEM, where, "out of memory");
        }
        if (nodes[i].n_slices) {
            e->slices = fg_arena_alloc(&reg->arena, nodes[i].n_slices * sizeof(fg_elem *));
            if (!e->slices)
                return fg_error_set(err, FG_ENOMEM, where, "out of memory");
        }
        e->has_children = nodes[i].n_children > 0;
    }
    for (long i = 1; i < n; i++) {
        fg_elem *e = nodes[i].e;
        if (nodes[i].slice_of >= 0) {
            fg_elem *s = nodes[nodes[i].slice_of].e;
            ((const fg_elem **)s->slices)[s->n_slices++] = e;
            e->parent = s->parent;
        } else {
            fg_elem *p = nodes[nodes[i].parent].e;
            ((const fg_elem **)p->children)[p->n_children++] = e;
            e->parent = p;
        }
    }
    return FG_OK;
}

static int resolve_refs(node *nodes, long n, const fgr_map *ids, const fgr_map *paths,
                        const char *url, fg_error *err)
{
    for (long i = 0; i < n; i++) {
        const char *ref = fgr_str(nodes[i].json, "contentReference");
        if (!ref)
            continue;
        const char *hash = strchr(ref, '#');
        const char *target = hash ? hash + 1 : ref;
        void *v = fgr_map_get(ids, target);
        if (!v)
            v = fgr_map_get(paths, target);
        if (!v)
            return fg_error_set(err, FG_EINVALID, url,
                                "element %s: contentReference %s names no element of this "
                                "definition",
                                nodes[i].e->id, ref);
        nodes[i].e->content_ref = nodes[UNIDX(v)].e;
    }
    return FG_OK;
}

/* "url id" into where, cut to fit: the place named in errors. */
static void set_where(char *where, const char *url, const char *id)
{
    size_t lu = strlen(url), li = strlen(id);
    if (lu > FG_ERROR_WHERE_MAX - 2)
        lu = FG_ERROR_WHERE_MAX - 2;
    if (li > FG_ERROR_WHERE_MAX - 2 - lu)
        li = FG_ERROR_WHERE_MAX - 2 - lu;
    memcpy(where, url, lu);
    where[lu] = ' ';
    memcpy(where + lu + 1, id, li);
    where[lu + 1 + li] = 0;
}

/* Room for n nodes and empty maps for them, reused from the last
 * definition. */
static int scratch_prepare(fgr_compile_scratch *sc, size_t n)
{
    if (n > sc->cap) {
        size_t cap = sc->cap ? sc->cap : 256;
        while (cap < n)
            cap *= 2;
        node *nodes = realloc(sc->nodes, cap * sizeof *nodes);
        if (!nodes)
            return FG_ENOMEM;
        sc->nodes = nodes;
        sc->cap = cap;
    }
    if (fgr_map_reset(&sc->ids, n) != FG_OK || fgr_map_reset(&sc->paths, n) != FG_OK ||
        fgr_map_reset(&sc->choices, 16) != FG_OK)
        return FG_ENOMEM;
    return FG_OK;
}

void fgr_compile_scratch_free(fgr_compile_scratch *sc)
{
    free(sc->nodes);
    fgr_map_free(&sc->ids);
    fgr_map_free(&sc->paths);
    fgr_map_free(&sc->choices);
    memset(sc, 0, sizeof *sc);
}

int fgr_compile(fg_registry *reg, fgr_sd *sd, fgr_compile_scratch *sc, fg_error *err)
{
    const fg_jv *elems = fg_jv_get(fg_jv_get(sd->res, "snapshot"), "element");
    long n = (long)fg_jv_array_size(elems);
    const char *url = sd->st.url;
    char where[FG_ERROR_WHERE_MAX];
    if (scratch_prepare(sc, (size_t)n) != FG_OK)
        return fg_error_set(err, FG_ENOMEM, url, "out of memory");
    node *nodes = sc->nodes;
    fgr_map *ids = &sc->ids, *paths = &sc->paths, *choices = &sc->choices;
    /* The elements in one run: a definition's tree is read together. */
    fg_elem *all = fg_arena_calloc(&reg->arena, (size_t)n * sizeof *all);
    if (!all)
        return fg_error_set(err, FG_ENOMEM, url, "out of memory");
    int rc = FG_OK;
    for (long i = 0; i < n; i++) {
        const fg_jv *ej = fg_jv_at(elems, (size_t)i);
        const char *path = fgr_str(ej, "path");
        if (!path)
            return fg_error_set(err, FG_EINVALID, sd->origin,
                                "StructureDefinition %s: snapshot.element[%ld] has no path", url,
                                i);
        const char *id = fgr_str(ej, "id");
        if (!id)
            id = path;
        set_where(where, url, id);
        fg_elem *e = &all[i];
        e->path = path;
        e->id = id;
        nodes[i] = (node){.e = e, .json = ej, .parent = -1, .slice_of = -1};
        if ((rc = compile_element(reg, sd, e, ej, where, err)) != FG_OK)
            return rc;
        if ((rc = fgr_map_add(ids, id, IDX(i))) == 1)
            return fg_error_set(err, FG_EINVALID, where, "element id %s appears twice", id);
        if (rc != FG_OK)
            return fg_error_set(err, FG_ENOMEM, where, "out of memory");
        if (i == 0) {
            if (strchr(path, '.'))
                return fg_error_set(err, FG_EINVALID, where,
                                    "the first element %s is not a root element", path);
            e->is_array = 0;
        } else if ((rc = place(reg, nodes, i, id, ids, paths, choices, where, err)) != FG_OK) {
            return rc;
        }
        if (fgr_map_put(paths, path, IDX(i)) != FG_OK)
            return fg_error_set(err, FG_ENOMEM, where, "out of memory");
        size_t idlen = strlen(id);
        if (e->is_choice && !e->slice_name && idlen > 3 && strcmp(id + idlen - 3, "[x]") == 0) {
            char *key = fg_arena_strndup(&reg->arena, id, idlen - 3);
            if (!key || fgr_map_put(choices, key, IDX(i)) != FG_OK)
                return fg_error_set(err, FG_ENOMEM, where, "out of memory");
        }
    }
    if ((rc = link_tree(reg, nodes, n, url, err)) != FG_OK ||
        (rc = resolve_refs(nodes, n, ids, paths, url, err)) != FG_OK)
        return rc;
    const fg_jv *ctx = fg_jv_get(sd->res, "context");
    size_t nctx = fg_jv_array_size(ctx);
    if (nctx) {
        const char **list = fg_arena_alloc(&reg->arena, nctx * sizeof *list);
        if (!list)
            return fg_error_set(err, FG_ENOMEM, url, "out of memory");
        size_t k = 0;
        for (size_t i = 0; i < nctx; i++) {
            const char *x = fgr_str(fg_jv_at(ctx, i), "expression");
            if (x)
                list[k++] = x;
        }
        sd->st.contexts = list;
        sd->st.n_contexts = k;
    }
    sd->st.root = nodes[0].e;
    return FG_OK;
}
