#!/bin/sh
# compare.sh -- checks the YAML front end against PyYAML
#
# Every file in tests/yaml/valid, and every ```yaml block of the seed
# documents in ../shared/seeds ($POML_SHARED/seeds when that is set), is
# parsed by yaml_dump and by PyYAML's BaseLoader (all scalars are strings,
# empty values are ""); both trees are printed as compact JSON and must be
# identical.  Seed blocks that PyYAML rejects, or that use a construct the
# subset refuses on purpose (anchors, tags, several documents:
# -Wunsupported), are listed and skipped.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
dump=$top_builddir/tests/yaml/yaml_dump

if ! command -v python3 >/dev/null 2>&1; then
    echo "skipped: python3 not found"
    exit 77
fi
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
    echo "skipped: PyYAML not installed (apt-get install python3-yaml)"
    exit 77
fi
if [ ! -x "$dump" ]; then
    echo "error: $dump not built (make tests/yaml/yaml_dump)"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PyYAML's reading of each file named on stdin, one JSON line per file in
# the same order ("error: ..." when PyYAML rejects it).  An empty document
# is None to PyYAML and "" to yaml_dump (a PC_NODE_NULL root): normalised.
cat > "$tmp/ref.py" <<'EOF'
import json, sys, yaml
for path in sys.stdin.read().split('\n'):
    if not path:
        continue
    try:
        with open(path, 'rb') as f:
            d = yaml.load(f, Loader=yaml.BaseLoader)
        if d is None:
            d = ""
        out = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    except Exception as e:
        out = "error: " + " ".join(str(e).split())
    sys.stdout.buffer.write(out.encode('utf-8', 'surrogateescape') + b'\n')
EOF

passed=0
failed=0
skipped=0

# check LIST: compares every file named in LIST (one per line)
check() {
    python3 "$tmp/ref.py" < "$1" > "$tmp/ref.all" || {
        echo "FAIL: python3 could not read the files in $1"
        failed=$((failed + 1))
        return
    }
    i=0
    while IFS= read -r f; do
        i=$((i + 1))
        ref=$(sed -n "${i}p" "$tmp/ref.all")
        name=${f#"$top_srcdir"/}
        name=${name#"$tmp"/}
        "$dump" "$f" > "$tmp/out" 2> "$tmp/err"
        rc=$?
        ours=$(cat "$tmp/out")
        case $ref in
        error:*)
            if [ "$2" = seeds ]; then
                printf 'skip: %s: not YAML to PyYAML (%s)\n' "$name" \
                    "${ref#error: }"
                skipped=$((skipped + 1))
                continue
            fi
            ;;
        esac
        if [ "$2" = seeds ] && [ "$rc" = 1 ] &&
            grep -q '\[-Wunsupported\]' "$tmp/err"; then
            printf 'skip: %s: outside the subset: %s\n' "$name" \
                "$(head -n 1 "$tmp/err")"
            skipped=$((skipped + 1))
            continue
        fi
        if [ "$rc" = 0 ] && [ "$ours" = "$ref" ] && [ ! -s "$tmp/err" ]
        then
            passed=$((passed + 1))
        else
            err=$(tr '\n' ' ' < "$tmp/err")
            printf 'FAIL: %s: exit %s: ours=%s %spyyaml=%s\n' "$name" "$rc" \
                "$ours" "${err:+stderr=$err }" "$ref"
            failed=$((failed + 1))
        fi
    done < "$1"
}

ls "$top_srcdir"/tests/yaml/valid/*.yaml > "$tmp/valid.list" 2>/dev/null
if [ ! -s "$tmp/valid.list" ]; then
    echo "FAIL: no files in $top_srcdir/tests/yaml/valid"
    failed=$((failed + 1))
else
    check "$tmp/valid.list" valid
fi

seeds=${POML_SHARED:-$top_srcdir/../shared}/seeds
if [ -d "$seeds" ]; then
    mkdir "$tmp/seeds"
    # each ```yaml block becomes seeds/DOC-N.yaml
    python3 - "$seeds" "$tmp/seeds" > "$tmp/seeds.list" <<'EOF'
import os, re, sys
src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    if not name.endswith(('.txt', '.md')):
        continue
    with open(os.path.join(src, name), 'rb') as f:
        text = f.read().decode('utf-8', 'replace')
    blocks = re.findall(r'^[ \t]*```ya?ml[^\n]*\n(.*?)^[ \t]*```', text,
                        re.S | re.M)
    for i, b in enumerate(blocks, 1):
        out = os.path.join(dst, '%s-%d.yaml' % (os.path.splitext(name)[0], i))
        with open(out, 'w', encoding='utf-8') as f:
            f.write(b)
        print(out)
EOF
    if [ -s "$tmp/seeds.list" ]; then
        echo "note: comparing $(wc -l < "$tmp/seeds.list") yaml blocks" \
            "of $seeds"
        check "$tmp/seeds.list" seeds
    else
        echo "note: no \`\`\`yaml blocks in $seeds"
    fi
else
    echo "note: $seeds absent: seed documents not compared"
fi

[ "$skipped" = 0 ] || echo "note: $skipped seed blocks skipped"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
