#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `meson install` gives a working program, library, headers and pkg-config
# file: installs the build into a scratch DESTDIR, compiles every installed
# header on its own and a small program against the pkg-config file, runs
# it, runs the installed fhirgen, and checks that the library exports only
# the fg_* API.
#   install.sh FHIRGEN REFCHECK BUILDDIR
. "$(dirname "$0")/common.sh"
BUILD=${3:-}
[ -n "$BUILD" ] && [ -d "$BUILD" ] || skip "no build folder given"
command -v pkg-config >/dev/null 2>&1 || skip "pkg-config is not installed"
CC=${CC:-cc}

DEST="$WORK/dest"
meson install -C "$BUILD" --destdir "$DEST" --no-rebuild --quiet >"$WORK/install.log" 2>&1 ||
    { cat "$WORK/install.log" >&2; fail "meson install failed"; }
pc=$(find "$DEST" -name fhirgen.pc | head -n 1)
[ -n "$pc" ] || fail "no fhirgen.pc installed"
lib=$(find "$DEST" -name 'libfhirgen.so.*' -type f | head -n 1)
[ -n "$lib" ] || fail "no libfhirgen.so installed"
bin=$(find "$DEST" -path '*/bin/fhirgen' -type f | head -n 1)
[ -n "$bin" ] || fail "no fhirgen program installed"
data=$(find "$DEST" -path '*/share/fhirgen' -type d | head -n 1)
[ -n "$data" ] || fail "no data folder installed"
inc=$(find "$DEST" -path '*/include/fhirgen' -type d | head -n 1)
[ -n "$inc" ] || fail "no headers installed"

# pkg-config answers for the install prefix; point it into DESTDIR.
prefix=$(sed -n 's/^prefix=//p' "$pc")
PC="pkg-config --define-variable=prefix=$DEST$prefix"
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") $PC --cflags fhirgen) || fail "pkg-config --cflags failed"
libs=$(PKG_CONFIG_PATH=$(dirname "$pc") $PC --libs fhirgen) || fail "pkg-config --libs failed"

# Every public header compiles on its own, with only the installed headers.
n=0
for h in $(cd "$inc" && find . -name 'fg_*.h' | sed 's|^\./||' | sort); do
    printf '#include "%s"\nint main(void) { return 0; }\n' "$h" >"$WORK/one.c"
    $CC -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE $cflags -c "$WORK/one.c" -o "$WORK/one.o" \
        2>"$WORK/cc.log" || { cat "$WORK/cc.log" >&2; fail "installed header $h does not compile alone"; }
    n=$((n + 1))
done
[ "$n" -gt 10 ] || fail "only $n public headers installed"
say "ok: $n installed headers compile alone"

cat >"$WORK/prog.c" <<'C'
#include <stdio.h>
#include <string.h>

#include "fhir/base/fg_error.h"
#include "generators/engine/fg_engine.h"

int main(void)
{
    const char *s = fg_strerror(FG_ENOMEM);
    printf("%s\n", s);
    return s && *s ? 0 : 1;
}
C
$CC -std=c17 -Wall -Werror $cflags "$WORK/prog.c" -o "$WORK/prog" $libs 2>"$WORK/cc.log" ||
    { cat "$WORK/cc.log" >&2; fail "a program does not link against the installed library"; }
LD_LIBRARY_PATH=$(dirname "$lib") "$WORK/prog" >/dev/null || fail "the linked program does not run"
say "ok: a program compiles and links with pkg-config"

bad=$(nm -D --defined-only "$lib" | awk '$3 !~ /^fg_/ {print $3}' | head -n 5)
[ -z "$bad" ] || fail "the library exports symbols outside the fg_* API: $bad"
say "ok: the library exports only fg_* symbols"

LD_LIBRARY_PATH=$(dirname "$lib") FHIRGEN_DATA_DIR="$data" "$bin" generate -n 2 --seed 3 \
    --out "$WORK/out" --quiet || fail "the installed fhirgen cannot generate"
[ "$(find "$WORK/out" -name '*.json' | wc -l)" -eq 2 ] || fail "the installed fhirgen wrote no bundles"
say "ok: the installed program generates"
