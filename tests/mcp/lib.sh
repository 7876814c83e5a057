# lib.sh -- what tests/mcp's drivers share (sourced after tests/lib.sh)
#
#   run_wf CHECK NAME          compiles $tmp/NAME.poml, runs it with --json
#                              into $tmp/NAME.json (stderr: NAME.err)
#   expect CHECK NAME <<SPEC   one line per step: ID STATUS [REGEX], the
#                              regular expression searched in its reason;
#                              or ID.OUTPUT = JSON, an output's value; or
#                              ID.OUTPUT ~ REGEX, a text output
# shellcheck shell=sh

run_wf() {
    if ! "$pomlc" -o "$tmp/$2.plan" "$tmp/$2.poml" > "$tmp/$2.err" 2>&1; then
        fail "$1: pomlc: $(first "$tmp/$2.err")"
        return 1
    fi
    "$pomlrun" --json "$tmp/$2.plan" > "$tmp/$2.json" 2> "$tmp/$2.err"
    sanitized "$1" "$tmp/$2.err"
}

expect() {
    out=$(python3 -c "$py_json"'
d = json.load(open(sys.argv[1]))
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    if " = " in line or " ~ " in line:
        op = " = " if " = " in line else " ~ "
        path, want = line.split(op, 1)
        sid, out = path.split(".", 1)
        v = get(d, "steps." + sid + ".outputs." + out)
        if op == " = " and not same(v, json.loads(want)):
            print("%s is %s, not %s" % (path, show(v), want))
        if op == " ~ " and (not isinstance(v, str) or
                            not re.search(want, v)):
            print("%s is %s, which does not match %s" % (path, show(v), want))
        continue
    parts = line.split(None, 2)
    s = get(d, "steps." + parts[0])
    if s is MISSING:
        print("no step %s" % parts[0])
        continue
    if s["status"] != parts[1]:
        print("%s %s, not %s (%s)" % (parts[0], s["status"], parts[1],
                                      s.get("reason")))
    elif len(parts) > 2 and not re.search(parts[2], s.get("reason") or ""):
        print("%s: reason %r does not match %r" % (parts[0], s.get("reason"),
                                                   parts[2]))
' "$tmp/$2.json" 2>&1)
    if [ -n "$out" ]; then
        printf '%s\n' "$out" | while read -r l; do echo "FAIL: $1: $l"; done
        failed=$((failed + $(printf '%s\n' "$out" | wc -l)))
    else
        pass
    fi
}
