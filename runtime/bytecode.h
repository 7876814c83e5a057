/* bytecode.h -- the expression bytecode: opcodes, functions, encoding
 *
 * Every ${...} and condition of a workflow is compiled by pomlc into a short
 * program for a stack machine; pomlrun evaluates it over JSON values
 * (runtime/eval.c).  This header is the specification of that encoding.
 *
 * ENCODING
 *
 * An expression's code is a byte string.  Execution starts at its first
 * byte (offset 0) and runs instructions in order until END.  Each
 * instruction is one opcode byte followed by its operands, with no padding
 * and no alignment.  Multi-byte operands are little-endian:
 *
 *   u8    1 byte
 *   u16   2 bytes
 *   u32   4 bytes
 *   f64   8 bytes, the IEEE 754 binary64 bit pattern
 *
 * A "string" operand is a u32 reference into the plan's string table (in
 * a plan, the byte offset of a string record, see plan.h); the string's
 * bytes are taken with their length, never up to a NUL.  A
 * "target" operand is a u32 byte offset from the first byte of the
 * expression's code (not from the instruction).  Jumps go forward only: a
 * target must be at least the offset of the next instruction and less than
 * the code's length, so every program terminates after at most one pass.
 *
 *   byte  name    operands        stack effect
 *   0x00  end     -               stop; exactly one value must remain: the
 *                                 result
 *   0x01  null    -               push null
 *   0x02  true    -               push true
 *   0x03  false   -               push false
 *   0x04  num     f64             push the number
 *   0x05  str     u32 string      push the string
 *   0x06  root    u8 root         push a root value: 0 params (object of
 *                                 the run's parameters), 1 item (the
 *                                 for_each element), 2 index (the
 *                                 for_each position, a number)
 *   0x07  step    u32 step        push the outputs of the step at that
 *                                 index of the plan's STEPS (its
 *                                 position in topological order), an
 *                                 object; null while it has not finished
 *   0x08  member  u32 string      pop v; push v's member of that name:
 *                                 null when v is null or has no such key
 *   0x09  index   -               pop i, pop v; push v[i]: list element
 *                                 (i an integer, null when out of range),
 *                                 object member (i a string), null when v
 *                                 is null
 *   0x0a  list    u16 count       pop count values; push them as a list,
 *                                 the deepest first
 *   0x0b  not     -               pop v; push !truthy(v)
 *   0x0c  neg     -               pop a number; push its negation
 *   0x0d  mul     -               pop b, pop a; push a * b
 *   0x0e  div     -                             a / b
 *   0x0f  mod     -                             a % b (C fmod)
 *   0x10  add     -                             a + b (numbers add,
 *                                               strings concatenate)
 *   0x11  sub     -                             a - b
 *   0x12  lt      -                             a < b (numbers, or
 *   0x13  le      -                             a <= b  strings compared
 *   0x14  gt      -                             a > b   byte by byte)
 *   0x15  ge      -                             a >= b
 *   0x16  eq      -                             a == b (deep JSON
 *   0x17  ne      -                             a != b  equality)
 *   0x18  in      -                             a in b (list element,
 *                                               substring, object key)
 *   0x19  and     u32 target      pop v; if v is falsy push false and jump
 *                                 to target, else go on
 *   0x1a  or      u32 target      pop v; if v is truthy push true and jump
 *                                 to target, else go on
 *   0x1b  bool    -               pop v; push truthy(v) as true or false
 *   0x1c  call    u8 func, u8 argc
 *                                 pop argc arguments (the first argument
 *                                 deepest); push the function's result
 *
 * pomlc resolves every reference and records the decision: ${params.x}
 * and a bare ${x} naming a parameter are `root 0, member "x"`;
 * ${steps.id.out} and a bare ${id.out} are `step I, member "out"` with I
 * the index of step id; ${item} and ${index} are roots 1 and 2.  The
 * runtime looks no name up.
 *
 * Functions (u8 id: name/arity): 0 len/1, 1 contains/2, 2 startsWith/2,
 * 3 endsWith/2, 4 join/2, 5 default/2, 6 lower/1, 7 upper/1.  argc must
 * equal the arity.
 *
 * `a && b` compiles to  <a> and T <b> bool T:  and `a || b` likewise with
 * `or`, so both always give a boolean and skip b when a decides.
 *
 * Falsy values are null, false, 0, NaN, "", [] and {}; all others are
 * truthy.  The stack holds at most PR_EVAL_STACK values.
 *
 * Any other byte is an invalid opcode.  The evaluator checks every read
 * against the code's length, every jump target, every string index, every
 * function id and argument count and the stack depth as it runs, so
 * malformed code is an ordinary error, never a crash or a loop.
 */
#ifndef POML_BYTECODE_H
#define POML_BYTECODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* Version of this encoding; it changes only with the plan's major
 * version, which is what a reader checks. */
#define PR_BYTECODE_VERSION 2

/* Deepest evaluation stack; pomlc rejects expressions that would need more. */
#define PR_EVAL_STACK 256

/* Operand layouts. */
enum pr_arg {
    PR_ARG_NONE,   /* no operand */
    PR_ARG_F64,    /* f64 */
    PR_ARG_STR,    /* u32 string index */
    PR_ARG_ROOT,   /* u8 enum pr_root */
    PR_ARG_STEP,   /* u32 step index */
    PR_ARG_COUNT,  /* u16 */
    PR_ARG_TARGET, /* u32 jump target */
    PR_ARG_CALL    /* u8 enum pr_func, u8 argc */
};

/* The one list of opcodes: X(ENUM, byte, "name", operand layout). */
#define PR_OPS(X)                                                             \
    X(END, 0x00, "end", PR_ARG_NONE)                                          \
    X(NULL, 0x01, "null", PR_ARG_NONE)                                        \
    X(TRUE, 0x02, "true", PR_ARG_NONE)                                        \
    X(FALSE, 0x03, "false", PR_ARG_NONE)                                      \
    X(NUM, 0x04, "num", PR_ARG_F64)                                           \
    X(STR, 0x05, "str", PR_ARG_STR)                                           \
    X(ROOT, 0x06, "root", PR_ARG_ROOT)                                        \
    X(STEP, 0x07, "step", PR_ARG_STEP)                                        \
    X(MEMBER, 0x08, "member", PR_ARG_STR)                                     \
    X(INDEX, 0x09, "index", PR_ARG_NONE)                                      \
    X(LIST, 0x0a, "list", PR_ARG_COUNT)                                       \
    X(NOT, 0x0b, "not", PR_ARG_NONE)                                          \
    X(NEG, 0x0c, "neg", PR_ARG_NONE)                                          \
    X(MUL, 0x0d, "mul", PR_ARG_NONE)                                          \
    X(DIV, 0x0e, "div", PR_ARG_NONE)                                          \
    X(MOD, 0x0f, "mod", PR_ARG_NONE)                                          \
    X(ADD, 0x10, "add", PR_ARG_NONE)                                          \
    X(SUB, 0x11, "sub", PR_ARG_NONE)                                          \
    X(LT, 0x12, "lt", PR_ARG_NONE)                                            \
    X(LE, 0x13, "le", PR_ARG_NONE)                                            \
    X(GT, 0x14, "gt", PR_ARG_NONE)                                            \
    X(GE, 0x15, "ge", PR_ARG_NONE)                                            \
    X(EQ, 0x16, "eq", PR_ARG_NONE)                                            \
    X(NE, 0x17, "ne", PR_ARG_NONE)                                            \
    X(IN, 0x18, "in", PR_ARG_NONE)                                            \
    X(AND, 0x19, "and", PR_ARG_TARGET)                                        \
    X(OR, 0x1a, "or", PR_ARG_TARGET)                                          \
    X(BOOL, 0x1b, "bool", PR_ARG_NONE)                                        \
    X(CALL, 0x1c, "call", PR_ARG_CALL)

enum pr_op {
#define PR_X(id, byte, name, arg) PR_OP_##id = byte,
    PR_OPS(PR_X)
#undef PR_X
};

/* Number of opcodes; they are numbered 0 .. PR_OP_COUNT - 1. */
enum {
#define PR_X(id, byte, name, arg) PR_OPC_##id,
    PR_OPS(PR_X)
#undef PR_X
        PR_OP_COUNT
};

/* The roots a ${...} path starts from: the one list of their names, for
 * pomlc's analyser, the evaluator's messages and the disassembler.
 * X(ENUM, "name", operand): an operand root is read by ROOT (its
 * number the operand); steps is not, a step is read by STEP with the
 * index pomlc resolved.  Operand roots come first. */
#define PR_ROOTS(X)                                                           \
    X(PARAMS, "params", true)                                                 \
    X(ITEM, "item", true)                                                     \
    X(INDEX, "index", true)                                                   \
    X(STEPS, "steps", false)

enum pr_root {
#define PR_X(id, name, operand) PR_ROOT_##id,
    PR_ROOTS(PR_X)
#undef PR_X
        PR_ROOT_KINDS
};

/* The operands of ROOT: 0 .. PR_ROOT_COUNT - 1. */
enum {
    PR_ROOT_COUNT = 0
#define PR_X(id, name, operand) +(operand)
    PR_ROOTS(PR_X)
#undef PR_X
};

/* The one list of functions: X(ENUM, id, "name", arity). */
#define PR_FUNCS(X)                                                           \
    X(LEN, 0, "len", 1)                                                       \
    X(CONTAINS, 1, "contains", 2)                                             \
    X(STARTS_WITH, 2, "startsWith", 2)                                        \
    X(ENDS_WITH, 3, "endsWith", 2)                                            \
    X(JOIN, 4, "join", 2)                                                     \
    X(DEFAULT, 5, "default", 2)                                               \
    X(LOWER, 6, "lower", 1)                                                   \
    X(UPPER, 7, "upper", 1)

enum pr_func {
#define PR_X(id, num, name, arity) PR_FN_##id = num,
    PR_FUNCS(PR_X)
#undef PR_X
};

enum {
#define PR_X(id, num, name, arity) PR_FNC_##id,
    PR_FUNCS(PR_X)
#undef PR_X
        PR_FN_COUNT
};

/* Names and layouts; NULL / -1 for values outside the lists. */
const char *pr_op_name(unsigned op);
int pr_op_arg(unsigned op);              /* enum pr_arg or -1 */
size_t pr_arg_size(enum pr_arg arg);     /* operand bytes */
const char *pr_root_name(unsigned root); /* every enum pr_root */
int pr_root_lookup(const char *name);    /* enum pr_root or -1 */
const char *pr_func_name(unsigned fn);
int pr_func_arity(unsigned fn);
int pr_func_lookup(const char *name, size_t len); /* enum pr_func or -1 */

/* One instruction as decoded by pr_decode. */
struct pr_insn {
    unsigned op;     /* enum pr_op */
    enum pr_arg arg; /* its operand layout */
    size_t at, next; /* its offset and the next instruction's */
    double num;      /* NUM: the number (not checked finite) */
    uint32_t u32;    /* STR, MEMBER: string; STEP: a step
                        index; AND, OR: target (none
                        checked) */
    unsigned a, b;   /* ROOT: a root; LIST: a count; CALL: a
                        function, b argc (none checked) */
    unsigned pops;   /* values always taken from the stack;
                        LIST and CALL take their count more */
};

#define PR_DECODE_BAD_OPCODE (-1)
#define PR_DECODE_TRUNCATED (-2)

/* Decodes the instruction at CODE[at], AT < LEN, into *IN.  Returns 0, or
 * PR_DECODE_BAD_OPCODE (not in PR_OPS) or PR_DECODE_TRUNCATED (operands
 * run past LEN); in->op and in->at are set in every case.  Only the bytes
 * are checked: operand values (strings, roots, functions, targets) and the
 * stack are the caller's, so the evaluator, the disassembler and the plan
 * verifier share one decoding and judge the values each its own way. */
int pr_decode(const uint8_t *code, size_t len, size_t at, struct pr_insn *in);

/* Prints one instruction per line ("0005  member 2 \"repo\"") to OUT.
 * STR looks strings up as in struct pr_eval_env; it may be NULL (indices
 * only).  Returns 0, or -1 after printing a line that says where the code
 * is malformed. */
int pr_disasm(const uint8_t *code, size_t len,
              const char *(*str)(void *ud, uint32_t idx, size_t *n), void *ud,
              FILE *out);

/* Little-endian readers; the caller has checked the bounds. */

#endif
