/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate.c: the validator object, the path buffer, and the walk of one
 * resource against its base definition and the profiles it claims.
 *
 * A profile's snapshot holds every element of its base, so a resource that
 * claims profiles is walked once per loaded profile instead of once against
 * the base plus once per profile; issues the walks share are reported once.
 * A resource that claims none is walked against its base definition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/json/fg_jr.h"
#include "fhir/json/fg_jw.h"
#include "validators/validate_private.h"

void fg_validate_opts_default(fg_validate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->check_bindings = 1;
    o->check_invariants = 1;
    o->warn_unknown_profile = 1;
}

int fg_validator_new(const fg_registry *reg, const fg_validate_opts *opts, fg_validator **out,
                     fg_error *err)
{
    fg_validator *v = NULL;
    if (reg == NULL || out == NULL)
        return fg_error_set(err, FG_EUSAGE, "validator", "no registry given");
    v = calloc(1, sizeof *v);
    if (v == NULL)
        return fg_error_set(err, FG_ENOMEM, "validator", "out of memory");
    v->reg = reg;
    if (opts != NULL)
        v->opts = *opts;
    else
        fg_validate_opts_default(&v->opts);
    pthread_mutex_init(&v->lock, NULL);
    v->extension = fg_registry_type(reg, "Extension");
    v->reference = fg_registry_type(reg, "Reference");
    if (fgv_index_build(reg, &v->index) != FG_OK) {
        fg_validator_free(v);
        return fg_error_set(err, FG_ENOMEM, "validator", "out of memory");
    }
    if (v->opts.profile != NULL) {
        v->profile = fg_registry_structure(reg, v->opts.profile);
        if (v->profile == NULL) {
            fg_validator_free(v);
            return fg_error_set(err, FG_ENOTFOUND, "profile",
                                "profile %s is not loaded: load the package that defines it "
                                "(setting `ig` NAME#VERSION)",
                                opts->profile);
        }
    }
    *out = v;
    return FG_OK;
}

void fg_validator_free(fg_validator *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n_not_checked; i++)
        free(v->not_checked[i]);
    free(v->not_checked);
    fgv_index_free(v->index);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

/* ---- path buffer ---- */

size_t fgv_path_push(fgv_ctx *c, const char *name)
{
    size_t old = c->path_len;
    size_t n = strlen(name);
    size_t need = old + (old ? 1 : 0) + n;
    if (need + 1 >= FGV_PATH_MAX)
        return old; /* too deep to name: keep the parent's path */
    if (old)
        c->path[c->path_len++] = '.';
    memcpy(c->path + c->path_len, name, n);
    c->path_len += n;
    c->path[c->path_len] = '\0';
    return old;
}

size_t fgv_path_index(fgv_ctx *c, size_t i)
{
    size_t old = c->path_len;
    if (old + 24 >= FGV_PATH_MAX)
        return old;
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + i % 10);
        i /= 10;
    } while (i > 0);
    char *p = c->path + old;
    *p++ = '[';
    while (n > 0)
        *p++ = digits[--n];
    *p++ = ']';
    *p = '\0';
    c->path_len = (size_t)(p - c->path);
    return old;
}

/* ---- resources ---- */

static void check_meta_profiles(fgv_ctx *c, const fg_jv *res, const char *rt,
                                const fg_structure **list, size_t *n, size_t cap)
{
    const fg_jv *meta = fg_jv_get(res, "meta");
    const fg_jv *prof = fg_jv_is_object(meta) ? fg_jv_get(meta, "profile") : NULL;
    if (!fg_jv_is_array(prof))
        return;
    size_t i;
    const fg_jv *p;
    fg_jv_array_foreach(prof, i, p)
    {
        if (!fg_jv_is_string(p))
            continue; /* the walk reports the type */
        const char *url = fg_jv_str(p);
        const fg_structure *s = fg_registry_structure(c->v->reg, url);
        size_t l0 = fgv_path_push(c, "meta");
        fgv_path_push(c, "profile");
        fgv_path_index(c, i);
        if (s == NULL) {
            if (c->v->opts.warn_unknown_profile)
                fgv_issue(c, FG_SEV_WARNING, FG_CHECK_PROFILE, "not-found", NULL,
                          "Profile %s is claimed but not loaded, so the resource was not "
                          "checked against it: load its package with setting `ig`",
                          url);
        } else if (s->type == NULL || strcmp(s->type, rt) != 0) {
            fgv_issue(c, FG_SEV_ERROR, FG_CHECK_PROFILE, "invalid", NULL,
                      "Profile %s constrains %s, not %s", url, s->type ? s->type : "?", rt);
        } else {
            int dup = 0;
            for (size_t k = 0; k < *n; k++)
                dup |= list[k] == s;
            if (!dup && *n < cap)
                list[(*n)++] = s;
            else if (!dup)
                fgv_not_checked(c,
                                "profile %s not checked where a resource claims more than %zu "
                                "loaded profiles",
                                url, cap);
        }
        fgv_path_pop(c, l0);
    }
}

void fgv_resource(fgv_ctx *c, const fg_jv *res, const fg_structure *extra_profile)
{
    if (!fg_jv_is_object(res)) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_TYPE, "structure", NULL,
                  "A resource must be a JSON object");
        return;
    }
    const fg_jv *rtj = fg_jv_get(res, "resourceType");
    if (!fg_jv_is_string(rtj)) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                  "The resource has no resourceType: add \"resourceType\" naming its type");
        return;
    }
    const char *rt = fg_jv_str(rtj);
    if (!c->in_contained)
        c->out->resources++;
    const fg_structure *base = fg_registry_type(c->v->reg, rt);
    if (base == NULL || base->kind != FG_KIND_RESOURCE || base->root == NULL) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_STRUCTURE, "structure", NULL,
                  "Unknown resourceType '%s': not an R4 resource", rt);
        return;
    }
    if (c->depth >= FG_MAX_JSON_DEPTH) {
        fgv_issue(c, FG_SEV_ERROR, FG_CHECK_JSON, "too-costly", NULL,
                  "Nesting deeper than %d levels is not validated", FG_MAX_JSON_DEPTH);
        return;
    }

    /* The path names the resource by type when it starts there. */
    size_t l0 = c->path_len;
    if (c->path_len == 0)
        fgv_path_push(c, rt);

    const fg_jv *saved_res = c->resource;
    const char *saved_rt = c->resource_type;
    const fg_jv *saved_container = c->container;
    const fg_elem *saved_hd = c->holder_def;
    const fg_structure *saved_ht = c->holder_type;
    const char *saved_hu = c->holder_ext_url;
    if (!c->in_contained)
        c->container = res;
    c->holder_ext_url = NULL;
    int saved_dedupe = c->dedupe;
    c->resource = res;
    c->resource_type = rt;
    if (c->root_resource == NULL)
        c->root_resource = res;

    fgv_bundle b;
    int is_bundle = strcmp(rt, "Bundle") == 0;
    if (is_bundle && fgv_bundle_open(c, res, &b) != FG_OK) {
        c->failed = 1;
        goto out;
    }

    const fg_structure *walks[18]; /* claimed (at most 16) plus --profile and the element's */
    size_t n = 0;
    check_meta_profiles(c, res, rt, walks, &n, 16);
    const fg_structure *extra[2] = {c->v->profile, extra_profile};
    for (int k = 0; k < 2; k++) {
        const fg_structure *s = extra[k];
        if (s == NULL)
            continue;
        if (s->type == NULL || strcmp(s->type, rt) != 0) {
            if (k == 0 && c->depth == 0)
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_PROFILE, "invalid", NULL,
                          "Profile %s applies to %s, not to %s", s->url,
                          s->type ? s->type : "?", rt);
            continue;
        }
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            dup |= walks[i] == s;
        if (!dup)
            walks[n++] = s;
    }
    if (n == 0)
        walks[n++] = base;

    c->depth++;
    for (size_t i = 0; i < n && !c->failed; i++) {
        c->dedupe = saved_dedupe || i > 0;
        c->holder_def = walks[i]->root;
        c->holder_type = walks[i];
        fgv_object(c, res, walks[i]->root, walks[i], 1);
    }
    c->depth--;
    c->dedupe = saved_dedupe;

    if (is_bundle) {
        fgv_bundle_rules(c, res, &b);
        fgv_bundle_close(c, &b);
    }
out:
    c->resource = saved_res;
    c->resource_type = saved_rt;
    c->container = saved_container;
    c->holder_def = saved_hd;
    c->holder_type = saved_ht;
    c->holder_ext_url = saved_hu;
    fgv_path_pop(c, l0);
}

static void ctx_init(fgv_ctx *c, const fg_validator *v, fg_issue_list *out)
{
    memset(c, 0, offsetof(fgv_ctx, path));
    c->v = v;
    c->out = out;
    c->first_issue = out->count;
    c->path[0] = '\0';
    c->path_len = 0;
    c->resource = NULL;
    c->root_resource = NULL;
    c->resource_type = NULL;
    c->bundle = NULL;
    c->in_contained = 0;
    c->container = NULL;
    c->holder_def = NULL;
    c->holder_type = NULL;
    c->holder_ext_url = NULL;
}

int fg_validate_resource(const fg_validator *v, const fg_jv *resource, fg_issue_list *out,
                         fg_error *err)
{
    if (v == NULL || out == NULL)
        return fg_error_set(err, FG_EUSAGE, "validate", "no validator or issue list given");
    fgv_ctx ctx; /* a few KB of stack: no allocation per call */
    fgv_ctx *c = &ctx;
    ctx_init(c, v, out);
    fgv_resource(c, resource, NULL);
    if (c->failed)
        return fg_error_set(err, FG_ENOMEM, "validate", "out of memory while validating");
    return FG_OK;
}

/* Memory a worker's parse arena may keep between documents; one larger
 * document (a big Bundle) does not set the memory of the rest of the run. */
#define SCRATCH_KEEP (8u << 20)

int fg_validate_bytes_arena(const fg_validator *v, fg_arena *scratch, const char *buf,
                            size_t len, fg_issue_list *out, fg_error *err)
{
    if (v == NULL || out == NULL || scratch == NULL || (buf == NULL && len > 0))
        return fg_error_set(err, FG_EUSAGE, "validate", "no validator, input or issue list");
    fg_arena_reset(scratch);
    fg_jr_error je;
    const fg_jv *doc = NULL;
    int rc = fg_jr_parse(scratch, buf ? buf : "", len, &doc, &je);
    if (rc == FG_ENOMEM) {
        rc = fg_error_set(err, FG_ENOMEM, "validate", "out of memory while reading the JSON");
    } else if (rc != FG_OK) {
        rc = fg_issue_add(out, FG_SEV_FATAL, FG_CHECK_JSON, "structure", "", NULL,
                          "Not valid JSON at line %d, column %d: %s", je.line, je.column,
                          je.text);
        if (rc != FG_OK) {
            rc = fg_error_set(err, rc, "validate", "out of memory");
        } else {
            out->items[out->count - 1].line = je.line;
            out->items[out->count - 1].column = je.column;
        }
    } else {
        rc = fg_validate_resource(v, doc, out, err);
    }
    fg_arena_trim(scratch, SCRATCH_KEEP);
    return rc;
}

int fg_validate_bytes(const fg_validator *v, const char *buf, size_t len, fg_issue_list *out,
                      fg_error *err)
{
    fg_arena scratch;
    fg_arena_init(&scratch);
    int rc = fg_validate_bytes_arena(v, &scratch, buf, len, out, err);
    fg_arena_free(&scratch);
    return rc;
}

int fg_validate_json(const fg_validator *v, const json_t *resource, fg_issue_list *out,
                     fg_error *err)
{
    if (v == NULL || out == NULL || resource == NULL)
        return fg_error_set(err, FG_EUSAGE, "validate", "no validator, resource or issue list");
    /* Through the text, so a jansson tree is judged exactly as the same
     * document read from a file would be (a string holding a NUL included) */
    size_t len = 0;
    char *text = fg_json_dumps(resource, JSON_COMPACT, &len);
    if (!text)
        return fg_error_set(err, FG_ENOMEM, "validate", "out of memory while copying the resource");
    int rc = fg_validate_bytes(v, text, len, out, err);
    free(text);
    return rc;
}
