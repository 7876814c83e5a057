#!/bin/sh
# routing.sh -- `routing:` decides a capability step's model and fallbacks
# in the plan: by cost orders the candidates by the price of a call, the
# restrictions (providers, max_cost_per_call, min_context) drop models, a
# step's own routing replaces the workflow's.  Read back with pomlc --dump.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc

if [ ! -x "$pomlc" ]; then
    echo "error: $pomlc not built"
    exit 1
fi

. "$top_srcdir/tests/lib.sh"
test_begin plan-routing

# models STEP: the model and fallbacks of STEP in $tmp/dump, space-separated
models() {
    awk -v id="$1" '
        $1 == "step" { on = ($3 == id); next }
        on && /^    model: / { printf "%s", $2 }
        on && /^    fallback / { printf " %s", $3 }
    ' "$tmp/dump"
}

# code_analysis is claude-sonnet-4-5, gpt-5, gemini-2.5-pro, deepseek-chat
cat > "$tmp/w.poml" <<'POML'
workflow_id: w
routing:
  by: cost
steps:
  - id: plain
    agent_capability: code_analysis
    routing: {providers: [anthropic, openai, google, deepseek]}
    prompt: hi
  - id: cheap
    agent_capability: code_analysis
    max_tokens: 1000
    prompt: hi
  - id: capped
    agent_capability: code_analysis
    max_tokens: 1000
    routing: {by: cost, max_cost_per_call: 0.011}
    prompt: hi
  - id: long
    agent_capability: code_analysis
    routing: {min_context: 300000}
    prompt: hi
  - id: openai
    agent_capability: code_analysis
    routing: {providers: [openai]}
    prompt: hi
POML
if "$pomlc" -o "$tmp/w.plan" "$tmp/w.poml" 2> "$tmp/err" &&
    "$pomlc" --dump "$tmp/w.plan" > "$tmp/dump" 2>> "$tmp/err"; then
    pass
    same_text "a step's own routing replaces the workflow's" \
        "$(models plain)" "claude-sonnet-4-5 gpt-5 gemini-2.5-pro deepseek-chat"
    same_text "by cost: cheapest first, catalog order breaks ties" \
        "$(models cheap)" "deepseek-chat gpt-5 gemini-2.5-pro claude-sonnet-4-5"
    same_text "max_cost_per_call drops dearer models" \
        "$(models capped)" "deepseek-chat gpt-5 gemini-2.5-pro"
    same_text "min_context drops smaller windows" \
        "$(models long)" "gpt-5 gemini-2.5-pro"
    same_text "providers keeps only theirs" "$(models openai)" "gpt-5"
else
    fail "routing workflow does not compile: $(first "$tmp/err")"
fi

# --stats bounds a routed step's cost with its dearest candidate: here
# gemini-2.5-pro (the largest window), though deepseek-chat is chosen
stats() {
    printf 'workflow_id: w\nsteps:\n  - id: a\n    %s\n    %s\n' "$1" "$2" \
        > "$tmp/s.poml"
    printf '    max_tokens: 1000\n    prompt: hi\n' >> "$tmp/s.poml"
    "$pomlc" --stats "$tmp/s.poml" 2> "$tmp/err" | grep -E '^(cost|tokens) '
}
routed=$(stats 'agent_capability: code_analysis' 'routing: {by: cost}')
dearest=$(stats 'model: gemini-2.5-pro' 'temperature: 0')
cheapest=$(stats 'model: deepseek-chat' 'temperature: 0')
case $routed in
*'$'*) same_text "--stats bound of a routed step" "$routed" "$dearest" ;;
*) fail "--stats of a routed step: no cost line ($(first "$tmp/err"))" ;;
esac
if [ "$routed" != "$cheapest" ]; then pass; else
    fail "--stats bound of a routed step is its chosen model's"
fi

test_end
