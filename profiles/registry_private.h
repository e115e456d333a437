/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_private.h: the inside of fg_registry, shared by the files of
 * profiles/ that build it (registry.c, registry_core.c, package.c,
 * package_index.c, compile.c, compile_slices.c, valueset.c).
 *
 * Ownership: every loaded resource is a read-only fg_jv tree (fg_jr.h) in
 * an arena the registry owns: its own arena for resources added one at a
 * time, and one arena per parsing thread for the files of the compact core
 * and of packages (made by fgr_new_arena before the threads start, so each
 * thread fills its own). The compiled trees borrow their strings and
 * fixed / pattern values from those trees. Everything else it builds
 * (elements, type lists, expansions' tables) comes from the registry's
 * arena or from the string maps below, all released by fg_registry_free.
 *
 * fgr_map is fg_strmap (fhir/base/fg_hash.h) under the registry's names:
 * a NUL-terminated key to a pointer. Keys are borrowed: they must outlive
 * the map (they point into the resources or the arena).
 */
#ifndef FG_REGISTRY_PRIVATE_H
#define FG_REGISTRY_PRIVATE_H

#include <stddef.h>

#include "fhir/base/fg_arena.h"
#include "fhir/base/fg_hash.h"
#include "fhir/json/fg_jr.h"
#include "profiles/fg_registry.h"

typedef fg_strmap fgr_map;

/* Insert or replace; FG_ENOMEM on failure. */
static inline int fgr_map_put(fgr_map *m, const char *key, void *val)
{
    return fg_strmap_put(m, key, val);
}
/* Insert `key` unless it is there: FG_OK when inserted, 1 when it was
 * there already (its value unchanged), FG_ENOMEM. */
static inline int fgr_map_add(fgr_map *m, const char *key, void *val)
{
    return fg_strmap_add(m, key, val);
}
/* Make room for `n` more keys without growing again; FG_ENOMEM. */
static inline int fgr_map_reserve(fgr_map *m, size_t n)
{
    return fg_strmap_reserve(m, n);
}
/* Empty the map, keeping its memory for reuse (unless far larger than
 * `n` keys need), and make room for `n` keys; FG_ENOMEM. */
static inline int fgr_map_reset(fgr_map *m, size_t n)
{
    return fg_strmap_reset(m, n);
}
/* The value of `key` (borrowed), or NULL. */
static inline void *fgr_map_get(const fgr_map *m, const char *key)
{
    return fg_strmap_get(m, key);
}
static inline void fgr_map_free(fgr_map *m)
{
    fg_strmap_free(m);
}

/* A growable array of pointers. */
typedef struct fgr_vec {
    void **items;
    size_t n, cap;
} fgr_vec;

int fgr_vec_push(fgr_vec *v, void *item);
void fgr_vec_free(fgr_vec *v);

/* A code system as the expansions need it. */
typedef struct fgr_codesys {
    const char *url;
    const char *origin;
    const fg_jv *res;
    int complete;       /* content = complete */
    fgr_map concepts;   /* code -> const fg_jv concept (nested ones too) */
} fgr_codesys;

struct fg_valueset {
    const char *url;
    const char *origin;
    const fg_jv *res;
    fg_vs_status status;
    const char *note;
    int state;          /* 0 not expanded, 1 expanding (cycle guard), 2 done */
    fgr_map by_system;  /* "system|code" -> display ("" when none) */
    fgr_map by_code;    /* "code" -> display */
    size_t n_codes;
};

/* A StructureDefinition before and after compiling. */
typedef struct fgr_sd {
    fg_structure st;    /* what readers get */
    const fg_jv *res;
    const char *origin; /* file or "data/r4core/structures.json" */
    int compact;        /* from the compact core: constraints are indexes */
} fgr_sd;

/* fg_structure.package of the compact core. Notes about the core's own
 * known gaps (definitions without snapshots, bindings to value sets R4 does
 * not publish) are not repeated on every load: the validator reports a
 * binding it cannot check where a resource meets it. */
#define FGR_CORE_PACKAGE "fhirgen r4 core"

struct fg_registry {
    fg_arena arena;
    fgr_vec arenas;       /* fg_arena* (in `arena`) holding parsed resources */
    const fg_jv *core_constraints; /* the compact core's constraint table, or NULL */
    fg_constraint *core_cons; /* that table read, entry by entry as first used */
    const char *package;  /* package being loaded, for fg_structure.package */

    fgr_vec sds;          /* fgr_sd*, in load order */
    fgr_map sd_by_url;    /* url -> fgr_sd* */
    fgr_map sd_by_type;   /* type name -> fgr_sd* (the base definition) */
    fgr_vec vss;          /* fg_valueset* */
    fgr_map vs_by_url;
    fgr_vec css;          /* fgr_codesys* */
    fgr_map cs_by_url;

    fgr_map packages;     /* "name#version" -> (void*)1: loaded or being loaded */
    fgr_vec pkg_index;    /* fgr_index_entry*: every package's index, for lookups */

    fgr_map fp_cache;     /* expression -> fg_fhirpath* (or the FGR_NO_FP marker) */
    fgr_vec fps;          /* every compiled fg_fhirpath, to free */

    fgr_vec bound;        /* fg_elem* with a required/extensible binding */
    fg_arena *vs_arena;   /* what expansions allocate from (fgr_expand_all) */
    fgr_map noted;        /* note dedupe: text -> (void*)1 */
    fgr_vec notes;        /* char* in the arena */
    int finished;
};

/* One row of a package index (.index.json, or built from the files). */
typedef struct fgr_index_entry {
    const char *package;
    const char *filename;
    const char *resource_type;
    const char *url;
    const char *version;
    const char *type;
    const char *kind;
    const char *derivation;
} fgr_index_entry;

/* registry.c */
/* Add a note (printf-style); duplicates are dropped. FG_ENOMEM. */
int fgr_note(fg_registry *reg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A string member of a JSON object, or NULL. Borrowed. */
static inline const char *fgr_str(const fg_jv *obj, const char *key)
{
    return fg_jv_str(fg_jv_get(obj, key));
}
/* How files are read: into `arena`, through a text buffer reused from one
 * file to the next (no allocation, no mapping per file). With `trim`,
 * members the registry never reads are left out before parsing
 * (fgr_json_trim). One reader per thread. */
typedef struct fgr_reader {
    fg_arena *arena;
    int trim;
    char *buf;
    size_t cap;
} fgr_reader;

/* Parse a JSON file of at most `max` bytes; err names the file. */
int fgr_load_json(fgr_reader *rd, const char *path, size_t max, const fg_jv **out,
                  fg_error *err);
/* Free the reader's buffer (not its arena); accepts NULL. */
void fgr_reader_free(fgr_reader *rd);
/* A new arena owned by the registry (freed by fg_registry_free), for
 * parsing resources the registry keeps. NULL when memory ran out. */
fg_arena *fgr_new_arena(fg_registry *reg);

/* package_index.c */
/* The JSON text `in` without the object members the registry never reads
 * (narrative, differential, mappings, and the prose of element
 * definitions), written to `out`, which may be `in` itself (the output
 * never overtakes the input). Returns the output length, or (size_t)-1
 * when the text is not well formed enough to trim (the caller then parses
 * it as it is; `out` holds a partial result). */
size_t fgr_json_trim_to(char *out, const char *in, size_t len);
/* The same into a new NUL-terminated copy (free() it), or NULL. */
char *fgr_json_trim(const char *in, size_t len, size_t *out_len);
/* Add the conformance resources of package folder `pkgdir` (the package/
 * folder), through its .index.json or, without one, by reading every
 * *.json file. `package` ("name#version") is recorded in the index. */
int fgr_package_load_files(fg_registry *reg, const char *pkgdir, const char *package,
                           fg_error *err);

/* compile.c */
typedef struct fgr_node fgr_node;
/* What compiling a StructureDefinition needs while it runs, kept from one
 * definition to the next so that compiling them all allocates it once. */
typedef struct fgr_compile_scratch {
    fgr_node *nodes;
    size_t cap;
    fgr_map ids, paths, choices;
} fgr_compile_scratch;
/* Compile one StructureDefinition into sd->st.root. FG_EINVALID names the
 * url and element. */
int fgr_compile(fg_registry *reg, fgr_sd *sd, fgr_compile_scratch *scratch, fg_error *err);
/* Accepts a zeroed scratch. */
void fgr_compile_scratch_free(fgr_compile_scratch *scratch);

/* compile_slices.c */
/* Read elem's slicing object into the element. */
int fgr_compile_slicing(fg_registry *reg, fg_elem *elem, const fg_jv *slicing,
                        const char *where, fg_error *err);
/* The compiled constraint list of a snapshot element. */
int fgr_compile_constraints(fg_registry *reg, fgr_sd *sd, fg_elem *elem, const fg_jv *list,
                            const char *where, fg_error *err);

/* valueset.c */
/* Index the concepts of every code system and expand every value set.
 * Touches nothing but the code systems, the value sets and
 * reg->vs_arena, so it may run while the structures compile. */
int fgr_expand_all(fg_registry *reg, fg_error *err);
/* Attach the expansions to the elements bound to them (after both). */
int fgr_attach_bindings(fg_registry *reg, fg_error *err);

#endif
