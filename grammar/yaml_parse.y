/* yaml_parse.y -- block structure of the POML YAML subset
 *
 * Tokens come from the layout pass in compiler/yaml.c, which has already
 * turned indentation into BMAP / BSEQ / BEND.  Actions only call the node
 * constructors of compiler/yaml.c.
 */
%define api.pure full
%define api.prefix {pcy_}
%define api.token.prefix {PCY_}
%define parse.error custom
%locations
%expect 0
%param {struct pcy_state *st}

%code requires {
#include "yaml_scan.h"
}

%code provides {
int pcy_lex(PCY_STYPE *lval, PCY_LTYPE *lloc, struct pcy_state *st);
void pcy_error(PCY_LTYPE *lloc, struct pcy_state *st, const char *msg);
}

%union {
    struct pc_node *node;
    struct {
        struct pc_node *node;
        size_t cap;
    } coll;
    struct {
        struct pc_node *key, *value;
    } pair;
}

%token <node> KEY "key" SCALAR "scalar"
%token BMAP "block mapping" BSEQ "block sequence" BEND "end of block"
%token ENTRY "'-'" LBRACK "'['" RBRACK "']'" LBRACE "'{'" RBRACE "'}'"
%token COMMA "','"

%type <node> node flow_node block_map block_seq flow_seq flow_map
%type <coll> map_entries seq_entries flow_items flow_pairs
%type <node> flow_item_node
%type <pair> flow_pair

%%

document
    : %empty                { st->root = pcy_null(st, 0); }
    | node                  { st->root = $1; }
    ;

node
    : flow_node
    | block_map
    | block_seq
    ;

flow_node
    : SCALAR
    | flow_seq
    | flow_map
    ;

block_map
    : BMAP map_entries BEND { $$ = $2.node; }
    ;

map_entries
    : KEY
        { $$.cap = 0;
          $$.node = pcy_collection(st, PC_NODE_MAP, false, @1.first_column,
                                   @1.last_column);
          if (!$$.node || pcy_map_add(st, $$.node, $1,
                                      pcy_null(st, @1.last_column), &$$.cap))
              YYABORT; }
    | KEY node
        { $$.cap = 0;
          $$.node = pcy_collection(st, PC_NODE_MAP, false, @1.first_column,
                                   @2.last_column);
          if (!$$.node || pcy_map_add(st, $$.node, $1, $2, &$$.cap))
              YYABORT; }
    | map_entries KEY
        { $$ = $1;
          if (pcy_map_add(st, $$.node, $2, pcy_null(st, @2.last_column),
                          &$$.cap))
              YYABORT;
          pcy_extend($$.node, @2.last_column); }
    | map_entries KEY node
        { $$ = $1;
          if (pcy_map_add(st, $$.node, $2, $3, &$$.cap))
              YYABORT;
          pcy_extend($$.node, @3.last_column); }
    ;

block_seq
    : BSEQ seq_entries BEND { $$ = $2.node; }
    ;

seq_entries
    : ENTRY
        { $$.cap = 0;
          $$.node = pcy_collection(st, PC_NODE_SEQ, false, @1.first_column,
                                   @1.last_column);
          if (!$$.node || pcy_seq_add(st, $$.node,
                                      pcy_null(st, @1.last_column), &$$.cap))
              YYABORT; }
    | ENTRY node
        { $$.cap = 0;
          $$.node = pcy_collection(st, PC_NODE_SEQ, false, @1.first_column,
                                   @2.last_column);
          if (!$$.node || pcy_seq_add(st, $$.node, $2, &$$.cap))
              YYABORT; }
    | seq_entries ENTRY
        { $$ = $1;
          if (pcy_seq_add(st, $$.node, pcy_null(st, @2.last_column),
                          &$$.cap))
              YYABORT;
          pcy_extend($$.node, @2.last_column); }
    | seq_entries ENTRY node
        { $$ = $1;
          if (pcy_seq_add(st, $$.node, $3, &$$.cap))
              YYABORT;
          pcy_extend($$.node, @3.last_column); }
    ;

flow_seq
    : LBRACK RBRACK
        { $$ = pcy_collection(st, PC_NODE_SEQ, true, @1.first_column,
                              @2.last_column);
          if (!$$) YYABORT; }
    | LBRACK flow_items opt_comma RBRACK
        { $$ = $2.node;
          $$->loc.off = @1.first_column;
          pcy_extend($$, @4.last_column); }
    ;

flow_items
    : flow_item_node
        { $$.cap = 0;
          $$.node = pcy_collection(st, PC_NODE_SEQ, true, @1.first_column,
                                   @1.last_column);
          if (!$$.node || pcy_seq_add(st, $$.node, $1, &$$.cap))
              YYABORT; }
    | flow_items COMMA flow_item_node
        { $$ = $1;
          if (pcy_seq_add(st, $$.node, $3, &$$.cap))
              YYABORT; }
    ;

flow_item_node
    : flow_node
    | KEY                   /* [a: b] is a list holding the map {a: b} */
        { size_t cap = 0;
          $$ = pcy_collection(st, PC_NODE_MAP, true, @1.first_column,
                                    @1.last_column);
          if (!$$ || pcy_map_add(st, $$, $1,
                                       pcy_null(st, @1.last_column), &cap))
              YYABORT; }
    | KEY flow_node
        { size_t cap = 0;
          $$ = pcy_collection(st, PC_NODE_MAP, true, @1.first_column,
                                    @2.last_column);
          if (!$$ || pcy_map_add(st, $$, $1, $2, &cap))
              YYABORT; }
    ;

flow_map
    : LBRACE RBRACE
        { $$ = pcy_collection(st, PC_NODE_MAP, true, @1.first_column,
                              @2.last_column);
          if (!$$) YYABORT; }
    | LBRACE flow_pairs opt_comma RBRACE
        { $$ = $2.node;
          $$->loc.off = @1.first_column;
          pcy_extend($$, @4.last_column); }
    ;

flow_pairs
    : flow_pair
        { $$.cap = 0;
          $$.node = pcy_collection(st, PC_NODE_MAP, true, @1.first_column,
                                   @1.last_column);
          if (!$$.node || pcy_map_add(st, $$.node, $1.key, $1.value,
                                      &$$.cap))
              YYABORT; }
    | flow_pairs COMMA flow_pair
        { $$ = $1;
          if (pcy_map_add(st, $$.node, $3.key, $3.value, &$$.cap))
              YYABORT; }
    ;

flow_pair
    : KEY                   { $$.key = $1;
                              $$.value = pcy_null(st, @1.last_column); }
    | KEY flow_node         { $$.key = $1; $$.value = $2; }
    | SCALAR                { $$.key = $1;
                              $$.value = pcy_null(st, @1.last_column); }
    ;

opt_comma
    : %empty
    | COMMA
    ;

%%

/* How a token reads in a message, without and with an article. */
static const char *token_words(yysymbol_kind_t k, bool article)
{
    switch (k) {
    case YYSYMBOL_KEY: return article ? "a mapping key" : "mapping key";
    case YYSYMBOL_SCALAR: return article ? "a value" : "value";
    case YYSYMBOL_BMAP:
        return article ? "a nested mapping" : "nested mapping";
    case YYSYMBOL_BSEQ:
        return article ? "a nested sequence" : "nested sequence";
    case YYSYMBOL_BEND:
        return article ? "less indentation" : "end of the indented block";
    case YYSYMBOL_ENTRY:
        return article ? "a '-' sequence entry" : "'-' sequence entry";
    case YYSYMBOL_LBRACK: return "'['";
    case YYSYMBOL_RBRACK: return "']'";
    case YYSYMBOL_LBRACE: return "'{'";
    case YYSYMBOL_RBRACE: return "'}'";
    case YYSYMBOL_COMMA: return "','";
    case YYSYMBOL_YYEOF: return "end of file";
    default: return yysymbol_name(k);
    }
}

static int yyreport_syntax_error(const yypcontext_t *ctx,
                                 struct pcy_state *st)
{
    char msg[256];
    yysymbol_kind_t expected[6];
    int n = yypcontext_expected_tokens(ctx, expected, 6);
    yysymbol_kind_t got = yypcontext_token(ctx);
    int len = snprintf(msg, sizeof msg, "unexpected %s",
                       token_words(got, false));
    if (n > 0 && n <= 4) {
        for (int i = 0; i < n && len > 0 && (size_t)len < sizeof msg; i++)
            len += snprintf(msg + len, sizeof msg - (size_t)len, "%s%s",
                            i == 0 ? "; expected " : (i == n - 1 ? " or "
                                                                 : ", "),
                            token_words(expected[i], true));
    }
    const PCY_LTYPE *loc = yypcontext_location(ctx);
    uint32_t off = (uint32_t)loc->first_column;
    uint32_t end = (uint32_t)loc->last_column;
    pcy_syntax_error(st, off, end > off ? end - off : 1, msg);
    return 0;
}

void pcy_error(PCY_LTYPE *lloc, struct pcy_state *st, const char *msg)
{
    pcy_syntax_error(st, (uint32_t)lloc->first_column, 1, msg);
}
