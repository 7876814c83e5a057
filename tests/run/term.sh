#!/bin/sh
# term.sh -- text pomlrun did not write reaches standard error escaped
#
# A shell step prints ESC / CR / C1 / bidirectional-override sequences and
# invalid UTF-8 on stdout and stderr, a loopback model (tests/llm/server.py)
# echoes them in its reply, and a failing step forges a "succeeded" line.
# pomlrun -v must print none of those bytes raw on stderr (they appear as
# \x1b, \r, \u009b, ...), while --json and --events keep the exact text.
# Exits 77 (skipped) without python3 or curl.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
for prog in python3 curl; do
    if ! command -v "$prog" > /dev/null 2>&1; then
        echo "term: $prog is needed; skipped"
        exit 77
    fi
done

. "$top_srcdir/tests/lib.sh"
test_begin term

key=sk-poml-term-$$
POML_TEST_KEY=$key
export POML_TEST_KEY
python3 "$top_srcdir/tests/llm/server.py" --port 0 --port-file "$tmp/port" \
    --log "$tmp/log" --key "$key" > "$tmp/server.out" 2>&1 &
server=$!
trap 'kill "$server" 2> /dev/null; wait "$server" 2> /dev/null; [ -n "$KEEP" ] || rm -rf "$tmp"' EXIT
n=0
until [ -s "$tmp/port" ]; do
    if ! kill -0 "$server" 2> /dev/null || [ "$n" -ge 400 ]; then
        echo "term: server.py did not start: $(first "$tmp/server.out")"
        exit 1
    fi
    sleep 0.05
    n=$((n + 1))
done
port=$(cat "$tmp/port")

sed "s|@PORT@|$port|g" "$top_srcdir/tests/run/wf/term.poml" > "$tmp/term.poml"
if ! "$pomlc" -o "$tmp/term.plan" "$tmp/term.poml" 2> "$tmp/pomlc.err"; then
    echo "term: pomlc failed: $(first "$tmp/pomlc.err")"
    exit 1
fi

# ESC [31m, CR, a forged line, C1 CSI (U+009B), RLO (U+202E), and for the
# shell step a stray byte (the step's output holds U+FFFD for it)
reply=$(printf '\033[31mred\rpomlrun: out succeeded\302\233K\342\200\256x')
text=$(printf '%s\377' "$reply")
"$pomlrun" -v --json --events "$tmp/events" "$tmp/term.plan" \
    -p text="$text" -p reply="$reply" > "$tmp/res.json" 2> "$tmp/err"
rc=$?
sanitized "pomlrun -v" "$tmp/err"
if [ "$rc" -eq 1 ]; then pass; else fail "exit status $rc, expected 1"; fi

# no raw control bytes on stderr: ESC, CR, C1 in UTF-8, RLO, the 0xff byte
for pat in '\033' '\r' '\302\233' '\342\200\256' '\377'; do
    b=$(printf "$pat")
    if grep -F "$b" "$tmp/err" > /dev/null; then
        fail "stderr holds a raw $pat: $(grep -F "$b" "$tmp/err" | head -n 1 |
            od -c | head -n 2 | tr -s ' ')"
    else
        pass
    fi
done
# ... but says what was there, escaped, and forges no line
for want in '  | \x1b[31mred\rpomlrun: out succeeded\u009bK\u202ex' \
    '  !| err \x1b[31mred\r' '\x1b[31mred\rpomlrun: out succeeded' \
    '  !| \x1b[2K\rpomlrun: bad succeeded in 1 ms'; do
    if grep -F -e "$want" "$tmp/err" > /dev/null; then
        pass
    else
        fail "stderr lacks '$want'"
    fi
done
if grep '^pomlrun: bad succeeded' "$tmp/err" > /dev/null; then
    fail "a step forged a line of pomlrun's own"
else
    pass
fi

# --json and --events keep the text exact (invalid UTF-8 as U+FFFD)
{
    printf '%s\n' "$py_json"
    cat << 'PY'
res = json.load(open(sys.argv[1], encoding="utf-8"))
want = "\x1b[31mred\rpomlrun: out succeeded\x9bK\u202ex\ufffd"
bad = 0
def check(what, expect):
    global bad
    got = get(res, what)
    if not isinstance(got, str) or expect not in got:
        print("%s is %s, expected it to hold %s"
              % (what, show(got), show(expect)))
        bad += 1
check("steps.out.outputs.stdout", want)
check("steps.reply.outputs.text", want[:-1])
check("steps.bad.outputs.stderr", "\x1b[2K\rpomlrun: bad succeeded")
texts = "".join(json.loads(l).get("text", "")
                for l in open(sys.argv[2], encoding="utf-8"))
if "\x1b[31mred\r" not in texts:
    print("--events step_output holds no exact ESC / CR text")
    bad += 1
sys.exit(1 if bad else 0)
PY
} > "$tmp/check.py"
if python3 "$tmp/check.py" "$tmp/res.json" "$tmp/events"; then
    pass
else
    fail "--json / --events lost the exact text"
fi

test_end
