/*
 * fg_limits.h: every limit on a user-controllable resource, in one place.
 * A value read from a user, a file, an LLM or a server that would cross one
 * of these is rejected with FG_ELIMIT and a message naming the limit.
 */
#ifndef FG_LIMITS_H
#define FG_LIMITS_H

#define FG_MAX_PATIENTS 100000000LL    /* -n per run */
#define FG_MAX_JOBS 256                /* worker threads */
#define FG_MAX_HISTORY_BYTES (64u << 20) /* one history document */
#define FG_MAX_HISTORY_EVENTS 200000   /* entries in any one history list */
#define FG_MAX_STRING_BYTES 65536      /* one string field of a history */
#define FG_MAX_NOTE_BYTES 65536        /* one clinical note */
#define FG_MAX_JSON_DEPTH 64           /* nesting of any JSON we parse */
#define FG_MAX_MODULE_BYTES (4u << 20) /* one condition module file */
#define FG_MAX_MODULES 256             /* condition modules loaded */
#define FG_MAX_TABLE_ROWS 1000000      /* rows of one data table */
#define FG_MAX_TSV_BYTES (64u << 20)   /* one tab-separated data file (fg_tsv_load) */
#define FG_MAX_YEARS_OF_HISTORY 120

#define FG_MAX_BUNDLE_BYTES (512u << 20)    /* one Bundle or JSON file a validator reads */
#define FG_MAX_NDJSON_LINE_BYTES (64u << 20) /* one NDJSON line */
#define FG_MAX_REFCHECK_ISSUES_KEPT 10000    /* issues a referential check keeps in memory */

#define FG_MAX_CANDIDATE_ATTEMPTS 5000   /* patients drawn to find one meeting --condition */
#define FG_MAX_DATA_FILE_BYTES (16u << 20) /* one engine data table */
#define FG_MAX_AGE 110                   /* oldest age the engine generates */
#define FG_SSN_SPACE 989901              /* 99 groups x 9999 serials of the 999 area */

#define FG_MAX_PUSH_BUNDLE_BYTES (256u << 20)  /* one bundle fhirgen push sends */
#define FG_MAX_PUSH_RESPONSE_BYTES (64u << 20) /* one answer of a FHIR server */
#define FG_MAX_PUSH_CONCURRENCY 256            /* bundles in flight (--concurrency) */
#define FG_MAX_PUSH_ATTEMPTS 8                 /* tries of one bundle, the first included */
#define FG_PUSH_BACKOFF_BASE_MS 500            /* wait before the first retry (before jitter) */
#define FG_PUSH_BACKOFF_CAP_MS 30000           /* longest backoff between two tries */
#define FG_MAX_RETRY_AFTER_S 300               /* longest Retry-After honoured */
#define FG_MAX_TOKEN_BYTES 16384               /* one access token or token file */
#define FG_MAX_JOURNAL_LINES 100000000         /* bundles one push journal holds */
#define FG_MAX_TOKEN_RESPONSE_BYTES 65536       /* one answer of a token endpoint */
#define FG_TOKEN_DEFAULT_LIFETIME_S 300         /* a token whose answer gives no expires_in */
#define FG_SMART_ASSERTION_LIFETIME_S 240       /* exp of a SMART client assertion (at most 300) */
#define FG_MAX_SMART_KEY_BYTES 65536            /* one PEM private key */

/* Findings on LLM histories: grounding and plausibility (validators/fg_findings.h) */
#define FG_MAX_FINDINGS 1000            /* findings one history keeps (the rest are counted) */
#define FG_MAX_FINDING_BYTES 512        /* one finding's message */

/* LLM generators: the client (generators/fg_llm.h) */
#define FG_MAX_LLM_RESPONSE_BYTES (2u << 20)  /* one answer: a body, or the text of a stream */
#define FG_MAX_LLM_STREAM_BYTES (32u << 20)   /* raw bytes of one streamed (SSE) answer */
#define FG_MAX_LLM_JOBS 256                   /* requests in flight (--llm-jobs) */
#define FG_MAX_LLM_ATTEMPTS 20                /* tries of one request, the first included */
#define FG_MAX_LLM_CACHE_FILE_BYTES (16u << 20) /* one cache entry read back */

/* LLM generation (fhirgen generate --llm): skeletons, prompts, repair loop */
#define FG_MAX_SKELETON_CONDITIONS 64          /* chronic conditions listed in one skeleton */
#define FG_MAX_PROMPT_BYTES (1u << 20)         /* one prompt template file */
#define FG_MAX_SCENARIO_BYTES 16384            /* --scenario text or --scenario-file */
#define FG_MAX_REPAIR_ROUNDS 10                /* --repair-rounds */
#define FG_MAX_REPAIR_ERRORS 50                /* error lines one repair request lists */
#define FG_MAX_LLM_PENDING 1024                /* patients in flight at once */
#define FG_MAX_LLM_DROPS_KEPT 10000            /* dropped patients listed in --summary-json */

/* FHIRPath evaluator (fhir/fhirpath*.c) */
#define FG_MAX_FHIRPATH_EXPR_BYTES 16384    /* one expression's source text */
#define FG_MAX_FHIRPATH_DEPTH 128           /* nesting of an expression, and of evaluation */
#define FG_MAX_FHIRPATH_ITEMS 1000000       /* items in one collection during evaluation */
#define FG_MAX_FHIRPATH_EVAL_BYTES (64u << 20) /* memory one evaluation may take */
#define FG_MAX_FHIRPATH_REPEAT 5000         /* items repeat() may collect */

/* Validator: FHIR packages and the profile registry (profiles/). */
#define FG_MAX_PACKAGE_FILE_BYTES (64u << 20) /* one resource file of a FHIR package */
#define FG_MAX_PACKAGE_FILES 50000            /* files in one package folder */
#define FG_MAX_PACKAGES 64                    /* packages one registry loads, dependencies included */
#define FG_MAX_PACKAGE_DEPTH 16               /* nesting of package dependencies */
#define FG_MAX_SNAPSHOT_ELEMENTS 20000        /* elements of one StructureDefinition snapshot */
#define FG_MAX_VALUESET_IMPORT_DEPTH 32       /* value sets importing value sets */
#define FG_MAX_REGISTRY_NOTES 10000           /* notes one registry keeps */
#define FG_MAX_PACKAGE_LOAD_THREADS 8         /* threads parsing the files of one package */

#endif
