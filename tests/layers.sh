#!/bin/sh
# layers.sh -- no lower layer includes a higher one
#
# The layers, lowest first, and what each may include besides itself:
#   runtime/          (libpomlrt.a)    nothing above it
#   compiler/, grammar/ (libpomlc.a)   runtime/
#   runtime/state/    (libpomlstate.a) runtime/
#   runtime/exec/     (libpomlexec.a)  runtime/
#   runtime/llm/      (libpomlllm.a)   runtime/exec/, runtime/
#   runtime/mcp/      (libpomlmcp.a)   runtime/ (the event loop is handed
#                                      in, never included)
#   runtime/pomlrun/  (pomlrun)        runtime/llm/, runtime/exec/,
#                                      runtime/state/, runtime/mcp/,
#                                      runtime/
# From a lower layer a higher one includes only its interface headers:
# runtime/exec/ run.h, loop.h and policy.h; runtime/llm/ llm.h;
# runtime/state/ store.h and queue.h (the shared run queue); runtime/mcp/ mcp.h (every header of runtime/ is its interface).
#
# Every #include of the sources of those folders is resolved as the
# compiler would (the including file's folder first, then the project's
# folders) and checked against the rule: a path such as "../exec/run.h"
# is caught as well as a bare name.  Then Makefile.am's include paths of
# each library are checked against the same rule, so that a bare name of
# a higher layer does not compile either.  The check first proves on
# itself that it catches a forbidden include.
# shellcheck shell=sh
LC_ALL=C
export LC_ALL
: "${top_srcdir:=.}" "${top_builddir:=.}"
. "$top_srcdir/tests/lib.sh"
test_begin layers

folders='runtime runtime/state runtime/exec runtime/llm runtime/mcp
    runtime/pomlrun compiler grammar'

# allowed FOLDER: the folders FOLDER may include from, itself first
allowed() {
    case $1 in
    runtime) echo runtime ;;
    compiler | grammar) echo "$1 compiler grammar runtime" ;;
    runtime/state) echo runtime/state runtime ;;
    runtime/exec) echo runtime/exec runtime ;;
    runtime/llm) echo runtime/llm runtime/exec runtime ;;
    runtime/mcp) echo runtime/mcp runtime ;;
    runtime/pomlrun)
        echo runtime/pomlrun runtime/llm runtime/exec runtime/state \
            runtime/mcp runtime ;;
    esac
}

# interface FOLDER: the headers other layers may include ('*': any)
interface() {
    case $1 in
    runtime/exec) echo run.h loop.h policy.h ;;
    runtime/llm) echo llm.h ;;
    runtime/state) echo store.h queue.h ;;
    runtime/mcp) echo mcp.h ;;
    runtime/pomlrun) echo '' ;;
    *) echo '*' ;;
    esac
}

# normalize PATH: a relative path with '.' and 'D/..' taken out
normalize() {
    printf '%s\n' "$1" | awk -F/ '{
        n = 0
        for (i = 1; i <= NF; i++) {
            if ($i == "." || $i == "") continue
            if ($i == ".." && n > 0 && p[n] != "..") { n--; continue }
            p[++n] = $i
        }
        s = ""
        for (i = 1; i <= n; i++) s = s (i > 1 ? "/" : "") p[i]
        print s
    }'
}

# exists PATH: PATH (relative to the tree) is a file of the sources or of
# the build (generated headers)
exists() {
    [ -f "$top_srcdir/$1" ] || [ -f "$top_builddir/$1" ]
}

# check_file NAME FILE: the includes of FILE, checked as if FILE were the
# source NAME of the tree; prints one line per violation
check_file() {
    name=$1
    folder=${name%/*}
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$2" |
    sed 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"]\)\([^>"]*\).*/\1 \2 \3/' |
    while read -r line quote inc; do
        target=
        if [ "$quote" = '"' ]; then
            t=$(normalize "$folder/$inc")
            if exists "$t"; then
                target=$t
            fi
        fi
        if [ -z "$target" ]; then
            for f in $(allowed "$folder") $folders; do
                if exists "$f/$inc"; then
                    target=$(normalize "$f/$inc")
                    break
                fi
            done
        fi
        [ -n "$target" ] || continue    # a system or generated header
        tdir=${target%/*}
        [ "$tdir" = "$folder" ] && continue
        ok=no
        for f in $(allowed "$folder"); do
            [ "$f" = "$tdir" ] && ok=yes
        done
        if [ $ok = no ]; then
            echo "$name:$line: includes $target: $folder/ may not" \
                "include $tdir/, which is not a layer below it"
            continue
        fi
        iface=$(interface "$tdir")
        [ "$iface" = '*' ] && continue
        ok=no
        for h in $iface; do
            [ "$h" = "${target##*/}" ] && ok=yes
        done
        [ $ok = yes ] || echo "$name:$line: includes $target, which is" \
            "not the interface of $tdir/ (${iface:-none})"
    done
}

# ---- the check proves it catches what it is for ----
# self_test NAME TEXT PATTERN: the includes TEXT checked as source NAME
# give a violation matching PATTERN ('': none at all)
self_test() {
    printf '%b' "$2" > "$tmp/self.c"
    out=$(check_file "$1" "$tmp/self.c")
    if { [ -z "$3" ] && [ -z "$out" ]; } ||
        { [ -n "$3" ] && printf '%s\n' "$out" | grep -q "$3"; }; then
        pass
    else
        fail "self-test: $1 with $2: got '$out'"
    fi
}
self_test runtime/eval.c '#include "../exec/run.h"\n' runtime/exec/run.h
self_test runtime/exec/sched.c '#include <stdio.h>\n#include "llm.h"\n' \
    runtime/llm/llm.h
self_test runtime/llm/llm.c '#include "sched_int.h"\n' 'not the interface'
self_test runtime/llm/x.c '#include "run.h"\n#include "plan.h"\n' ''
self_test runtime/mcp/client.c '#include "loop.h"\n' runtime/exec/loop.h
self_test runtime/pomlrun/x.c '#include "mcp_int.h"\n' 'not the interface'

# ---- the sources ----
for d in $folders; do
    for f in "$top_srcdir/$d"/*.[chly]; do
        [ -f "$f" ] || continue
        out=$(check_file "$d/${f##*/}" "$f")
        if [ -n "$out" ]; then
            printf '%s\n' "$out" | while read -r l; do echo "FAIL: $l"; done
            failed=$((failed + $(printf '%s\n' "$out" | wc -l)))
        else
            pass
        fi
    done
done

# ---- Makefile.am: each library's include paths ----
# VAR = ... definitions (with continuation lines and +=), expanded, and the
# -I$(srcdir)/FOLDER of each library's CPPFLAGS
paths=$(awk '
    function expand(s,   m, v) {
        while (match(s, /\$\([A-Za-z_]+\)/)) {
            v = substr(s, RSTART + 2, RLENGTH - 3)
            s = substr(s, 1, RSTART - 1) (v in var ? var[v] : "@" v "@") \
                substr(s, RSTART + RLENGTH)
        }
        return s
    }
    { line = line $0 }
    /\\$/ { sub(/\\$/, "", line); next }
    {
        if (match(line, /^[A-Za-z_]+[ \t]*\+?=/)) {
            name = line; sub(/[ \t]*\+?=.*/, "", name)
            val = line; sub(/^[^=]*=[ \t]*/, "", val)
            if (line ~ /^[A-Za-z_]+[ \t]*\+=/) var[name] = var[name] " " val
            else var[name] = val
        }
        line = ""
    }
    END {
        n = split("libpomlrt_a libpomlstate_a libpomlexec_a libpomlllm_a " \
                  "libpomlmcp_a pomlrun", libs, " ")
        for (i = 1; i <= n; i++) {
            s = expand(var[libs[i] "_CPPFLAGS"])
            out = libs[i] ":"
            while (match(s, /-I@srcdir@\/[A-Za-z_\/]+/)) {
                out = out " " substr(s, RSTART + 11, RLENGTH - 11)
                s = substr(s, RSTART + RLENGTH)
            }
            print out
        }
    }' "$top_srcdir/Makefile.am")
printf '%s\n' "$paths" | while read -r lib dirs; do
    case $lib in
    libpomlrt_a:) own=runtime ;;
    libpomlstate_a:) own=runtime/state ;;
    libpomlexec_a:) own=runtime/exec ;;
    libpomlllm_a:) own=runtime/llm ;;
    libpomlmcp_a:) own=runtime/mcp ;;
    pomlrun:) own=runtime/pomlrun ;;
    esac
    [ -n "$dirs" ] || echo "FAIL: Makefile.am: ${lib%:}_CPPFLAGS has no include path"
    for d in $dirs; do
        ok=no
        for f in $(allowed $own); do
            [ "$f" = "$d" ] && ok=yes
        done
        [ $ok = yes ] || echo "FAIL: Makefile.am: ${lib%:}_CPPFLAGS gives" \
            "$own/ the include path of $d/, a higher layer"
    done
done > "$tmp/mk"
if [ -s "$tmp/mk" ]; then
    cat "$tmp/mk"
    failed=$((failed + $(wc -l < "$tmp/mk")))
else
    pass
fi

test_end
