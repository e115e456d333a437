/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_settings.h: where the library's settings come from on the command
 * line. The library names a setting in fg_error.where ("server", "llm
 * jobs"); the commands print the flag that sets it ("--server",
 * "--llm-jobs") instead. The LLM settings that come from the environment
 * (keys, base URLs) are read here too: the library reads no environment.
 */
#ifndef FG_CLI_SETTINGS_H
#define FG_CLI_SETTINGS_H

#include "fhir/base/fg_error.h"
#include "generators/llm/fg_llm.h"

/* The flag (or environment variable) that sets `setting`, or NULL when the
 * name is not a setting. */
const char *cli_setting_flag(const char *setting);

/* cli_report(), with a setting name in err->where printed as its flag. */
void cli_report_setting(const char *cmd, const fg_error *err);

/* Fill what c leaves unset from the environment: the base URL from
 * $OPENAI_BASE_URL or $ANTHROPIC_BASE_URL, the key from $OPENAI_API_KEY,
 * $ANTHROPIC_API_KEY, or for Azure $AZURE_OPENAI_API_KEY then
 * $OPENAI_API_KEY. The variable the key came from is what
 * cli_setting_flag("llm api key") names afterwards. */
void cli_llm_env(fg_llm_config *c);

#endif
