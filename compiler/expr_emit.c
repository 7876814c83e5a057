/* expr_emit.c -- expression syntax trees to bytecode
 *
 * A post-order walk: operands first, then the operator.  && and || become
 * forward jumps patched once the right operand is written.  The encoding
 * is specified in runtime/bytecode.h.
 */
#include "expr.h"

#include <string.h>

struct emitter {
    struct pr_buf *out;
    size_t base;                /* where this expression's code starts */
    uint32_t (*intern)(void *ud, const char *s, size_t n);
    void *ud;
};

static int op(struct emitter *m, unsigned code)
{
    return pr_buf_append_u8(m->out, (uint8_t)code);
}

/* An instruction with a string operand. */
static int op_str(struct emitter *m, unsigned code, const char *s, size_t n)
{
    uint32_t idx = m->intern(m->ud, s, n);
    if (idx == UINT32_MAX || op(m, code) < 0)
        return -1;
    return pr_buf_append_u32(m->out, idx);
}

static int emit(struct emitter *m, const struct pc_expr *e);

static int emit_args(struct emitter *m, const struct pc_expr *e)
{
    for (size_t i = 0; i < e->nargs; i++)
        if (emit(m, e->args[i]) < 0)
            return -1;
    return 0;
}

static int emit_path(struct emitter *m, const struct pc_expr *e)
{
    static const struct {
        const char *name;
        enum pr_root root;
    } roots[] = {
        {"params", PR_ROOT_PARAMS},
        {"steps", PR_ROOT_STEPS},
        {"item", PR_ROOT_ITEM},
        {"index", PR_ROOT_INDEX},
    };
    size_t i;
    for (i = 0; i < sizeof roots / sizeof roots[0]; i++)
        if (strcmp(e->seg[0], roots[i].name) == 0)
            break;
    if (i < sizeof roots / sizeof roots[0]) {
        if (op(m, PR_OP_ROOT) < 0 ||
            pr_buf_append_u8(m->out, (uint8_t)roots[i].root) < 0)
            return -1;
    } else if (op_str(m, PR_OP_NAME, e->seg[0], strlen(e->seg[0])) < 0) {
        return -1;
    }
    for (i = 1; i < e->nseg; i++)
        if (op_str(m, PR_OP_MEMBER, e->seg[i], strlen(e->seg[i])) < 0)
            return -1;
    return 0;
}

/* <left> and|or T <right> bool T: */
static int emit_logic(struct emitter *m, const struct pc_expr *e)
{
    if (emit(m, e->args[0]) < 0 || op(m, (unsigned)e->op) < 0)
        return -1;
    size_t at = m->out->len;
    if (pr_buf_append_u32(m->out, 0) < 0 || emit(m, e->args[1]) < 0 ||
        op(m, PR_OP_BOOL) < 0)
        return -1;
    size_t target = m->out->len - m->base;
    if (target > UINT32_MAX)
        return -1;
    return pr_buf_patch_u32(m->out, at, (uint32_t)target);
}

static int emit(struct emitter *m, const struct pc_expr *e)
{
    switch (e->kind) {
    case PC_E_NULL:
        return op(m, PR_OP_NULL);
    case PC_E_BOOL:
        return op(m, e->b ? PR_OP_TRUE : PR_OP_FALSE);
    case PC_E_NUM:
        if (op(m, PR_OP_NUM) < 0)
            return -1;
        return pr_buf_append_f64(m->out, e->num);
    case PC_E_STR:
        return op_str(m, PR_OP_STR, e->str, e->len);
    case PC_E_LIST:
        if (e->nargs > UINT16_MAX || emit_args(m, e) < 0 ||
            op(m, PR_OP_LIST) < 0)
            return -1;
        return pr_buf_append_u16(m->out, (uint16_t)e->nargs);
    case PC_E_PATH:
        return emit_path(m, e);
    case PC_E_INDEX:
        if (emit_args(m, e) < 0)
            return -1;
        return op(m, PR_OP_INDEX);
    case PC_E_MEMBER:
        if (emit(m, e->args[0]) < 0)
            return -1;
        return op_str(m, PR_OP_MEMBER, e->str, e->len);
    case PC_E_UNARY:
        if (emit(m, e->args[0]) < 0)
            return -1;
        return op(m, (unsigned)e->op);
    case PC_E_BINARY:
        if (e->op == PR_OP_AND || e->op == PR_OP_OR)
            return emit_logic(m, e);
        if (emit_args(m, e) < 0)
            return -1;
        return op(m, (unsigned)e->op);
    case PC_E_CALL:
        if (e->op < 0 || e->nargs > UINT8_MAX || emit_args(m, e) < 0 ||
            op(m, PR_OP_CALL) < 0 || pr_buf_append_u8(m->out, (uint8_t)e->op))
            return -1;
        return pr_buf_append_u8(m->out, (uint8_t)e->nargs);
    }
    return -1;
}

int pc_expr_emit(const struct pc_expr *e, struct pr_buf *out,
                 uint32_t (*intern)(void *ud, const char *s, size_t n),
                 void *ud)
{
    struct emitter m = {out, out->len, intern, ud};
    size_t start = out->len;
    if (emit(&m, e) < 0 || op(&m, PR_OP_END) < 0) {
        out->len = start;
        return -1;
    }
    return 0;
}
