#!/bin/sh
# approval.sh -- a person in the loop: approval steps, escalations, notify
#
# An approval step suspends the run (exit status 4): the rest goes on,
# what it gates waits, pomlrun says what waits and how to answer, and the
# state file holds the question (--waiting lists it).  --approve records
# a value (refused when it breaks the step's schema or the timeout has
# passed), --reject a refusal; a step that exhausts its retries with
# escalate_to: human waits for --decide retry|skip|abort.  notify runs a
# command with the failure as JSON and posts it to a URL (a loopback
# receiver on 127.0.0.1, port from the OS) with a header taken from the
# environment.  With --resume (the same run continued), the answers take
# effect: an approved value becomes the step's outputs downstream, a
# rejection fails the step, a timeout fails it, and retry, skip and abort
# do what they say.  pomlc's diagnostics for bad values end it.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
for prog in python3 sqlite3; do
    if ! command -v "$prog" > /dev/null 2>&1; then
        echo "approval: $prog is needed; skipped"
        exit 77
    fi
done

. "$top_srcdir/tests/lib.sh"
test_begin approval

wf=$top_srcdir/tests/run/wf

# q DIR SQL: what sqlite3 prints for SQL on DIR's state file
q() {
    sqlite3 "$1/.poml/state.db" "$2" 2>&1
}

# has WHAT FILE PATTERN: FILE has a line matching PATTERN (grep -E)
has() {
    if grep -E -- "$3" "$2" > /dev/null 2>&1; then
        pass
    else
        fail "$1: no '$3' in: $(first "$2")"
    fi
}

# run DIR ARGS...: pomlrun in DIR, standard error to DIR/err; sets rc
run() {
    dir=$1
    shift
    (cd "$dir" && "$pomlrun" "$@") > "$dir/out" 2> "$dir/err"
    rc=$?
    sanitized "pomlrun $*" "$dir/err"
}

for w in approval approval-timeout escalate; do
    if ! "$pomlc" -o "$tmp/$w.plan" "$wf/$w.poml" > "$tmp/pomlc.err" 2>&1
    then
        fail "pomlc $w.poml: $(first "$tmp/pomlc.err")"
        test_end
        exit
    fi
done

resume=no
if "$pomlrun" --help 2>&1 | grep -q -- '--resume'; then
    resume=yes
fi

# ---- an approval suspends the run ----
d=$tmp/ok
mkdir -p "$d"
run "$d" "$tmp/approval.plan"
same_text "suspended: exit status" "$rc" 4
has "suspended: what waits" "$d/err" "^pomlrun:   ok: Deploy v1 to production\?"
has "suspended: the command" "$d/err" "answer: pomlrun --approve [0-9a-f-]+ 'ok'"
same_text "suspended: jobs" \
    "$(q "$d" "SELECT step || ':' || status FROM jobs ORDER BY step")" \
    "$(printf '%s\n' build:succeeded deploy:cancelled ok:suspended \
        other:succeeded)"
same_text "suspended: the run" "$(q "$d" 'SELECT status, exit_status FROM runs')" \
    "suspended|4"
same_text "suspended: the question" \
    "$(q "$d" "SELECT kind || ':' || prompt || ':' || coalesce(decision, '-') FROM approvals")" \
    "approval:Deploy v1 to production?:-"
run "$d" --waiting
same_text "--waiting: exit status" "$rc" 0
has "--waiting: lists it" "$d/out" "^[0-9a-f-]+  ok +approval"
run "$d" --waiting --json
same_text "--waiting --json" "$(python3 -c 'import json, sys
l = json.load(open(sys.argv[1]))
print(len(l), l[0]["step"], l[0]["schema"]["required"][0])' "$d/out" 2>&1)" \
    "1 ok target"

# answers that do not fit are refused, and the question still waits
run "$d" --approve last ok --value '{"target": 3}'
same_text "schema violation: exit status" "$rc" 1
has "schema violation: why" "$d/err" "does not match the step's schema: \\\$\\.target: expected string"
run "$d" --approve last ok --value '{not json'
same_text "not JSON: exit status" "$rc" 1
run "$d" --approve last nosuch
same_text "no such step: exit status" "$rc" 1
has "no such step: why" "$d/err" "has no question for step 'nosuch'"
run "$d" --decide last ok retry
same_text "--decide on an approval: exit status" "$rc" 1
has "--decide on an approval: why" "$d/err" "it is an approval"
run "$d" --reject last ok --value '{}'
same_text "--value with --reject: exit status" "$rc" 2
same_text "still waiting" "$(q "$d" "SELECT count(*) FROM approvals WHERE decision IS NULL")" 1

# the answer
run "$d" --approve last ok --value '{"target": "prod"}' --comment "go ahead" \
    --by alice
same_text "--approve: exit status" "$rc" 0
same_text "--approve: recorded" \
    "$(q "$d" "SELECT decision || '|' || value || '|' || reason || '|' || answered_by FROM approvals")" \
    'approve|{"target":"prod"}|go ahead|alice'
run "$d" --approve last ok
same_text "answered twice: exit status" "$rc" 1
has "answered twice: why" "$d/err" "answered already \(approve by alice\)"
run "$d" --waiting
has "nothing waits" "$d/out" "^nothing waits$"
if [ $resume = yes ]; then
    run "$d" --resume last -q "$tmp/approval.plan"
    same_text "resume after approve: exit status" "$rc" 0
    run "$d" --outputs last deploy
    has "the value downstream" "$d/out" "to prod by alice: go ahead"
    run "$d" --outputs last ok
    same_text "the approval's outputs" "$(python3 -c 'import json, sys
o = json.load(open(sys.argv[1]))
print(o["target"], o["approved"], o["by"], o["comment"])' "$d/out" 2>&1)" \
        "prod True alice go ahead"
fi

# ---- a rejection ----
d=$tmp/reject
mkdir -p "$d"
run "$d" -q "$tmp/approval.plan"
same_text "reject: suspended" "$rc" 4
run "$d" --reject last ok --comment "not today"
same_text "--reject: exit status" "$rc" 0
same_text "--reject: recorded" \
    "$(q "$d" "SELECT decision || '|' || reason FROM approvals")" \
    "reject|not today"
if [ $resume = yes ]; then
    run "$d" --resume last -q "$tmp/approval.plan"
    same_text "resume after reject: exit status" "$rc" 1
    has "resume after reject: why" "$d/err" "ok failed.*rejected by .*: not today"
fi

# ---- a timeout ----
d=$tmp/timeout
mkdir -p "$d"
run "$d" -q "$tmp/approval-timeout.plan"
same_text "timeout: suspended" "$rc" 4
same_text "timeout: a deadline" \
    "$(q "$d" "SELECT round(deadline - requested_at, 3) FROM approvals")" 1.0
# wait until the deadline has passed, by the state file's own clock
python3 -c 'import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
d = db.execute("SELECT deadline FROM approvals").fetchone()[0]
while time.time() <= d + 0.05:
    time.sleep(0.05)' "$d/.poml/state.db"
run "$d" --approve last wait
same_text "timed out: exit status" "$rc" 1
has "timed out: why" "$d/err" "its timeout passed at"
if [ $resume = yes ]; then
    run "$d" --resume last -q "$tmp/approval-timeout.plan"
    same_text "resume after the timeout: exit status" "$rc" 1
    has "resume after the timeout: why" "$d/err" "no answer within the timeout"
fi

# ---- without a state file an approval cannot wait ----
d=$tmp/nostate
mkdir -p "$d"
run "$d" -q --no-state "$tmp/approval.plan"
same_text "--no-state: exit status" "$rc" 1
has "--no-state: why" "$d/err" "ok failed.*this run keeps none"

# ---- escalation, and notify by command and by channel ----
# escalate DIR: the escalating run in DIR, its hook channel a command
escalate() {
    mkdir -p "$1"
    POML_NOTIFY_HOOK='echo "$POML_FAILED_STEPS" > hook.out' \
        run "$1" -q "$tmp/escalate.plan"
}
d=$tmp/esc
escalate "$d"
same_text "escalated: exit status" "$rc" 4
same_text "escalated: attempts" "$(wc -l < "$d/flaky.count" | tr -d ' ')" 2
same_text "escalated: the question" \
    "$(q "$d" "SELECT kind || ':' || prompt FROM approvals")" \
    "escalation:failed after 2 attempts (exit status 1): retry, skip or abort?"
same_text "escalated: jobs" \
    "$(q "$d" "SELECT step || ':' || status FROM jobs ORDER BY step")" \
    "$(printf '%s\n' after:cancelled flaky:suspended free:succeeded)"
has "escalated: the command" "$d/err" "answer: pomlrun --decide [0-9a-f-]+ 'flaky' retry\|skip\|abort"
same_text "notify command: the failure as JSON" "$(python3 -c "$py_json"'
o = json.load(open(sys.argv[1]))
print(o["status"], show(o["failed"]), o["waiting"][0]["step"], o["waiting"][0]["kind"])' \
    "$d/notified.json" 2>&1)" "suspended [] flaky escalation"
if [ -f "$d/hook.out" ]; then pass; else fail "notify channel: the command did not run"; fi
run "$d" --approve last flaky
same_text "--approve on an escalation: exit status" "$rc" 1
has "--approve on an escalation: why" "$d/err" "answer it with --decide"
run "$d" --decide last flaky later
same_text "--decide later: exit status" "$rc" 2
for how in retry skip abort; do
    d=$tmp/esc-$how
    escalate "$d"
    run "$d" --decide last flaky $how --by bob
    same_text "--decide $how: exit status" "$rc" 0
    same_text "--decide $how: recorded" \
        "$(q "$d" "SELECT decision || ':' || answered_by FROM approvals")" \
        "$how:bob"
    [ $resume = yes ] || continue
    : > "$d/fixed"
    run "$d" --resume last -q "$tmp/escalate.plan"
    case $how in
    retry)
        same_text "resume, retry: exit status" "$rc" 0
        same_text "resume, retry: ran again" \
            "$(q "$d" "SELECT status FROM jobs WHERE step = 'after'")" succeeded
        ;;
    skip)
        same_text "resume, skip: exit status" "$rc" 0
        same_text "resume, skip: skipped" \
            "$(q "$d" "SELECT status FROM jobs WHERE step = 'flaky'")" skipped
        same_text "resume, skip: not run" "$(wc -l < "$d/flaky.count" | tr -d ' ')" 2
        ;;
    abort)
        same_text "resume, abort: exit status" "$rc" 1
        has "resume, abort: why" "$d/err" "aborted on escalation by bob"
        ;;
    esac
done
# without a state file nothing escalates: the failure stands
d=$tmp/esc-nostate
mkdir -p "$d"
run "$d" --no-state --events "$d/events" "$tmp/escalate.plan"
same_text "escalation without state: exit status" "$rc" 1
has "escalation without state: why" "$d/err" "not escalated: a decision is kept in the state file"
# the events say a job waits
d=$tmp/esc-events
mkdir -p "$d"
run "$d" -q --events "$d/events" "$tmp/approval.plan"
has "--events: suspended" "$d/events" '"event":"step_finished","step":"ok","status":"suspended".*"reason":"Deploy v1 to production\?"'
if [ $resume = no ]; then
    echo "approval: pomlrun has no --resume yet: the checks of answers" \
        "taking effect are not run"
fi

# ---- notify by POST to a loopback receiver ----
d=$tmp/post
mkdir -p "$d"
python3 -c 'import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n).decode()
        with open(sys.argv[1] + ".tmp", "w") as f:
            json.dump({"path": self.path, "token": self.headers.get("X-Token"),
                       "type": self.headers.get("Content-Type"),
                       "body": json.loads(body)}, f)
        import os
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.handle_request()' "$d/got.json" "$d/port" &
server=$!
n=0
while [ ! -s "$d/port" ] && [ $n -lt 100 ]; do
    sleep 0.1
    n=$((n + 1))
done
port=$(cat "$d/port" 2> /dev/null)
cat > "$d/post.poml" <<EOP
workflow_id: notify_url
steps:
  - id: bad
    run: "exit 2"
    notify:
      url: "http://127.0.0.1:$port/hook?k=s3cret"
      headers: {X-Token: NOTIFY_TOKEN}
  - id: fine
    run: "true"
    notify: "http://127.0.0.1:9/never"
EOP
if "$pomlc" -o "$d/post.plan" "$d/post.poml" > "$d/pomlc.err" 2>&1; then
    NOTIFY_TOKEN=t0k run "$d" "$d/post.plan"
    same_text "notify URL: exit status" "$rc" 1
    same_text "notify URL: what arrived" "$(python3 -c "$py_json"'
o = json.load(open(sys.argv[1]))
b = o["body"]
print(o["path"], o["token"], o["type"], b["status"], b["failed"][0]["step"],
      b["failed"][0]["reason"], len(b["waiting"]))' "$d/got.json" 2>&1)" \
        "/hook?k=s3cret t0k application/json failed bad exit status 2 0"
    has "notify URL: a note" "$d/err" "notify: posted to 127.0.0.1:$port$"
    if grep -q s3cret "$d/err"; then
        fail "notify URL: the URL's query was printed"
    else
        pass
    fi
    if grep -q '127.0.0.1:9' "$d/err"; then
        fail "notify URL: the step that succeeded notified"
    else
        pass
    fi
else
    fail "pomlc post.poml: $(first "$d/pomlc.err")"
fi
kill "$server" 2> /dev/null
wait "$server" 2> /dev/null

# ---- pomlc's diagnostics ----
# bad WHAT MESSAGE YAML-OF-A-STEP...: pomlc refuses it with MESSAGE
bad() {
    what=$1
    msg=$2
    shift 2
    printf 'workflow_id: bad\nsteps:\n' > "$tmp/bad.poml"
    printf '%s\n' "$@" >> "$tmp/bad.poml"
    if "$pomlc" -o "$tmp/bad.plan" "$tmp/bad.poml" > "$tmp/bad.err" 2>&1; then
        fail "pomlc $what: accepted"
    else
        has "pomlc $what" "$tmp/bad.err" "$msg"
    fi
}
bad "approval without prompt" "approval step 'a' has no 'prompt'" \
    '  - id: a' '    type: approval'
bad "schema on a shell step" "'schema' is the answer's schema of an approval step" \
    '  - id: a' '    run: "true"' '    schema: {type: object}'
bad "escalate_to robot" "'escalate_to' must be human, not 'robot'" \
    '  - id: a' '    run: "true"' '    escalate_to: robot'
bad "an approval escalating" "is answered by a person already" \
    '  - id: a' '    type: approval' '    prompt: x' '    escalate_to: human'
bad "notify nonsense" "'notify' must name a channel" \
    '  - id: a' '    run: "true"' '    notify: "a b"'
bad "notify url and run" "needs either 'url' .* not both" \
    '  - id: a' '    run: "true"' \
    '    notify: {url: "http://x", run: "true"}'
bad "notify ftp" "'url' must begin with http:// or https://" \
    '  - id: a' '    run: "true"' '    notify: {url: "ftp://x"}'
bad "notify header variable" "'bad-var' is not a variable name" \
    '  - id: a' '    run: "true"' \
    '    notify: {url: "http://x", headers: {X-A: bad-var}}'
bad "notify interpolated command" "is not interpolated in an on_failure command" \
    '  - id: a' '    run: "true"' \
    '    on_failure: [notify: {run: "echo ${steps.a.stdout}"}]'

test_end
