/* SPDX-License-Identifier: Apache-2.0 */
/*
 * settings.c: the program's side of the library's settings.
 *
 * The library never reads the environment and never names a flag. It takes
 * the data folder (fg_data_set_dir), the cohort's "today"
 * (fg_cohort_spec_default_at) and the package cache (fg_package_cache_dir)
 * as arguments, and names a setting in an error as `where` (the setting's
 * name alone, e.g. "jobs") or, inside a message, as "setting `NAME`". Here
 * the environment is read, and the settings are named back as the flags a
 * user types.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "fhir/base/fg_data.h"
#include "generators/llm/fg_llm.h"
#include "profiles/fg_registry.h"
#include "validators/fg_validate.h"

/* Each setting the library names, with how a user sets it. The library
 * writes a setting's name as an error's `where` (push: "server"; the LLM
 * client: "llm jobs") or inside a message as "setting `NAME`". */
static const struct {
    const char *setting;
    const char *flag; /* what cli_setting_flag answers; NULL: set by the environment only */
    const char *said; /* what replaces "setting `NAME`" in a message */
} settings[] = {
    /* generation, validation and the package cache */
    {"condition", "--condition", "--condition"},
    {"data_dir", NULL, "FHIRGEN_DATA_DIR"},
    {"ig", "--ig", "--ig"},
    {"jobs", "--jobs", "--jobs"},
    {"max_tokens", "--llm-max-tokens", "--llm-max-tokens"},
    {"packages", "--packages", "--packages or FHIRGEN_PACKAGES"},
    {"profile", "--profile", "--profile"},
    /* push (push/) */
    {"server", "--server", "--server"},
    {"concurrency", "--concurrency", "--concurrency"},
    {"verify", "--verify", "--verify"},
    {"resume", "--resume", "--resume"},
    /* OAuth2 and SMART (fhir/rest/rest_auth.c) */
    {"token url", "--token-url", "--token-url"},
    {"client id", "--client-id", "--client-id"},
    {"client secret", "--client-secret-file", "--client-secret-file"},
    {"kid", "--kid", "--kid"},
    {"alg", "--alg", "--alg"},
    /* the LLM client (generators/llm/) */
    {"llm model", "--llm", "--llm"},
    {"llm base url", "--llm-base-url", "--llm-base-url"},
    {"llm jobs", "--llm-jobs", "--llm-jobs"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* The environment variable the LLM key was read from (cli_llm_env). */
static const char *key_variable = "OPENAI_API_KEY";

const char *cli_setting_flag(const char *where)
{
    if (where && strcmp(where, "llm api key") == 0)
        return key_variable;
    for (size_t i = 0; where && i < N_SETTINGS; i++)
        if (strcmp(where, settings[i].setting) == 0)
            return settings[i].flag;
    return NULL;
}

#define SAID_PREFIX "setting `"

/* Append len bytes of s to out[0..n), cut so out keeps room for its NUL.
 * Returns the new length. */
static size_t put(char *out, size_t size, size_t n, const char *s, size_t len)
{
    if (n + len >= size)
        len = size - 1 - n;
    memcpy(out + n, s, len);
    return n + len;
}

/* text with every "setting `NAME`" of a known NAME replaced, into out
 * (cut at size, which must be at least 1). Returns 1 when something was
 * replaced. The text between matches is copied whole: every issue of a
 * validation run passes through here. */
static int said_as_flags(const char *text, char *out, size_t size)
{
    const size_t plen = sizeof(SAID_PREFIX) - 1;
    size_t n = 0;
    int changed = 0;
    while (*text) {
        const char *at = strstr(text, SAID_PREFIX), *rep = NULL, *next = NULL;
        if (at) {
            const char *name = at + plen, *end = strchr(name, '`');
            size_t len = end ? (size_t)(end - name) : 0;
            for (size_t i = 0; end && i < N_SETTINGS && !rep; i++)
                if (strlen(settings[i].setting) == len && memcmp(name, settings[i].setting, len) == 0) {
                    rep = settings[i].said;
                    next = end + 1;
                }
        }
        /* up to the match; past a name that is no setting, through its prefix */
        const char *stop = !at ? text + strlen(text) : rep ? at : at + plen;
        n = put(out, size, n, text, (size_t)(stop - text));
        text = stop;
        if (rep) {
            n = put(out, size, n, rep, strlen(rep));
            text = next;
            changed = 1;
        }
    }
    out[n] = 0;
    return changed;
}

int cli_text_flags(const char *text, char *out, size_t size)
{
    return text && strstr(text, SAID_PREFIX) && said_as_flags(text, out, size);
}

void cli_drops_flags(json_t *drops)
{
    char text[FG_ERROR_TEXT_MAX];
    size_t i;
    json_t *d;
    json_array_foreach(drops, i, d)
    {
        if (cli_text_flags(json_string_value(json_object_get(d, "reason")), text, sizeof(text)))
            json_object_set_new(d, "reason", json_string(text));
    }
}

void cli_error_flags(fg_error *err)
{
    char text[sizeof(err->text)];
    const char *flag = cli_setting_flag(err->where);
    if (flag)
        snprintf(err->where, sizeof(err->where), "%s", flag);
    if (said_as_flags(err->text, text, sizeof(text)))
        memcpy(err->text, text, sizeof(text));
}

int cli_issue_flags(fg_issue_list *l)
{
    char text[1024];
    for (size_t i = 0; l && i < l->count; i++) {
        fg_issue *is = &l->items[i];
        if (!is->message || !strstr(is->message, SAID_PREFIX) ||
            !said_as_flags(is->message, text, sizeof(text)))
            continue;
        char *m = strdup(text);
        if (!m)
            return FG_ENOMEM;
        free(is->message);
        is->message = m;
    }
    return FG_OK;
}

void cli_settings_from_env(void)
{
    fg_data_set_dir(getenv("FHIRGEN_DATA_DIR"));
}

fg_time cli_now(void)
{
    /* SOURCE_DATE_EPOCH (the reproducible-builds convention) fixes "now" */
    long long now = (long long)time(NULL);
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        char *end;
        long long v = strtoll(sde, &end, 10);
        if (end != sde && *end == 0)
            now = v;
    }
    return (fg_time)now;
}

const char *cli_package_cache(const char *packages)
{
    static char buf[4096];
    if (packages && *packages)
        return packages;
    const char *env = getenv("FHIRGEN_PACKAGES");
    if (env && *env)
        return env;
    const char *dir = fg_package_cache_dir(NULL, getenv("HOME"), buf, sizeof(buf));
    return dir ? dir : "./.fhir/packages";
}

/* $name when set and not empty, else NULL. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void cli_llm_env(fg_llm_config *c)
{
    int anthropic = c->provider == FG_LLM_ANTHROPIC;
    if (!c->base_url || !*c->base_url)
        c->base_url = env(anthropic ? "ANTHROPIC_BASE_URL" : "OPENAI_BASE_URL");
    if (c->api_key)
        return;
    key_variable = anthropic              ? "ANTHROPIC_API_KEY"
                   : c->azure_api_version ? "AZURE_OPENAI_API_KEY"
                                          : "OPENAI_API_KEY";
    c->api_key = getenv(key_variable);
    if (!c->api_key && c->azure_api_version) {
        key_variable = "OPENAI_API_KEY";
        c->api_key = getenv(key_variable);
    }
}
