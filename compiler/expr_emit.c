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
    size_t base; /* where this expression's code starts */
    const struct pc_expr_sink *sink;
};

static int op(struct emitter *m, unsigned code)
{
    return pr_buf_append_u8(m->out, (uint8_t)code);
}

/* An instruction with a string operand. */
static int op_str(struct emitter *m, unsigned code, const char *s, size_t n)
{
    uint32_t idx = m->sink->intern(m->sink->ud, s, n);
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

/* The root as the analyser resolved it, then the members. */
static int emit_path(struct emitter *m, const struct pc_expr *e)
{
    enum pr_root root = PR_ROOT_PARAMS;
    switch (e->ref) {
    case PC_REF_NONE:
        return -1;
    case PC_REF_STEP: {
        uint32_t at = m->sink->step ? m->sink->step(m->sink->ud, e->ref_step)
                                    : UINT32_MAX;
        if (at == UINT32_MAX || op(m, PR_OP_STEP) < 0 ||
            pr_buf_append_u32(m->out, at) < 0)
            return -1;
        break;
    }
    case PC_REF_PARAMS:
    case PC_REF_ITEM:
    case PC_REF_INDEX:
        root = e->ref == PC_REF_ITEM    ? PR_ROOT_ITEM
               : e->ref == PC_REF_INDEX ? PR_ROOT_INDEX
                                        : PR_ROOT_PARAMS;
        if (op(m, PR_OP_ROOT) < 0 ||
            pr_buf_append_u8(m->out, (uint8_t)root) < 0)
            return -1;
        break;
    }
    for (size_t i = e->ref_member; i < e->nseg; i++)
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

void pc_expr_resolve(struct pc_expr *p, enum pc_ref ref, uint32_t step,
                     size_t member)
{
    p->ref = ref;
    p->ref_step = step;
    p->ref_member = member < p->nseg ? member : p->nseg;
}

int pc_expr_emit(const struct pc_expr *e, struct pr_buf *out,
                 const struct pc_expr_sink *sink)
{
    struct emitter m = {out, out->len, sink};
    size_t start = out->len;
    if (emit(&m, e) < 0 || op(&m, PR_OP_END) < 0) {
        out->len = start;
        return -1;
    }
    return 0;
}
