/* expr_parse.y -- grammar of the POML expression language
 *
 * Locations are byte offsets in the expression's text.  Actions only call
 * the constructors of compiler/expr.c, which also owns every message; this
 * file only classifies the tokens of a syntax error for it.
 */
%require "3.6"
%define api.pure full
%define api.prefix {pcx_}
%define api.token.prefix {PCX_}
%define api.location.type {struct pc_span}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {void *scanner}
%parse-param {struct pc_expr_parser *p}

%code requires {
#include "expr.h"
}

%code provides {
int pcx_lex(PCX_STYPE *lval, PCX_LTYPE *lloc, void *scanner);
}

%code {
#define YYLLOC_DEFAULT(cur, rhs, n)                                         \
    do {                                                                    \
        if (n) {                                                            \
            (cur).beg = YYRHSLOC(rhs, 1).beg;                               \
            (cur).end = YYRHSLOC(rhs, n).end;                               \
        } else {                                                            \
            (cur).beg = (cur).end = YYRHSLOC(rhs, 0).end;                   \
        }                                                                   \
    } while (0)

static void pcx_error(PCX_LTYPE *lloc, void *scanner,
                      struct pc_expr_parser *p, const char *msg);
}

%initial-action {
    @$.beg = @$.end = 0;
}

%union {
    struct pc_expr *e;
    struct pc_expr_list *list;
}

%token END 0 "end of expression"
%token IDENT "identifier" NUMBER "number" STRING "string"
%token TRUE "true" FALSE "false" NUL "null" IN "in"
%token OR "||" AND "&&" NOT "!" KW_OR "OR" KW_AND "AND" KW_NOT "NOT"
%token EQ "==" NE "!=" LT "<" LE "<=" GT ">" GE ">="
%token PLUS "+" MINUS "-" STAR "*" SLASH "/" PERCENT "%"
%token LPAREN "(" RPAREN ")" LBRACK "[" RBRACK "]" COMMA "," DOT "."
%token BAD "invalid character" UNTERMINATED "unterminated string"

%left OR KW_OR
%left AND KW_AND
%left EQ NE
%left LT LE GT GE IN
%left PLUS MINUS
%left STAR SLASH PERCENT
%precedence UNARY

%type <e> expr postfix primary
%type <list> items opt_items

%%

top
    : expr                      { p->result = $1; }
    ;

expr
    : postfix
    | expr OR expr
        { if (!($$ = pc_expr_binary(p, PR_OP_OR, $1, $3, @$))) YYABORT; }
    | expr KW_OR expr
        { if (!($$ = pc_expr_binary(p, PR_OP_OR, $1, $3, @$))) YYABORT; }
    | expr AND expr
        { if (!($$ = pc_expr_binary(p, PR_OP_AND, $1, $3, @$))) YYABORT; }
    | expr KW_AND expr
        { if (!($$ = pc_expr_binary(p, PR_OP_AND, $1, $3, @$))) YYABORT; }
    | expr EQ expr
        { if (!($$ = pc_expr_binary(p, PR_OP_EQ, $1, $3, @$))) YYABORT; }
    | expr NE expr
        { if (!($$ = pc_expr_binary(p, PR_OP_NE, $1, $3, @$))) YYABORT; }
    | expr LT expr
        { if (!($$ = pc_expr_binary(p, PR_OP_LT, $1, $3, @$))) YYABORT; }
    | expr LE expr
        { if (!($$ = pc_expr_binary(p, PR_OP_LE, $1, $3, @$))) YYABORT; }
    | expr GT expr
        { if (!($$ = pc_expr_binary(p, PR_OP_GT, $1, $3, @$))) YYABORT; }
    | expr GE expr
        { if (!($$ = pc_expr_binary(p, PR_OP_GE, $1, $3, @$))) YYABORT; }
    | expr IN expr
        { if (!($$ = pc_expr_binary(p, PR_OP_IN, $1, $3, @$))) YYABORT; }
    | expr PLUS expr
        { if (!($$ = pc_expr_binary(p, PR_OP_ADD, $1, $3, @$))) YYABORT; }
    | expr MINUS expr
        { if (!($$ = pc_expr_binary(p, PR_OP_SUB, $1, $3, @$))) YYABORT; }
    | expr STAR expr
        { if (!($$ = pc_expr_binary(p, PR_OP_MUL, $1, $3, @$))) YYABORT; }
    | expr SLASH expr
        { if (!($$ = pc_expr_binary(p, PR_OP_DIV, $1, $3, @$))) YYABORT; }
    | expr PERCENT expr
        { if (!($$ = pc_expr_binary(p, PR_OP_MOD, $1, $3, @$))) YYABORT; }
    | NOT
        { if (pc_expr_enter(p, @1)) YYABORT; }
      expr %prec UNARY
        { pc_expr_leave(p);
          if (!($$ = pc_expr_unary(p, PR_OP_NOT, $3, @$))) YYABORT; }
    | KW_NOT
        { if (pc_expr_enter(p, @1)) YYABORT; }
      expr %prec UNARY
        { pc_expr_leave(p);
          if (!($$ = pc_expr_unary(p, PR_OP_NOT, $3, @$))) YYABORT; }
    | MINUS
        { if (pc_expr_enter(p, @1)) YYABORT; }
      expr %prec UNARY
        { pc_expr_leave(p);
          if (!($$ = pc_expr_unary(p, PR_OP_NEG, $3, @$))) YYABORT; }
    ;

postfix
    : primary
    | postfix DOT name
        { if (!($$ = pc_expr_member(p, $1, @3, @$))) YYABORT; }
    | postfix LBRACK
        { if (pc_expr_enter(p, @2)) YYABORT; }
      expr RBRACK
        { pc_expr_leave(p);
          if (!($$ = pc_expr_index(p, $1, $4, @$))) YYABORT; }
    ;

name
    : IDENT | TRUE | FALSE | NUL | IN | KW_AND | KW_OR | KW_NOT
    ;

primary
    : IDENT
        { if (!($$ = pc_expr_path(p, @1))) YYABORT; }
    | NUMBER
        { if (!($$ = pc_expr_number(p, @1))) YYABORT; }
    | STRING
        { if (!($$ = pc_expr_string(p, @1))) YYABORT; }
    | TRUE
        { if (!($$ = pc_expr_bool(p, true, @1))) YYABORT; }
    | FALSE
        { if (!($$ = pc_expr_bool(p, false, @1))) YYABORT; }
    | NUL
        { if (!($$ = pc_expr_null(p, @1))) YYABORT; }
    | LPAREN
        { if (pc_expr_enter(p, @1)) YYABORT; }
      expr RPAREN
        { pc_expr_leave(p); $$ = $3; }
    | LBRACK
        { if (pc_expr_enter(p, @1)) YYABORT; }
      opt_items RBRACK
        { pc_expr_leave(p);
          if (!($$ = pc_expr_list(p, $3, @$))) YYABORT; }
    | IDENT LPAREN
        { if (pc_expr_enter(p, @2)) YYABORT; }
      opt_items RPAREN
        { pc_expr_leave(p);
          if (!($$ = pc_expr_call(p, @1, $4, @$))) YYABORT; }
    ;

opt_items
    : %empty                    { $$ = NULL; }
    | items
    ;

items
    : expr
        { if (!($$ = pc_expr_list_add(p, NULL, $1))) YYABORT; }
    | items COMMA expr
        { if (!($$ = pc_expr_list_add(p, $1, $3))) YYABORT; }
    ;

%%

static enum pc_expr_tok token_class(yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_YYEOF:
        return PC_TOK_END;
    case YYSYMBOL_STRING:
        return PC_TOK_STRING;
    case YYSYMBOL_BAD:
        return PC_TOK_BAD;
    case YYSYMBOL_UNTERMINATED:
        return PC_TOK_UNTERMINATED;
    default:
        return PC_TOK_OTHER;
    }
}

static unsigned want_bit(yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_NUMBER:       /* expected exactly where operands are */
        return PC_WANT_OPERAND;
    case YYSYMBOL_IDENT:        /* operands and names after '.' */
        return PC_WANT_NAME;
    case YYSYMBOL_RPAREN:
        return PC_WANT_RPAREN;
    case YYSYMBOL_RBRACK:
        return PC_WANT_RBRACK;
    case YYSYMBOL_COMMA:
        return PC_WANT_COMMA;
    default:
        return 0;
    }
}

static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner,
                                 struct pc_expr_parser *p)
{
    yysymbol_kind_t expected[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
    unsigned want = 0;
    (void)scanner;
    for (int i = 0; i < n; i++)
        want |= want_bit(expected[i]);
    pc_expr_syntax_error(p, *yypcontext_location(ctx),
                         token_class(yypcontext_token(ctx)), want);
    return 0;
}

static void pcx_error(PCX_LTYPE *lloc, void *scanner,
                      struct pc_expr_parser *p, const char *msg)
{
    (void)scanner;
    pc_expr_parser_error(p, *lloc, msg);
}
