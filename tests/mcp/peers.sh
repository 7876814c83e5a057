#!/bin/sh
# peers.sh -- tool steps against the MCP reference servers from npm
#
# @modelcontextprotocol/server-everything (stdio): a text tool, a tool with
# an outputSchema and structuredContent, an image, a long-running tool
# that reports progress, a call the server refuses (isError);
# @modelcontextprotocol/server-filesystem in a temporary directory: write,
# read and list files, a path outside its root refused by the server.
# The servers are looked for in $POML_MCP_PEERS (a node_modules folder),
# else in ~/.cache/poml-mcp/node_modules, where .ci/run installs them;
# without them or without node the test is skipped, and says so.
LC_ALL=C
export LC_ALL
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${POML_STDLIB:=$top_srcdir/stdlib}"
export POML_STDLIB
pomlc=$top_builddir/pomlc
pomlrun=$top_builddir/pomlrun
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/mcp/lib.sh"
peers=${POML_MCP_PEERS:-${HOME:-/nonexistent}/.cache/poml-mcp/node_modules}
ev=$peers/@modelcontextprotocol/server-everything/dist/index.js
fs=$peers/@modelcontextprotocol/server-filesystem/dist/index.js
if ! command -v node > /dev/null 2>&1 || [ ! -f "$ev" ] || [ ! -f "$fs" ]
then
    echo "SKIP: the MCP reference servers are not installed (npm install" \
        "@modelcontextprotocol/server-everything" \
        "@modelcontextprotocol/server-filesystem under ~/.cache/poml-mcp," \
        "as .ci/run does, or set POML_MCP_PEERS to their node_modules)"
    exit 77
fi
test_begin mcp-peers

# ---- server-everything over stdio ----
E="[node, \"$ev\", stdio]"
cat > "$tmp/everything.poml" <<EOF
workflow_id: everything
tools:
  echo: {command: $E}
  sum: {command: $E, name: get-sum}
  weather: {command: $E, name: get-structured-content}
  image: {command: $E, name: get-tiny-image}
  slow: {command: $E, name: trigger-long-running-operation}
  links: {command: $E, name: get-resource-links}
steps:
  - {id: echo, tool: echo, inputs: {message: from poml}}
  - {id: sum, tool: sum, inputs: {a: 19, b: 23}}
  - {id: weather, tool: weather, inputs: {location: Chicago}}
  - {id: image, tool: image}
  - {id: slow, tool: slow, inputs: {duration: 1, steps: 2}}
  - {id: refused, tool: links, inputs: {count: 50}}
EOF
run_wf everything everything
expect everything everything <<'EOF'
echo succeeded
echo.text = "Echo: from poml"
sum succeeded
sum.text ~ 42
weather succeeded
weather.is_error = false
image succeeded
slow succeeded
refused failed failed: .*(count|10)
refused.is_error = true
EOF
if python3 -c "$py_json"'
d = json.load(open(sys.argv[1]))["steps"]
w = d["weather"]["outputs"]["json"]
assert isinstance(w, dict) and "temperature" in w, w
kinds = [b["type"] for b in d["image"]["outputs"]["content"]]
assert "image" in kinds, kinds
' "$tmp/everything.json" 2> "$tmp/py.err"; then pass; else
    fail "everything: outputs: $(tail -n 1 "$tmp/py.err")"; fi
if grep -q 'slow: progress 1/2' "$tmp/everything.err"; then pass; else
    fail "everything: no progress told: $(first "$tmp/everything.err")"; fi

# ---- server-filesystem in a temporary directory ----
root=$tmp/root
mkdir "$root"
root=$(cd "$root" && pwd -P)
F="[node, \"$fs\", \"$root\"]"
cat > "$tmp/files.poml" <<EOF
workflow_id: files
tools:
  write: {command: $F, name: write_file}
  read: {command: $F, name: read_text_file}
  list: {command: $F, name: list_directory}
steps:
  - {id: write, tool: write, inputs: {path: "$root/notes.txt", content: "line one"}}
  - {id: read, tool: read, inputs: {path: "$root/notes.txt"}, depends_on: [write]}
  - {id: list, tool: list, inputs: {path: "$root"}, depends_on: [write]}
  - {id: outside, tool: read, inputs: {path: /etc/passwd}}
EOF
run_wf files files
expect files files <<'EOF'
write succeeded
read succeeded
read.text = "line one"
list succeeded
list.text ~ \[FILE\] notes.txt
outside failed (?i)access denied.*outside allowed directories
outside.is_error = true
EOF
if [ "$(cat "$root/notes.txt" 2> /dev/null)" = "line one" ]; then pass; else
    fail "files: notes.txt was not written"; fi
test_end
