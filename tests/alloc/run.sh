#!/bin/sh
# run.sh -- out of memory: a small compile and a small run fail their N-th
# allocation, for N = 1, 2, ...
#
# tests/alloc/pomlc-oom and pomlrun-oom are pomlc and pomlrun linked with
# failmalloc.c.  A first run of each case counts its allocations; then
# the N-th fails and every later one too, for every N up to that count
# (past the first 50, every k-th, so that a case makes about 300 runs),
# and again with only the N-th failing.  Each run must end with status 1
# and say "out of memory" on stderr, or, when the program could do
# without that allocation, end as the clean run did, with what it wrote;
# never a signal, a sanitizer report or a failure without a word.
# shellcheck shell=sh
. "$top_srcdir/tests/lib.sh"
test_begin alloc

# Memory left allocated after a failure is a leak like any other, but
# for the one lsan.supp names
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$top_srcdir/tests/alloc/lsan.supp"
export LSAN_OPTIONS

pomlc=$top_builddir/tests/alloc/pomlc-oom
pomlrun=$top_builddir/tests/alloc/pomlrun-oom
ex=$top_srcdir/examples
cd "$tmp" || exit 1

# what a run leaves to compare: its standard output less the times and
# the run id, and the file it writes
result() {
    grep -v -e '"run_id":' -e '_at":' out
    [ -f o.plan ] && od -c o.plan
    :
}

# check NAME COMMAND...: the case under every allocation failure, and
# under each alone
check() {
    name=$1
    shift
    rm -f o.plan count
    POML_ALLOC_COUNT=$tmp/count "$@" > out 2> err
    want_rc=$?
    if [ "$want_rc" -gt 1 ] || [ ! -s count ]; then
        fail "$name: the clean run fails ($want_rc): $(first err)"
        return
    fi
    result > want
    count=$(cut -d ' ' -f 1 count)
    step=$(( (count - 50) / 250 + 1 ))
    runs=0
    for mode in 0 1; do
        n=1
        while [ "$n" -le "$count" ]; do
            rm -f o.plan
            POML_FAIL_ALLOC=$n POML_FAIL_ALLOC_ONCE=$mode "$@" > out 2> err
            rc=$?
            runs=$((runs + 1))
            what="$name: allocation $n fails"
            [ "$mode" = 1 ] && what="$name: allocation $n alone fails"
            result > got
            if [ "$rc" -ge 128 ]; then
                fail "$what: killed by signal $((rc - 128)): $(first err)"
            elif ! sanitized "$what" err; then
                :
            elif [ "$rc" -eq 1 ] && grep -q 'out of memory' err; then
                pass
            elif [ "$rc" -eq "$want_rc" ] && cmp -s want got; then
                pass    # done without that allocation
            elif [ "$rc" -eq "$want_rc" ]; then
                fail "$what: exit $rc, another result: $(first err)"
            else
                fail "$what: exit $rc, no 'out of memory': $(first err)"
            fi
            if [ "$n" -lt 50 ]; then
                n=$((n + 1))
            else
                n=$((n + step))
            fi
        done
    done
    echo "$name: $count allocations, $runs runs"
}

# notes.poml: release-notes.poml without retries, which would absorb a
# lone failure into a second attempt (and another result)
"$top_builddir/pomlc" "$ex/hello.poml" -o hello.plan &&
    "$top_builddir/pomlc" "$top_srcdir/tests/alloc/notes.poml" \
        -o notes.plan ||
    exit 1

check "pomlc hello.poml" "$pomlc" "$ex/hello.poml" -o o.plan
check "pomlc --diagnostics-format=json" "$pomlc" \
    --diagnostics-format=json "$top_srcdir/tests/lint/invalid/arrow-chain-unknown-step.poml"
check "pomlc release-notes.poml" "$pomlc" "$ex/llm/release-notes.poml" \
    -o o.plan
check "pomlrun hello.plan" "$pomlrun" --json hello.plan -p name=poml
check "pomlrun --replay release-notes" "$pomlrun" --json \
    --replay "$ex/llm/release-notes.cassette" notes.plan \
    -p changes="$ex/llm/changes.txt"

test_end
