/* SPDX-License-Identifier: Apache-2.0 */
/*
 * llmgen_prompt.c: the prompt templates and their rendering.
 *
 * A template is plain text with named placeholders `{{name}}`. The names
 * are fixed (known_names below); a template naming any other, or leaving a
 * `{{` unclosed, is refused when it is loaded, with the file and line, so a
 * typo in a user's --prompt-dir never reaches a model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_data.h"
#include "generators/llm/llmgen_private.h"

#define MAX_NAME 32

struct fg_llmgen_prompts {
    char *text[LLMGEN_TPL_COUNT];
    char *vocabulary; /* the terminology tables as prompt text, or NULL */
    char path[LLMGEN_TPL_COUNT][1024];
};

static const char *const file_names[LLMGEN_TPL_COUNT] = {"system.txt", "patient.txt",
                                                         "repair.txt"};

static const char *const known_names[] = {
    "index", "sex", "age", "birth_date", "deceased_date", "given", "family",
    "history_start", "history_end", "skeleton", "conditions", "scenario",
    "errors", "n_errors", "vocabulary",
};

static int known(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(known_names) / sizeof(known_names[0]); i++)
        if (strlen(known_names[i]) == n && memcmp(known_names[i], name, n) == 0)
            return 1;
    return 0;
}

/* Find the placeholder starting at p ("{{"): its name's start and length
 * and the end of the placeholder. -1 when unclosed or malformed. */
static int placeholder(const char *p, const char **name, size_t *n, const char **end)
{
    const char *q = p + 2;
    while (*q == ' ')
        q++;
    const char *s = q;
    while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')
        q++;
    size_t len = (size_t)(q - s);
    while (*q == ' ')
        q++;
    if (q[0] != '}' || q[1] != '}' || len == 0 || len > MAX_NAME)
        return -1;
    *name = s;
    *n = len;
    *end = q + 2;
    return 0;
}

static int check_template(const char *text, const char *path, fg_error *err)
{
    int line = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            line++;
        if (p[0] != '{' || p[1] != '{')
            continue;
        const char *name, *end;
        size_t n;
        if (placeholder(p, &name, &n, &end) != 0) {
            fg_error_set(err, FG_EINVALID, path,
                         "'{{' does not start a placeholder {{name}} (names are lowercase "
                         "letters, digits and _)");
            err->line = line;
            return FG_EINVALID;
        }
        if (!known(name, n)) {
            fg_error_set(err, FG_EINVALID, path,
                         "unknown placeholder {{%.*s}}; known: index, sex, age, birth_date, "
                         "deceased_date, given, family, history_start, history_end, skeleton, "
                         "conditions, scenario, errors, n_errors, vocabulary", (int)n, name);
            err->line = line;
            return FG_EINVALID;
        }
        p = end - 1;
    }
    return FG_OK;
}

void fg_llmgen_prompts_free(fg_llmgen_prompts *p)
{
    if (!p)
        return;
    for (int i = 0; i < LLMGEN_TPL_COUNT; i++)
        free(p->text[i]);
    free(p->vocabulary);
    free(p);
}

int fg_llmgen_prompts_load(const char *dir, fg_llmgen_prompts **out, fg_error *err)
{
    fg_llmgen_prompts *p = calloc(1, sizeof(*p));
    char ddir[4096];
    int rc;
    if (!p)
        return fg_error_set(err, FG_ENOMEM, "prompts", "out of memory");
    if (!dir) {
        if (!fg_data_path("prompts", ddir, sizeof(ddir))) {
            rc = fg_error_set(err, FG_ELIMIT, "prompts", "the data folder's path is too long");
            goto cleanup;
        }
        dir = ddir;
    }
    for (int i = 0; i < LLMGEN_TPL_COUNT; i++) {
        size_t len = 0;
        if ((size_t)snprintf(p->path[i], sizeof(p->path[i]), "%s/%s", dir, file_names[i]) >=
            sizeof(p->path[i])) {
            rc = fg_error_set(err, FG_ELIMIT, dir, "the prompt folder's path is too long");
            goto cleanup;
        }
        rc = fg_read_file(p->path[i], FG_MAX_PROMPT_BYTES, &p->text[i], &len, err);
        if (rc != FG_OK) {
            if (rc == FG_ENOTFOUND)
                fg_error_set(err, rc, p->path[i],
                             "prompt template missing: a prompt folder holds system.txt, "
                             "patient.txt and repair.txt (copy data/prompts and edit)");
            goto cleanup;
        }
        if (strlen(p->text[i]) != len) {
            rc = fg_error_set(err, FG_EINVALID, p->path[i], "the template holds a NUL byte");
            goto cleanup;
        }
        if ((rc = check_template(p->text[i], p->path[i], err)) != FG_OK)
            goto cleanup;
    }
    *out = p;
    p = NULL;
    rc = FG_OK;
cleanup:
    fg_llmgen_prompts_free(p);
    return rc;
}

static const char *system_name(const char *uri)
{
    static const char *const names[][2] = {
        {"http://snomed.info/sct", "SNOMED CT"},
        {"http://loinc.org", "LOINC"},
        {"http://www.nlm.nih.gov/research/umls/rxnorm", "RxNorm"},
        {"http://hl7.org/fhir/sid/cvx", "CVX"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(uri, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

int fg_llmgen_prompts_set_terms(fg_llmgen_prompts *p, const fg_terminology *t, fg_error *err)
{
    fg_buf b;
    fg_buf_init(&b);
    /* one block per code system, in the tables' order of first appearance */
    const char *done[16];
    size_t n_done = 0, n = fg_terminology_count(t);
    for (size_t i = 0; i < n; i++) {
        const char *sys = fg_terminology_at(t, i)->system;
        const char *name = system_name(sys);
        size_t k;
        for (k = 0; k < n_done && strcmp(done[k], sys) != 0; k++)
            ;
        if (!name || k < n_done || n_done == sizeof(done) / sizeof(done[0]))
            continue;
        done[n_done++] = sys;
        fg_buf_printf(&b, "%s%s (system %s): code | display%s\n", b.len ? "\n" : "", name, sys,
                      strcmp(name, "LOINC") == 0 ? " | UCUM unit of a quantity" : "");
        for (size_t j = i; j < n; j++) {
            const fg_code_entry *e = fg_terminology_at(t, j);
            if (strcmp(e->system, sys) != 0)
                continue;
            fg_buf_printf(&b, "%s | %s%s%s\n", e->code, e->display, e->unit && *e->unit ? " | " : "",
                          e->unit && *e->unit ? e->unit : "");
        }
    }
    if (b.failed) {
        fg_buf_free(&b);
        return fg_error_set(err, FG_ENOMEM, "prompts", "out of memory");
    }
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = 0;
    free(p->vocabulary);
    p->vocabulary = fg_buf_take(&b, NULL);
    return FG_OK;
}

int llmgen_prompt_render(const fg_llmgen_prompts *p, int which, const llmgen_var *vars,
                         size_t n_vars, fg_buf *out, fg_error *err)
{
    const char *t = p->text[which];
    const char *run = t;
    for (const char *c = t; *c; c++) {
        if (c[0] != '{' || c[1] != '{')
            continue;
        const char *name, *end;
        size_t n;
        if (placeholder(c, &name, &n, &end) != 0)
            continue; /* refused at load time; cannot happen */
        size_t k;
        for (k = 0; k < n_vars; k++)
            if (strlen(vars[k].name) == n && memcmp(vars[k].name, name, n) == 0)
                break;
        if (k == n_vars)
            return fg_error_set(err, FG_EINVALID, p->path[which],
                                "placeholder {{%.*s}} has no value in this template (use it in "
                                "%s)", (int)n, name,
                                which == LLMGEN_TPL_REPAIR ? "another template" : "repair.txt");
        fg_buf_append(out, run, (size_t)(c - run));
        fg_buf_puts(out, vars[k].value ? vars[k].value : "");
        run = end;
        c = end - 1;
    }
    fg_buf_puts(out, run);
    if (out->failed)
        return fg_error_set(err, FG_ENOMEM, p->path[which], "out of memory");
    return FG_OK;
}

/* The placeholders every template may use; errors and n_errors only in
 * repair requests. Strings in `scratch` (big enough for dates). */
typedef struct vars_scratch {
    char index[24], age[12], birth[11], death[11], hstart[11], hend[11], n_errors[24];
    char *conditions;
} vars_scratch;

static size_t fill_vars(const fg_llmgen_prompts *pr, const llmgen_skel *s, const char *scenario,
                        vars_scratch *x, llmgen_var *v)
{
    const fg_patient *p = &s->h.patient;
    snprintf(x->index, sizeof(x->index), "%llu", (unsigned long long)s->index);
    snprintf(x->age, sizeof(x->age), "%d", s->age);
    fg_format_date(p->birth_date, x->birth);
    if (p->death != FG_TIME_NONE)
        fg_format_date(p->death, x->death);
    else
        strcpy(x->death, "none");
    fg_format_date(s->history_start, x->hstart);
    fg_format_date(s->history_end, x->hend);
    fg_buf b;
    fg_buf_init(&b);
    for (size_t i = 0; i < s->n_conds; i++) {
        char d[11];
        fg_format_date(s->conds[i].onset, d);
        fg_buf_printf(&b, "%s- %s (%s, onset %s)", i ? "\n" : "", s->conds[i].term.display,
                      s->conds[i].name, d);
    }
    if (s->n_conds == 0)
        fg_buf_puts(&b, "- none");
    x->conditions = fg_buf_take(&b, NULL);
    size_t n = 0;
    v[n++] = (llmgen_var){"index", x->index};
    v[n++] = (llmgen_var){"sex", p->sex == FG_SEX_MALE ? "male" : "female"};
    v[n++] = (llmgen_var){"age", x->age};
    v[n++] = (llmgen_var){"birth_date", x->birth};
    v[n++] = (llmgen_var){"deceased_date", x->death};
    v[n++] = (llmgen_var){"given", p->given};
    v[n++] = (llmgen_var){"family", p->family};
    v[n++] = (llmgen_var){"history_start", x->hstart};
    v[n++] = (llmgen_var){"history_end", x->hend};
    v[n++] = (llmgen_var){"skeleton", s->json};
    v[n++] = (llmgen_var){"conditions", x->conditions ? x->conditions : ""};
    v[n++] = (llmgen_var){"scenario", scenario && *scenario ? scenario : "none"};
    v[n++] = (llmgen_var){"vocabulary", pr->vocabulary ? pr->vocabulary : ""};
    return n;
}

static int render_patient_tpl(const fg_llmgen_prompts *p, int which, const llmgen_skel *s,
                              const char *scenario, const char *errors, size_t n_errors,
                              fg_buf *out, fg_error *err)
{
    vars_scratch x;
    llmgen_var v[16];
    memset(&x, 0, sizeof(x));
    size_t n = fill_vars(p, s, scenario, &x, v);
    if (errors) {
        snprintf(x.n_errors, sizeof(x.n_errors), "%zu", n_errors);
        v[n++] = (llmgen_var){"errors", errors};
        v[n++] = (llmgen_var){"n_errors", x.n_errors};
    }
    int rc = x.conditions ? llmgen_prompt_render(p, which, v, n, out, err)
                          : fg_error_set(err, FG_ENOMEM, p->path[which], "out of memory");
    free(x.conditions);
    return rc;
}

int llmgen_prompt_system(const fg_llmgen_prompts *p, const llmgen_skel *s, const char *scenario,
                         fg_buf *out, fg_error *err)
{
    return render_patient_tpl(p, LLMGEN_TPL_SYSTEM, s, scenario, NULL, 0, out, err);
}

int llmgen_prompt_patient(const fg_llmgen_prompts *p, const llmgen_skel *s, const char *scenario,
                          fg_buf *out, fg_error *err)
{
    return render_patient_tpl(p, LLMGEN_TPL_PATIENT, s, scenario, NULL, 0, out, err);
}

int llmgen_prompt_repair(const fg_llmgen_prompts *p, const llmgen_skel *s, const char *scenario,
                         const char *errors, size_t n_errors, fg_buf *out, fg_error *err)
{
    return render_patient_tpl(p, LLMGEN_TPL_REPAIR, s, scenario, errors ? errors : "", n_errors,
                              out, err);
}
