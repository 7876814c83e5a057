/* bytecode.c -- opcode and function tables, and the disassembler
 *
 * Everything here is generated from the PR_OPS and PR_FUNCS lists of
 * bytecode.h.  pr_decode is the one instruction decoder: the evaluator, the
 * disassembler and the plan verifier all read code through it.  The
 * disassembler stops at END or at the first malformed instruction.
 */
#include "bytecode.h"

#include <string.h>

static const struct {
    const char *name;
    int arg;
} op_table[PR_OP_COUNT] = {
#define PR_X(id, byte, name, arg) [byte] = {name, arg},
    PR_OPS(PR_X)
#undef PR_X
};

/* The list must number opcodes densely from 0 */
#define PR_X(id, byte, name, arg)                                             \
    _Static_assert(byte < PR_OP_COUNT, "opcode " name " out of range");
PR_OPS(PR_X)
#undef PR_X

static const struct {
    const char *name;
    int arity;
} fn_table[PR_FN_COUNT] = {
#define PR_X(id, num, name, arity) [num] = {name, arity},
    PR_FUNCS(PR_X)
#undef PR_X
};

#define PR_X(id, num, name, arity)                                            \
    _Static_assert(num < PR_FN_COUNT, "function " name " out of range");
PR_FUNCS(PR_X)
#undef PR_X

static const char *const root_names[PR_ROOT_KINDS] = {
#define PR_X(id, name, operand) [PR_ROOT_##id] = name,
    PR_ROOTS(PR_X)
#undef PR_X
};

/* Operand roots first: a root below PR_ROOT_COUNT is one. */
#define PR_X(id, name, operand)                                               \
    _Static_assert(((int)PR_ROOT_##id < (int)PR_ROOT_COUNT) == (operand),     \
                   "root " name ": operand roots come first");
PR_ROOTS(PR_X)
#undef PR_X

const char *pr_op_name(unsigned op)
{
    return op < PR_OP_COUNT ? op_table[op].name : NULL;
}

int pr_op_arg(unsigned op)
{
    return op < PR_OP_COUNT ? op_table[op].arg : -1;
}

size_t pr_arg_size(enum pr_arg arg)
{
    switch (arg) {
    case PR_ARG_NONE:
        return 0;
    case PR_ARG_F64:
        return 8;
    case PR_ARG_STR:
    case PR_ARG_STEP:
    case PR_ARG_TARGET:
        return 4;
    case PR_ARG_ROOT:
        return 1;
    case PR_ARG_COUNT:
    case PR_ARG_CALL:
        return 2;
    }
    return 0;
}

const char *pr_root_name(unsigned root)
{
    return root < PR_ROOT_KINDS ? root_names[root] : NULL;
}

int pr_root_lookup(const char *name)
{
    for (int i = 0; i < PR_ROOT_KINDS; i++)
        if (!strcmp(root_names[i], name))
            return i;
    return -1;
}

const char *pr_func_name(unsigned fn)
{
    return fn < PR_FN_COUNT ? fn_table[fn].name : NULL;
}

int pr_func_arity(unsigned fn)
{
    return fn < PR_FN_COUNT ? fn_table[fn].arity : -1;
}

int pr_func_lookup(const char *name, size_t len)
{
    for (unsigned i = 0; i < PR_FN_COUNT; i++)
        if (strlen(fn_table[i].name) == len &&
            memcmp(fn_table[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* Operands each opcode always takes from the stack. */
static unsigned fixed_pops(unsigned op)
{
    switch (op) {
    case PR_OP_END:
    case PR_OP_MEMBER:
    case PR_OP_NOT:
    case PR_OP_NEG:
    case PR_OP_AND:
    case PR_OP_OR:
    case PR_OP_BOOL:
        return 1;
    case PR_OP_INDEX:
    case PR_OP_MUL:
    case PR_OP_DIV:
    case PR_OP_MOD:
    case PR_OP_ADD:
    case PR_OP_SUB:
    case PR_OP_LT:
    case PR_OP_LE:
    case PR_OP_GT:
    case PR_OP_GE:
    case PR_OP_EQ:
    case PR_OP_NE:
    case PR_OP_IN:
        return 2;
    default:
        return 0;
    }
}

int pr_decode(const uint8_t *code, size_t len, size_t at, struct pr_insn *in)
{
    memset(in, 0, sizeof *in);
    in->op = code[at];
    in->at = at;
    int arg = pr_op_arg(in->op);
    if (arg < 0)
        return PR_DECODE_BAD_OPCODE;
    in->arg = (enum pr_arg)arg;
    size_t size = pr_arg_size(in->arg);
    if (len - at - 1 < size)
        return PR_DECODE_TRUNCATED;
    const uint8_t *a = code + at + 1;
    in->next = at + 1 + size;
    in->pops = fixed_pops(in->op);
    switch (in->arg) {
    case PR_ARG_NONE:
        break;
    case PR_ARG_F64:
        in->num = pr_rd_f64(a);
        break;
    case PR_ARG_STR:
    case PR_ARG_STEP:
    case PR_ARG_TARGET:
        in->u32 = pr_rd_u32(a);
        break;
    case PR_ARG_ROOT:
        in->a = a[0];
        break;
    case PR_ARG_COUNT:
        in->a = pr_rd_u16(a);
        break;
    case PR_ARG_CALL:
        in->a = a[0];
        in->b = a[1];
        break;
    }
    return 0;
}

/* A string operand as a C-style quoted literal, at most 60 bytes shown. */
static void print_str(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputs(n > 60 ? "\"..." : "\"", out);
}

int pr_disasm(const uint8_t *code, size_t len,
              const char *(*str)(void *ud, uint32_t idx, size_t *n), void *ud,
              FILE *out)
{
    size_t pc = 0;
    while (pc < len) {
        struct pr_insn in;
        int rc = pr_decode(code, len, pc, &in);
        fprintf(out, "%04zx  ", pc);
        if (rc == PR_DECODE_BAD_OPCODE) {
            fprintf(out, "<invalid opcode 0x%02x>\n", in.op);
            return -1;
        }
        if (rc == PR_DECODE_TRUNCATED) {
            fprintf(out, "%s <truncated>\n", pr_op_name(in.op));
            return -1;
        }
        fputs(pr_op_name(in.op), out);
        switch (in.arg) {
        case PR_ARG_NONE:
            break;
        case PR_ARG_F64:
            fprintf(out, " %.17g", in.num);
            break;
        case PR_ARG_STR: {
            size_t n = 0;
            const char *s = str ? str(ud, in.u32, &n) : NULL;
            fprintf(out, " %lu", (unsigned long)in.u32);
            if (s) {
                fputc(' ', out);
                print_str(out, s, n);
            } else if (str) {
                fputs(" <bad string index>\n", out);
                return -1;
            }
            break;
        }
        case PR_ARG_ROOT: {
            const char *r = in.a < PR_ROOT_COUNT ? pr_root_name(in.a) : NULL;
            if (!r) {
                fprintf(out, " <bad root %u>\n", in.a);
                return -1;
            }
            fprintf(out, " %s", r);
            break;
        }
        case PR_ARG_COUNT:
            fprintf(out, " %u", in.a);
            break;
        case PR_ARG_STEP:
            fprintf(out, " %lu", (unsigned long)in.u32);
            break;
        case PR_ARG_TARGET:
            fprintf(out, " -> %04lx", (unsigned long)in.u32);
            if (in.u32 < in.next || in.u32 >= len) {
                fputs(" <bad jump target>\n", out);
                return -1;
            }
            break;
        case PR_ARG_CALL: {
            const char *f = pr_func_name(in.a);
            if (!f) {
                fprintf(out, " <bad function %u>\n", in.a);
                return -1;
            }
            fprintf(out, " %s/%u", f, in.b);
            break;
        }
        }
        fputc('\n', out);
        pc = in.next;
        if (in.op == PR_OP_END)
            return 0;
    }
    fputs("<missing end>\n", out);
    return -1;
}
