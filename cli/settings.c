/* SPDX-License-Identifier: Apache-2.0 */
/*
 * settings.c: the table from the library's setting names to the flags that
 * set them, and the LLM settings read from the environment.
 */
#include "cli/cli_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* The environment variable the LLM key was read from (cli_llm_env). */
static const char *key_variable = "OPENAI_API_KEY";

static const struct {
    const char *setting; /* as the library writes it in fg_error.where */
    const char *flag;
} settings[] = {
    /* push (push/push.c) */
    {"server", "--server"},
    {"concurrency", "--concurrency"},
    {"verify", "--verify"},
    {"resume", "--resume"},
    /* OAuth2 and SMART (fhir/rest/rest_auth.c) */
    {"token url", "--token-url"},
    {"client id", "--client-id"},
    {"client secret", "--client-secret-file"},
    {"kid", "--kid"},
    {"alg", "--alg"},
    /* the LLM client (generators/llm/llm.c) */
    {"llm model", "--llm"},
    {"llm base url", "--llm-base-url"},
    {"llm jobs", "--llm-jobs"},
};

const char *cli_setting_flag(const char *setting)
{
    if (strcmp(setting, "llm api key") == 0)
        return key_variable;
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (strcmp(settings[i].setting, setting) == 0)
            return settings[i].flag;
    return NULL;
}

void cli_report_setting(const char *cmd, const fg_error *err)
{
    const char *flag = cli_setting_flag(err->where);
    if (!flag) {
        cli_report(cmd, err);
        return;
    }
    fg_error e = *err;
    snprintf(e.where, sizeof(e.where), "%s", flag);
    cli_report(cmd, &e);
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
