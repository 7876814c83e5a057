/* plan.h -- the binary plan: its format, the loader and typed views
 *
 * This header is the specification of the plan file; poml-plan(5) says the
 * same in prose.  pomlc writes plans through plan_build.c; pomlrun and
 * pomlc --dump read them through plan_load.c, which validates every byte
 * that matters once, so that afterwards every access is in bounds.
 *
 * LAYOUT.  All integers are little-endian.  Every section starts on an
 * 8-byte boundary and every fixed-size record is a multiple of 8 bytes, so
 * records stay aligned; STRINGS (variable records) and LISTS (u32 entries)
 * are packed.  Nothing is a pointer: references are byte offsets into a
 * section or indices into an array.
 *
 *   offset size  header (64 bytes)
 *   0      8     magic 89 50 4C 4E 0D 0A 1A 0A  ("\x89PLN\r\n\x1a\n": the
 *                high byte and CR LF / SUB catch 7-bit and text-mode damage)
 *   8      2     major version: a reader refuses a major it does not know
 *   10     2     minor version: additions a reader may ignore
 *   12     4     header size, 64
 *   16     8     file size: must equal the file's size
 *   24     4     incompatible flags: every bit unknown to the reader refuses
 *                the file; version 3 defines none, so it must be 0
 *   28     4     number of sections
 *   32     8     offset of the section table
 *   40     4     CRC-32C of the header with this field and the next zero
 *   44     4     CRC-32C of every byte from offset 64 to the end
 *   48     16    reserved, zero
 *
 * SECTION TABLE.  An array of entries of 16 bytes, sorted by id, each id at
 * most once: u32 id, u32 flags (zero), u32 offset, u32 size.  A section
 * lies after the header and before the section table, starts on an 8-byte
 * boundary and overlaps no other section.  Every section the file's minor
 * version defines must be present (1 to 16 in 3.0); unknown ids are
 * skipped (a minor version may add sections).
 *
 * STRINGS (id 1).  Records of u32 length, the bytes, a NUL.  A string
 * reference is the byte offset of a record; 0 is the empty string.  The
 * loader checks each reference it meets: record inside the section, length
 * inside the section, NUL after the bytes.
 *
 * RECORD SECTIONS.  Fixed-size records, one array per section; the field
 * lists below (PR_*_FIELDS) give their layout: each field is
 *   X(name, type, arg, offset)
 * (arg: the bound, mask or kind some types take) and the types are
 *   U8 U32 U64 F64     a number (F64: IEEE 754 bits; must be finite)
 *   ENUM(n)            a u8 below n
 *   FLAGS(mask)        a u8 with no bit outside mask
 *   ZERO               a u8 that must be 0 (padding)
 *   ZERO32             a u32 that must be 0 (padding)
 *   STR                a u32 string reference
 *   OPTSTR             a u32 string reference or 0xFFFFFFFF (absent)
 *   CODE               u32 offset and u32 length in CODE (length 0: absent);
 *                      the bytecode is verified instruction by instruction
 *   TCODE              u32 offset and u32 length in CODE of a compiled
 *                      template (template.h; length 0: the empty template),
 *                      verified by pr_tpl_verify
 *   INTERP             u32 index into INTERPS or 0xFFFFFFFF
 *   TVAL               u32 index into TVALS or 0xFFFFFFFF
 *   STEP, MODEL, PHASE u32 index into that array or 0xFFFFFFFF
 *   LIST(kind)         u32 offset (in entries) and u32 count into LISTS, each
 *                      entry a u32 of the given kind (STR, MODEL, STEP, EDGE)
 * An EDGE entry is a step index with bit 31 set for an order-only
 * dependency ("after").
 *
 * STEPS are stored in topological order: every dependency of step i has an
 * index below i and every dependent an index above it, which proves the
 * graph acyclic in one pass; the dependents lists are the exact inverse of
 * the dependency lists.
 *
 * INTERPS (id 6) records: u32 first part, u32 part count, u8 pure, 7 zero
 * bytes; PARTS (id 7) records: u8 kind (0 text, 1 expression), 3 zero
 * bytes, u32 text string, u32 code offset, u32 code length.
 *
 * TVALS (id 8) records (template values: inputs, with, env): u8 kind (0
 * null 1 bool 2 number 3 string 4 list 5 map), u8 bool, 6 zero bytes, f64
 * number, u32 interp (strings), u32 first child, u32 child count, u32 keys
 * list offset (maps: child count string entries in LISTS).  Children of a
 * node come after it.
 *
 * SUBPLANS (id 16) makes a plan self-contained: the plans
 * of the sub-workflows its steps name, embedded whole.  The section starts
 * with N records (PR_SUBPLAN_FIELDS): a name, the byte offset of the plan
 * from the start of the section and its size; the first record's offset is
 * N * 16, so the plans begin right after the records.  Names are non-empty,
 * without NUL, sorted bytewise, each once; the plans lie inside the section
 * in record order, each on an 8-byte boundary and after the end of the one
 * before (zero padding between them), so no two share a byte.  Each is a
 * complete plan, validated by the same rules, nested at most
 * PR_PLAN_MAX_DEPTH levels below the outermost.  The `workflow` field of
 * every workflow step is the very string reference of a record's name.
 *
 * PROMPTS (id 15) records (PR_PROMPT_FIELDS): the prompt
 * files the steps name (kind 0) and the partials their templates include
 * (kind 1), each with its compiled template in CODE and its frontmatter:
 * model (resolved), config, input schema and defaults, output format and
 * schema (JSON text; schemas are JSON Schema, Picoschema already
 * converted).  Records are sorted by kind, then bytewise by name, each
 * (kind, name) once.  A prompt's name is the `prompt_file` of the steps
 * naming it, the very string reference: a step finds its prompt by
 * pr_plan_prompt_find.  A partial's name is its file, relative to the
 * workflow's directory.  Partial instructions name records by index.
 *
 * OTYPES (id 17, format 4.2) holds one record per step, in step order
 * (PR_OTYPE_FIELDS): the types of its outputs as pomlc inferred them, for
 * pomlc --dump and other readers; pomlrun does not need them.  Absent or
 * of exactly as many records as STEPS.
 *
 * CODE (id 9) holds the expressions' bytecode (bytecode.h).  Every
 * reference in it is resolved by pomlc: a parameter is read as a member of
 * the params root, a step by its index in STEPS (the STEP instruction,
 * verified below the number of steps), so pomlrun looks no name up.
 *
 * VERSIONING.  The major version changes when a reader of the previous one
 * would misread a file (2.0: steps referred to by index, not by name, in
 * the bytecode; 3.0: a best_of step's score in its own field, `score`,
 * no longer in `run`, and step records of 264 bytes; 4.0: `cache_ttl`,
 * step records of 272 bytes; a reader refuses
 * plans of an older major version, which pomlc rebuilds; 4.1 adds the
 * approval kind and the escalate flag, which a 4.0 reader refuses as out
 * of range; 4.2 adds OTYPES);
 * the minor version when fields or sections are only added, in bytes the
 * old reader ignores (reserved bytes it checks must stay zero in old
 * fields).  A new requirement that old readers must
 * honour sets an incompatible flag.
 */
#ifndef POML_PLAN_H
#define POML_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plan_limits.h"

#include "util.h"

#define PR_PLAN_MAGIC "\x89PLN\r\n\x1a\n"
#define PR_PLAN_MAJOR 4
#define PR_PLAN_MINOR 2
#define PR_PLAN_HEADER_SIZE 64
#define PR_PLAN_NONE 0xFFFFFFFFu
#define PR_EDGE_AFTER 0x80000000u
#define PR_PLAN_MAX_DEPTH 16 /* levels of embedded plans below the top */

/* Offsets in the header and in an entry of the section table, as above;
 * the writer and the loader both name them. */
enum pr_header_off {
    PR_HDR_MAGIC = 0,
    PR_HDR_MAJOR = 8,
    PR_HDR_MINOR = 10,
    PR_HDR_SIZE = 12,
    PR_HDR_FILE_SIZE = 16,
    PR_HDR_FLAGS = 24,
    PR_HDR_NSECTIONS = 28,
    PR_HDR_TABLE = 32,
    PR_HDR_CRC = 40,
    PR_HDR_BODY_CRC = 44,
    PR_HDR_RESERVED = 48
};
enum pr_entry_off {
    PR_ENT_ID = 0,
    PR_ENT_FLAGS = 4,
    PR_ENT_OFFSET = 8,
    PR_ENT_SIZE = 12,
    PR_ENT_BYTES = 16 /* the size of an entry */
};

enum pr_section {
    PR_SEC_STRINGS = 1,
    PR_SEC_WORKFLOW = 2, /* one record */
    PR_SEC_PARAMS = 3,
    PR_SEC_STEPS = 4,
    PR_SEC_LISTS = 5, /* u32 entries */
    PR_SEC_INTERPS = 6,
    PR_SEC_PARTS = 7,
    PR_SEC_TVALS = 8,
    PR_SEC_CODE = 9, /* expression bytecode */
    PR_SEC_MODELS = 10,
    PR_SEC_PHASES = 11,
    PR_SEC_TOOLS = 12,
    PR_SEC_AGGS = 13,
    PR_SEC_ALERTS = 14,
    PR_SEC_PROMPTS = 15,  /* prompt files and partials */
    PR_SEC_SUBPLANS = 16, /* embedded sub-workflow plans */
    PR_SEC_OTYPES = 17,   /* the types of each step's outputs (4.2) */
    PR_SEC_COUNT = 17     /* the highest id */
};

/* Field types for the X-macro lists. */
#define PR_FT_U8 1
#define PR_FT_U32 2
#define PR_FT_U64 3
#define PR_FT_F64 4
#define PR_FT_ENUM 5
#define PR_FT_FLAGS 6
#define PR_FT_ZERO 7
#define PR_FT_STR 8
#define PR_FT_OPTSTR 9
#define PR_FT_CODE 10
#define PR_FT_INTERP 11
#define PR_FT_TVAL 12
#define PR_FT_STEP 13
#define PR_FT_MODEL 14
#define PR_FT_PHASE 15
#define PR_FT_LIST 16
#define PR_FT_ZERO32 17
#define PR_FT_TCODE 18

/* List entry kinds */
#define PR_LK_STR 1
#define PR_LK_MODEL 2
#define PR_LK_STEP 3
#define PR_LK_EDGE 4

/* step kinds, as in the compiler */
enum pr_step_kind {
    PR_STEP_GATE,
    PR_STEP_SHELL,
    PR_STEP_LLM,
    PR_STEP_TOOL,
    PR_STEP_AGGREGATE,
    PR_STEP_WORKFLOW,
    PR_STEP_APPROVAL, /* 4.1: waits for a person's answer */
    PR_STEP_KINDS
};

enum pr_backoff { PR_BACKOFF_EXPONENTIAL, PR_BACKOFF_FIXED, PR_BACKOFF_NONE };

enum pr_type {
    PR_T_ANY,
    PR_T_STRING,
    PR_T_INTEGER,
    PR_T_NUMBER,
    PR_T_BOOLEAN,
    PR_T_ARRAY,
    PR_T_OBJECT,
    PR_T_TYPES
};

/* step flags */
#define PR_SF_PARALLEL 0x01
#define PR_SF_CONTINUE 0x02 /* on_failure: continue */
#define PR_SF_CACHE 0x04
#define PR_SF_JSON 0x08      /* structured output */
#define PR_SF_SYNTHETIC 0x10 /* made by the compiler */
#define PR_SF_CRITICAL 0x20  /* on the critical path */
#define PR_SF_JUDGE                                                           \
    0x40 /* the judge of a best_of step: makes no                             \
            call of its own, its outputs are the                              \
            judge call's of that step */
#define PR_SF_ESCALATE                                                        \
    0x80 /* 4.1: escalate_to: human: a failure after the last attempt     \
            waits for a person's decision */
#define PR_SF_ALL 0xFF

/* parameter flags */
#define PR_PF_REQUIRED 0x01
#define PR_PF_IMPLICIT 0x02
#define PR_PF_ALL 0x03

/* workflow flags */
#define PR_WF_CONTINUE 0x01 /* error_handling.on_failure: continue */
#define PR_WF_POLICY_TOOLS 0x02
#define PR_WF_POLICY_COMMANDS 0x04
#define PR_WF_FAIL_FAST 0x08 /* error_strategy: fail_fast */
#define PR_WF_LIMIT_LLM 0x10 /* max_parallel counts LLM steps too */
#define PR_WF_NO_STATE 0x20  /* save_state: false: no state file by default */
#define PR_WF_ALL 0x3F

/* X(name, type, arg, offset): arg is the enum bound, flag mask or list
 * kind where the type needs one, for a U32 its row in plan_limits.h (0: none),
 * else 0. */
#define PR_WORKFLOW_FIELDS(X)                                                 \
    X(id, PR_FT_STR, 0, 0)                                                    \
    X(version, PR_FT_STR, 0, 4)                                               \
    X(description, PR_FT_STR, 0, 8)                                           \
    X(source, PR_FT_STR, 0, 12)                                               \
    X(nstages, PR_FT_U32, 0, 16)                                              \
    X(widest_stage, PR_FT_U32, 0, 20)                                         \
    X(cp_steps, PR_FT_U32, 0, 24)                                             \
    X(max_parallel, PR_FT_U32, PR_LIM_MAX_PARALLEL, 28)                       \
    X(cp_seconds, PR_FT_F64, 0, 32)                                           \
    X(sla_max_duration, PR_FT_F64, 0, 40)                                     \
    X(sla_step_timeout, PR_FT_F64, 0, 48)                                     \
    X(budget_cost, PR_FT_F64, 0, 56)                                          \
    X(budget_tokens, PR_FT_U64, 0, 64)                                        \
    X(budget_calls, PR_FT_U64, 0, 72)                                         \
    X(breaker_reset, PR_FT_F64, 0, 80)                                        \
    X(breaker_threshold, PR_FT_U32, PR_LIM_BREAKER, 88)                       \
    X(flags, PR_FT_FLAGS, PR_WF_ALL, 92)                                      \
    X(pad0, PR_FT_ZERO, 0, 93)                                                \
    X(pad1, PR_FT_ZERO, 0, 94)                                                \
    X(pad2, PR_FT_ZERO, 0, 95)                                                \
    X(allowed_tools, PR_FT_LIST, PR_LK_STR, 96)                               \
    X(allowed_commands, PR_FT_LIST, PR_LK_STR, 104)                           \
    X(on_failure_actions, PR_FT_LIST, PR_LK_STR, 112)
#define PR_WORKFLOW_SIZE 120

#define PR_PARAM_FIELDS(X)                                                    \
    X(name, PR_FT_STR, 0, 0)                                                  \
    X(description, PR_FT_STR, 0, 4)                                           \
    X(default_json, PR_FT_OPTSTR, 0, 8)                                       \
    X(enum_json, PR_FT_OPTSTR, 0, 12)                                         \
    X(type, PR_FT_ENUM, PR_T_TYPES, 16)                                       \
    X(flags, PR_FT_FLAGS, PR_PF_ALL, 17)                                      \
    X(pad0, PR_FT_ZERO, 0, 18)                                                \
    X(pad1, PR_FT_ZERO, 0, 19)                                                \
    X(pad2, PR_FT_ZERO32, 0, 20)
#define PR_PARAM_SIZE 24

#define PR_STEP_FIELDS(X)                                                     \
    X(id, PR_FT_STR, 0, 0)                                                    \
    X(name, PR_FT_STR, 0, 4)                                                  \
    X(description, PR_FT_STR, 0, 8)                                           \
    X(kind, PR_FT_ENUM, PR_STEP_KINDS, 12)                                    \
    X(flags, PR_FT_FLAGS, PR_SF_ALL, 13)                                      \
    X(backoff, PR_FT_ENUM, 3, 14)                                             \
    X(pad0, PR_FT_ZERO, 0, 15)                                                \
    X(stage, PR_FT_U32, 0, 16)                                                \
    X(cp_steps, PR_FT_U32, 0, 20)                                             \
    X(max_attempts, PR_FT_U32, PR_LIM_ATTEMPTS, 24)                           \
    X(best_of, PR_FT_U32, PR_LIM_BEST_OF, 28)                                 \
    X(cp_seconds, PR_FT_F64, 0, 32)                                           \
    X(timeout, PR_FT_F64, 0, 40)                                              \
    X(initial_delay, PR_FT_F64, 0, 48)                                        \
    X(max_delay, PR_FT_F64, 0, 56)                                            \
    X(temperature, PR_FT_F64, 0, 64) /* < 0: the provider default */          \
    X(max_tokens, PR_FT_U64, 0, 72)                                           \
    X(budget_cost, PR_FT_F64, 0, 80)                                          \
    X(budget_tokens, PR_FT_U64, 0, 88)                                        \
    X(budget_calls, PR_FT_U64, 0, 96)                                         \
    X(deps, PR_FT_LIST, PR_LK_EDGE, 104)                                      \
    X(dependents, PR_FT_LIST, PR_LK_EDGE, 112)                                \
    X(condition, PR_FT_CODE, 0, 120)                                          \
    X(for_each, PR_FT_CODE, 0, 128)                                           \
    X(run, PR_FT_INTERP, 0, 136) /* shell: the command */                     \
    X(prompt, PR_FT_INTERP, 0, 140)                                           \
    X(system, PR_FT_INTERP, 0, 144)                                           \
    X(prompt_file, PR_FT_OPTSTR, 0, 148)                                      \
    X(model, PR_FT_MODEL, 0, 152)                                             \
    X(judge, PR_FT_STEP, 0, 156)                                              \
    X(fallback, PR_FT_LIST, PR_LK_MODEL, 160)                                 \
    X(cascade, PR_FT_LIST, PR_LK_MODEL, 168)                                  \
    X(agent, PR_FT_OPTSTR, 0, 176)                                            \
    X(capability, PR_FT_OPTSTR, 0, 180)                                       \
    X(tool, PR_FT_OPTSTR, 0, 184)                                             \
    X(strategy, PR_FT_OPTSTR, 0, 188)                                         \
    X(tools, PR_FT_LIST, PR_LK_STR, 192)                                      \
    X(outputs, PR_FT_LIST, PR_LK_STR, 200)                                    \
    X(workflow, PR_FT_OPTSTR, 0, 208)                                         \
    X(with, PR_FT_TVAL, 0, 212)                                               \
    X(inputs, PR_FT_TVAL, 0, 216)                                             \
    X(env, PR_FT_TVAL, 0, 220)                                                \
    X(dir, PR_FT_OPTSTR, 0, 224)                                              \
    X(output_schema, PR_FT_OPTSTR, 0, 228)                                    \
    X(phase, PR_FT_PHASE, 0, 232)                                             \
    X(gate_of_phase, PR_FT_PHASE, 0, 236)                                     \
    X(batch_size, PR_FT_U32, PR_LIM_BATCH_SIZE, 240)                          \
    X(parallelism, PR_FT_U32, PR_LIM_PARALLELISM, 244)                        \
    X(src_line, PR_FT_U32, 0, 248)                                            \
    X(src_col, PR_FT_U32, 0, 252)                                             \
    X(score, PR_FT_CODE, 0, 256) /* LLM, best_of: ranks the candidates */     \
    X(cache_ttl, PR_FT_F64, 0, 264) /* seconds; 0: any age */
#define PR_STEP_SIZE 272

#define PR_MODEL_FIELDS(X)                                                    \
    X(name, PR_FT_STR, 0, 0)                                                  \
    X(provider, PR_FT_STR, 0, 4)                                              \
    X(protocol, PR_FT_STR, 0, 8)                                              \
    X(wire_id, PR_FT_STR, 0, 12)                                              \
    X(base_url, PR_FT_STR, 0, 16)                                             \
    X(api_key_env, PR_FT_STR, 0, 20)                                          \
    X(base_url_env, PR_FT_STR, 0, 24)                                         \
    X(reply_tokens, PR_FT_U32, 0, 28)                                         \
    X(input_per_mtok, PR_FT_F64, 0, 32)                                       \
    X(output_per_mtok, PR_FT_F64, 0, 40)                                      \
    X(context_window, PR_FT_U64, 0, 48)                                       \
    X(max_output_tokens, PR_FT_U64, 0, 56)                                    \
    X(features, PR_FT_LIST, PR_LK_STR, 64)
#define PR_MODEL_SIZE 72

#define PR_PHASE_FIELDS(X)                                                    \
    X(name, PR_FT_STR, 0, 0)                                                  \
    X(description, PR_FT_STR, 0, 4)                                           \
    X(gate_step, PR_FT_STEP, 0, 8)                                            \
    X(feedback_to, PR_FT_PHASE, 0, 12)                                        \
    X(min_success_rate, PR_FT_F64, 0, 16)                                     \
    X(gate, PR_FT_CODE, 0, 24)                                                \
    X(feedback_when, PR_FT_CODE, 0, 32)                                       \
    X(max_loops, PR_FT_U32, PR_LIM_MAX_LOOPS, 40)                             \
    X(pad0, PR_FT_ZERO32, 0, 44)
#define PR_PHASE_SIZE 48

#define PR_TOOL_FIELDS(X)                                                     \
    X(name, PR_FT_STR, 0, 0)                                                  \
    X(server, PR_FT_STR, 0, 4)                                                \
    X(remote_name, PR_FT_STR, 0, 8)                                           \
    X(pad0, PR_FT_ZERO32, 0, 12)                                              \
    X(argv, PR_FT_LIST, PR_LK_STR, 16)
#define PR_TOOL_SIZE 24

#define PR_AGG_FIELDS(X)                                                      \
    X(name, PR_FT_STR, 0, 0)                                                  \
    X(builtin, PR_FT_OPTSTR, 0, 4)                                            \
    X(run, PR_FT_INTERP, 0, 8)                                                \
    X(pad0, PR_FT_ZERO32, 0, 12)
#define PR_AGG_SIZE 16

#define PR_ALERT_FIELDS(X)                                                    \
    X(group, PR_FT_STR, 0, 0)                                                 \
    X(metric, PR_FT_STR, 0, 4)                                                \
    X(op, PR_FT_STR, 0, 8)                                                    \
    X(unit, PR_FT_STR, 0, 12)                                                 \
    X(severity, PR_FT_STR, 0, 16)                                             \
    X(action, PR_FT_STR, 0, 20)                                               \
    X(threshold, PR_FT_F64, 0, 24)
#define PR_ALERT_SIZE 32

/* OTYPES records, one per step in step order: the type pomlc inferred
 * for each of the step's outputs, as a JSON object mapping the output's
 * name to the type in poml(5)'s words ("string", "list of integer",
 * "'a' | 'b'"); for a for_each step, as steps after it read them. */
#define PR_OTYPE_FIELDS(X)                                                    \
    X(types, PR_FT_OPTSTR, 0, 0)                                              \
    X(pad0, PR_FT_ZERO32, 0, 4)
#define PR_OTYPE_SIZE 8

/* PROMPTS records: prompt files and partials. */
enum pr_prompt_kind { PR_PROMPT_FILE, PR_PROMPT_PARTIAL, PR_PROMPT_KINDS };

#define PR_PROMPT_FIELDS(X)                                                   \
    X(name, PR_FT_STR, 0, 0)                                                  \
    X(title, PR_FT_STR, 0, 4)                                                 \
    X(code, PR_FT_TCODE, 0, 8)                                                \
    X(kind, PR_FT_ENUM, PR_PROMPT_KINDS, 16)                                  \
    X(pad0, PR_FT_ZERO, 0, 17)                                                \
    X(pad1, PR_FT_ZERO, 0, 18)                                                \
    X(pad2, PR_FT_ZERO, 0, 19)                                                \
    X(description, PR_FT_STR, 0, 20)                                          \
    X(model, PR_FT_MODEL, 0, 24)                                              \
    X(config, PR_FT_OPTSTR, 0, 28)                                            \
    X(input_schema, PR_FT_OPTSTR, 0, 32)                                      \
    X(input_default, PR_FT_OPTSTR, 0, 36)                                     \
    X(output_format, PR_FT_OPTSTR, 0, 40)                                     \
    X(output_schema, PR_FT_OPTSTR, 0, 44)
#define PR_PROMPT_SIZE 48

/* SUBPLANS records; the embedded plans follow them. */
#define PR_SUBPLAN_FIELDS(X)                                                  \
    X(name, PR_FT_STR, 0, 0)                                                  \
    X(offset, PR_FT_U32, 0, 4)                                                \
    X(size, PR_FT_U32, 0, 8)                                                  \
    X(pad0, PR_FT_ZERO32, 0, 12)
#define PR_SUBPLAN_SIZE 16

enum pr_tval_kind {
    PR_TV_NULL,
    PR_TV_BOOL,
    PR_TV_NUM,
    PR_TV_STR,
    PR_TV_LIST,
    PR_TV_MAP,
    PR_TV_KINDS
};

/* INTERPS, PARTS and TVALS records (their rules are in the prose above). */
#define PR_INTERP_FIELDS(X)                                                   \
    X(first, PR_FT_U32, 0, 0)                                                 \
    X(n, PR_FT_U32, 0, 4)                                                     \
    X(pure, PR_FT_U8, 0, 8)                                                   \
    X(pad0, PR_FT_ZERO, 0, 9)                                                 \
    X(pad1, PR_FT_ZERO, 0, 10)                                                \
    X(pad2, PR_FT_ZERO, 0, 11)                                                \
    X(pad3, PR_FT_ZERO32, 0, 12)
#define PR_INTERP_SIZE 16

#define PR_PART_FIELDS(X)                                                     \
    X(kind, PR_FT_ENUM, 2, 0)                                                 \
    X(pad0, PR_FT_ZERO, 0, 1)                                                 \
    X(pad1, PR_FT_ZERO, 0, 2)                                                 \
    X(pad2, PR_FT_ZERO, 0, 3)                                                 \
    X(text, PR_FT_STR, 0, 4)                                                  \
    X(code, PR_FT_CODE, 0, 8)
#define PR_PART_SIZE 16

#define PR_TVAL_FIELDS(X)                                                     \
    X(kind, PR_FT_ENUM, PR_TV_KINDS, 0)                                       \
    X(b, PR_FT_U8, 0, 1)                                                      \
    X(pad0, PR_FT_ZERO, 0, 2)                                                 \
    X(pad1, PR_FT_ZERO, 0, 3)                                                 \
    X(pad2, PR_FT_ZERO32, 0, 4)                                               \
    X(num, PR_FT_F64, 0, 8)                                                   \
    X(interp, PR_FT_INTERP, 0, 16)                                            \
    X(first, PR_FT_U32, 0, 20)                                                \
    X(n, PR_FT_U32, 0, 24)                                                    \
    X(keys, PR_FT_U32, 0, 28)
#define PR_TVAL_SIZE 32

/* ---- the field lists by name ----
 *
 * For each record R above (WORKFLOW, PARAM, STEP, ...) and each field f of
 * its list: PR_R_OFF_f, its offset; PR_R_FT_f, its type; PR_R_NO_f, its
 * place in the list; and PR_R_NFIELDS, PR_R_NWRITE (the fields that are
 * not padding), PR_R_SEC, its section.  The writer (PR_PUT below) and
 * the loader's checks name fields through these, never by offset. */

/* Bytes a field of type T takes in its record. */
#define PR_FT_BYTES(t)                                                        \
    ((t) == PR_FT_U64 || (t) == PR_FT_F64 || (t) == PR_FT_CODE ||             \
             (t) == PR_FT_LIST || (t) == PR_FT_TCODE                          \
         ? 8                                                                  \
     : (t) == PR_FT_U8 || (t) == PR_FT_ENUM || (t) == PR_FT_FLAGS ||          \
             (t) == PR_FT_ZERO                                                \
         ? 1                                                                  \
         : 4)
#define PR_FT_PAD(t) ((t) == PR_FT_ZERO || (t) == PR_FT_ZERO32)
/* (offset, length) pairs: CODE, TCODE and LIST. */
#define PR_FT_RANGE(t)                                                        \
    ((t) == PR_FT_CODE || (t) == PR_FT_TCODE || (t) == PR_FT_LIST)
/* One number: neither padding, nor F64, nor a pair. */
#define PR_FT_INT(t) (!PR_FT_PAD(t) && !PR_FT_RANGE(t) && (t) != PR_FT_F64)

/* Every record with a field list: X(R, its section, what messages call
 * one). */
#define PR_RECORDS(X)                                                         \
    X(WORKFLOW, PR_SEC_WORKFLOW, "workflow")                                  \
    X(PARAM, PR_SEC_PARAMS, "parameter")                                      \
    X(STEP, PR_SEC_STEPS, "step")                                             \
    X(MODEL, PR_SEC_MODELS, "model")                                          \
    X(PHASE, PR_SEC_PHASES, "phase")                                          \
    X(TOOL, PR_SEC_TOOLS, "tool")                                             \
    X(AGG, PR_SEC_AGGS, "aggregate")                                          \
    X(ALERT, PR_SEC_ALERTS, "alert")                                          \
    X(PROMPT, PR_SEC_PROMPTS, "prompt")                                       \
    X(SUBPLAN, PR_SEC_SUBPLANS, "subplan")                                    \
    X(OTYPE, PR_SEC_OTYPES, "output types")                                   \
    X(INTERP, PR_SEC_INTERPS, "interp")                                       \
    X(PART, PR_SEC_PARTS, "interp part")                                      \
    X(TVAL, PR_SEC_TVALS, "template value")

/* PR_BY_R passes the record's name to PR_FIELD_KEY with each field. */
#define PR_BY_WORKFLOW(...) PR_FIELD_KEY(WORKFLOW, __VA_ARGS__)
#define PR_BY_PARAM(...) PR_FIELD_KEY(PARAM, __VA_ARGS__)
#define PR_BY_STEP(...) PR_FIELD_KEY(STEP, __VA_ARGS__)
#define PR_BY_MODEL(...) PR_FIELD_KEY(MODEL, __VA_ARGS__)
#define PR_BY_PHASE(...) PR_FIELD_KEY(PHASE, __VA_ARGS__)
#define PR_BY_TOOL(...) PR_FIELD_KEY(TOOL, __VA_ARGS__)
#define PR_BY_AGG(...) PR_FIELD_KEY(AGG, __VA_ARGS__)
#define PR_BY_ALERT(...) PR_FIELD_KEY(ALERT, __VA_ARGS__)
#define PR_BY_PROMPT(...) PR_FIELD_KEY(PROMPT, __VA_ARGS__)
#define PR_BY_SUBPLAN(...) PR_FIELD_KEY(SUBPLAN, __VA_ARGS__)
#define PR_BY_OTYPE(...) PR_FIELD_KEY(OTYPE, __VA_ARGS__)
#define PR_BY_INTERP(...) PR_FIELD_KEY(INTERP, __VA_ARGS__)
#define PR_BY_PART(...) PR_FIELD_KEY(PART, __VA_ARGS__)
#define PR_BY_TVAL(...) PR_FIELD_KEY(TVAL, __VA_ARGS__)

#define PR_FIELD_KEY(R, n, t, a, o) PR_##R##_NO_##n,
#define PR_KEYS(R, sec, what)                                                 \
    enum { PR_##R##_FIELDS(PR_BY_##R) PR_##R##_NFIELDS, PR_##R##_SEC = sec };
PR_RECORDS(PR_KEYS)
#undef PR_KEYS
#undef PR_FIELD_KEY
#define PR_FIELD_KEY(R, n, t, a, o)                                           \
    PR_##R##_OFF_##n = (o), PR_##R##_FT_##n = (t),
#define PR_KEYS(R, sec, what) enum { PR_##R##_FIELDS(PR_BY_##R) };
PR_RECORDS(PR_KEYS)
#undef PR_KEYS
#undef PR_FIELD_KEY
#define PR_FIELD_KEY(R, n, t, a, o) +!PR_FT_PAD(t)
#define PR_KEYS(R, sec, what)                                                 \
    enum { PR_##R##_NWRITE = 0 PR_##R##_FIELDS(PR_BY_##R) };
PR_RECORDS(PR_KEYS)
#undef PR_KEYS
#undef PR_FIELD_KEY
/* The section of record R, as an enum pr_section. */
#define PR_SEC_OF(R) ((enum pr_section)PR_##R##_SEC)

/* ---- the loaded plan ---- */

struct pr_plan {
    const uint8_t *base; /* the mapping (read-only) */
    size_t size;
    bool mapped; /* munmap on close; memory given to
                    pr_plan_load_mem stays the caller's */
    uint16_t major, minor;
    struct pr_sec {
        const uint8_t *p;
        uint32_t size;
    } sec[PR_SEC_COUNT + 1];
    uint32_t nparams, nsteps, nmodels, nphases, ntools, naggs, nalerts;
    uint32_t ninterps, nparts, ntvals, nlists;
    uint32_t nsubplans;
    uint32_t nprompts;
    uint32_t notypes; /* 0 (a plan before 4.2) or nsteps */
};

/* A decoded list reference. */
struct pr_list {
    uint32_t off, n;
};

struct pr_code {
    const uint8_t *p; /* NULL when absent */
    uint32_t len;
};

/* Native views of records; strings point into the mapping. */
#define PR_CT_1 uint8_t
#define PR_CT_2 uint32_t
#define PR_CT_3 uint64_t
#define PR_CT_4 double
#define PR_CT_5 uint8_t
#define PR_CT_6 uint8_t
#define PR_CT_7 uint8_t
#define PR_CT_8 const char *
#define PR_CT_9 const char *
#define PR_CT_10 struct pr_code
#define PR_CT_11 uint32_t
#define PR_CT_12 uint32_t
#define PR_CT_13 uint32_t
#define PR_CT_14 uint32_t
#define PR_CT_15 uint32_t
#define PR_CT_16 struct pr_list
#define PR_CT_17 uint32_t
#define PR_CT_18 struct pr_code
#define PR_CTYPE(t) PR_CT_##t
#define PR_CTYPE_(t) PR_CTYPE(t)

#define PR_DECL_FIELD(name, type, arg, off) PR_CTYPE_(type) name;

struct pr_workflow {
    PR_WORKFLOW_FIELDS(PR_DECL_FIELD)
};
struct pr_param {
    PR_PARAM_FIELDS(PR_DECL_FIELD)
};
struct pr_step {
    PR_STEP_FIELDS(PR_DECL_FIELD)
};
struct pr_model {
    PR_MODEL_FIELDS(PR_DECL_FIELD)
};
struct pr_phase {
    PR_PHASE_FIELDS(PR_DECL_FIELD)
};
struct pr_tool {
    PR_TOOL_FIELDS(PR_DECL_FIELD)
};
struct pr_agg {
    PR_AGG_FIELDS(PR_DECL_FIELD)
};
struct pr_alert {
    PR_ALERT_FIELDS(PR_DECL_FIELD)
};
struct pr_subplan {
    PR_SUBPLAN_FIELDS(PR_DECL_FIELD)
};
struct pr_prompt {
    PR_PROMPT_FIELDS(PR_DECL_FIELD)
};
struct pr_otype {
    PR_OTYPE_FIELDS(PR_DECL_FIELD)
};

struct pr_interp_view {
    uint32_t first, n;
    bool pure;
};

struct pr_part_view {
    uint8_t kind; /* 0 text, 1 expression */
    const char *text;
    uint32_t text_len;
    struct pr_code code;
};

struct pr_tval_view {
    uint8_t kind;
    bool b;
    double num;
    uint32_t interp;
    uint32_t first, n;
    uint32_t keys; /* list offset of the keys (maps) */
};

/* Opens PATH, maps it and validates everything.  On failure returns -1 and
 * writes "what is wrong" into ERR (the caller adds the file name). */
int pr_plan_open(struct pr_plan *p, const char *path, char *err,
                 size_t errcap);
/* Validates a plan already in memory (not copied; must outlive P). */
int pr_plan_load_mem(struct pr_plan *p, const void *data, size_t size,
                     char *err, size_t errcap);
void pr_plan_close(struct pr_plan *p);

/* Views: indices must be below the counts above (checked by assert-free
 * clamping: an out-of-range index gives a zeroed view). */
void pr_plan_workflow(const struct pr_plan *p, struct pr_workflow *out);
void pr_plan_param(const struct pr_plan *p, uint32_t i, struct pr_param *out);
void pr_plan_step(const struct pr_plan *p, uint32_t i, struct pr_step *out);
void pr_plan_model(const struct pr_plan *p, uint32_t i, struct pr_model *out);
void pr_plan_phase(const struct pr_plan *p, uint32_t i, struct pr_phase *out);
void pr_plan_tool(const struct pr_plan *p, uint32_t i, struct pr_tool *out);
void pr_plan_agg(const struct pr_plan *p, uint32_t i, struct pr_agg *out);
void pr_plan_alert(const struct pr_plan *p, uint32_t i, struct pr_alert *out);
/* The output types of step I; types is NULL when the plan has none. */
void pr_plan_otype(const struct pr_plan *p, uint32_t i, struct pr_otype *out);
void pr_plan_subplan_at(const struct pr_plan *p, uint32_t i,
                        struct pr_subplan *out);
void pr_plan_prompt(const struct pr_plan *p, uint32_t i,
                    struct pr_prompt *out);
void pr_plan_interp(const struct pr_plan *p, uint32_t i,
                    struct pr_interp_view *out);
void pr_plan_part(const struct pr_plan *p, uint32_t i,
                  struct pr_part_view *out);
void pr_plan_tval(const struct pr_plan *p, uint32_t i,
                  struct pr_tval_view *out);
/* Entry K of a list (K below its count). */
uint32_t pr_plan_list_at(const struct pr_plan *p, struct pr_list l,
                         uint32_t k);
/* A string by reference, with its length; "" for an absent reference. */
const char *pr_plan_str(const struct pr_plan *p, uint32_t ref, size_t *len);
/* The embedded plan of the sub-workflow NAME (a step's `workflow`): 0 with
 * its bytes, validated with P and valid while P is open, in *DATA and
 * *SIZE (for pr_plan_load_mem, or to write to a file); -1, NULL and 0 when
 * P has none by that name. */
int pr_plan_subplan(const struct pr_plan *p, const char *name,
                    const uint8_t **data, size_t *size);

/* The PROMPTS record of the prompt file NAME (a step's `prompt_file`):
 * its index, or PR_PLAN_NONE when there is none. */
uint32_t pr_plan_prompt_find(const struct pr_plan *p, const char *name);

/* The order of SUBPLANS names: bytewise, a prefix before what extends it. */
static inline int pr_plan_name_cmp(const char *a, size_t na, const char *b,
                                   size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

/* CRC-32C (Castagnoli), shared by the writer and the loader: the
 * processor's instruction where it has one, else tables.  _portable always
 * takes the tables (the tests compare the two); _method names the one
 * pr_crc32c uses ("instruction" or "tables"). */
uint32_t pr_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t pr_crc32c_portable(uint32_t crc, const void *data, size_t len);
const char *pr_crc32c_method(void);

/* ---- building a plan (the writer) ---- */

struct pr_plan_builder;

struct pr_plan_builder *pr_pb_new(void);
void pr_pb_free(struct pr_plan_builder *b);
/* Interns a string; returns its reference (deduplicated). */
uint32_t pr_pb_str(struct pr_plan_builder *b, const char *s, size_t n);
/* Appends a record to a record section; returns a pointer to its zeroed
 * bytes (valid until the next append to that section) and its index. */
uint8_t *pr_pb_record(struct pr_plan_builder *b, enum pr_section sec,
                      size_t size, uint32_t *index);
/* Appends raw bytes to a blob section (CODE, LISTS); returns the offset
 * in bytes (CODE) or entries (LISTS). */
uint32_t pr_pb_code(struct pr_plan_builder *b, const void *code, size_t n);
uint32_t pr_pb_list(struct pr_plan_builder *b, const uint32_t *v, size_t n);
/* Embeds the plan DATA (SIZE bytes, copied) in SUBPLANS under NAME, which
 * no other call gives; pr_pb_finish sorts the records.  0 or -1. */
int pr_pb_subplan(struct pr_plan_builder *b, const char *name,
                  const uint8_t *data, size_t size);
/* The record at INDEX of a record section, for filling in later. */
uint8_t *pr_pb_at(struct pr_plan_builder *b, enum pr_section sec, size_t size,
                  uint32_t index);
/* Writes the whole file into *OUT (malloc'd); 0 or -1 (out of memory). */
int pr_pb_finish(struct pr_plan_builder *b, uint8_t **out, size_t *size);
bool pr_pb_failed(const struct pr_plan_builder *b);
/* Why the builder failed: "out of memory" unless a record was refused
 * (pr_pb_put), then which field of which record. */
const char *pr_pb_why(const struct pr_plan_builder *b);

/* ---- writing records by field name ----
 *
 * The mirror of the loader's views: a record is filled field by field by
 * name, through the lists above, in a buffer, then copied into the plan:
 *
 *     struct pr_rec w;
 *     PR_REC_INIT(&w, STEP);
 *     PR_PUT(&w, STEP, model, index);          numbers and references
 *     PR_PUT_F64(&w, STEP, timeout, 30.0);
 *     PR_PUT_SPAN(&w, STEP, deps, span);       CODE, TCODE, LIST
 *     PR_LATER(&w, STEP, dependents);          PR_PUT_SPAN_AT writes it
 *     pr_pb_put(b, &w, index);                 or pr_pb_add (appends)
 *
 * The field's offset and width come from its list, and a PR_PUT of a
 * field of another type does not compile.  pr_pb_put refuses a record
 * (the builder fails, pr_pb_why names the field) in which a field that is
 * not padding was not written, or a value did not fit its field. */
#define PR_REC_MAX PR_STEP_SIZE /* the largest record: plan_build.c checks */

/* (offset, length) of a CODE, TCODE or LIST field. */
struct pr_span {
    uint32_t off, len;
};

struct pr_rec {
    enum pr_section sec;
    uint32_t size, nwrite;
    uint64_t set; /* bit per field number: written */
    int bad;      /* 1 + the number of a field refused */
    uint8_t b[PR_REC_MAX];
};

void pr_rec_init(struct pr_rec *w, enum pr_section sec, uint32_t size,
                 uint32_t nwrite);
#define PR_REC_INIT(w, R)                                                     \
    pr_rec_init((w), PR_SEC_OF(R), PR_##R##_SIZE, PR_##R##_NWRITE)

/* A compile-time check inside an expression. */
#define PR_CHECK_(cond, msg)                                                  \
    ((void)sizeof(struct {                                                    \
        _Static_assert(cond, msg);                                            \
        int ok_;                                                              \
    }))

static inline void pr_rec_mark_(struct pr_rec *w, enum pr_section sec,
                                unsigned no, bool ok)
{
    if (sec != w->sec || !ok) {
        if (!w->bad)
            w->bad = (int)no + 1;
        return;
    }
    w->set |= (uint64_t)1 << no;
}

static inline void pr_rec_put_(struct pr_rec *w, enum pr_section sec,
                               unsigned no, unsigned type, unsigned off,
                               uint64_t v)
{
    unsigned n = PR_FT_BYTES(type);
    pr_rec_mark_(w, sec, no, n == 8 || v >> (8 * n) == 0);
    if (n == 1)
        w->b[off] = (uint8_t)v;
    else if (n == 4)
        pr_put_u32(w->b + off, (uint32_t)v);
    else
        pr_put_u64(w->b + off, v);
}

static inline void pr_rec_put_f64_(struct pr_rec *w, enum pr_section sec,
                                   unsigned no, unsigned off, double x)
{
    pr_rec_mark_(w, sec, no, true);
    pr_put_f64(w->b + off, x);
}

static inline void pr_rec_put_span_(struct pr_rec *w, enum pr_section sec,
                                    unsigned no, unsigned off,
                                    struct pr_span s)
{
    pr_rec_mark_(w, sec, no, true);
    pr_put_u32(w->b + off, s.off);
    pr_put_u32(w->b + off + 4, s.len);
}

#define PR_PUT(w, R, f, v)                                                    \
    (PR_CHECK_(PR_FT_INT(PR_##R##_FT_##f), #f " is not a number field"),      \
     pr_rec_put_((w), PR_SEC_OF(R), PR_##R##_NO_##f, PR_##R##_FT_##f,         \
                 PR_##R##_OFF_##f, (v)))
#define PR_PUT_F64(w, R, f, x)                                                \
    (PR_CHECK_(PR_##R##_FT_##f == PR_FT_F64, #f " is not an F64 field"),      \
     pr_rec_put_f64_((w), PR_SEC_OF(R), PR_##R##_NO_##f, PR_##R##_OFF_##f,    \
                     (x)))
#define PR_PUT_SPAN(w, R, f, s)                                               \
    (PR_CHECK_(PR_FT_RANGE(PR_##R##_FT_##f), #f " is not a span field"),      \
     pr_rec_put_span_((w), PR_SEC_OF(R), PR_##R##_NO_##f, PR_##R##_OFF_##f,   \
                      (s)))
/* Field F is written into the plan's record after pr_pb_put. */
#define PR_LATER(w, R, f)                                                     \
    pr_rec_mark_((w), PR_SEC_OF(R), PR_##R##_NO_##f, true)

/* Copies W into record INDEX of its section (appended before, by
 * pr_pb_record), or appends it (returns its index). */
void pr_pb_put(struct pr_plan_builder *b, const struct pr_rec *w,
               uint32_t index);
uint32_t pr_pb_add(struct pr_plan_builder *b, const struct pr_rec *w);
/* Writes the span S into field F (marked PR_LATER) of record INDEX. */
void pr_pb_put_span_at(struct pr_plan_builder *b, enum pr_section sec,
                       uint32_t size, uint32_t index, unsigned off,
                       struct pr_span s);
#define PR_PUT_SPAN_AT(b, R, index, f, s)                                     \
    (PR_CHECK_(PR_FT_RANGE(PR_##R##_FT_##f), #f " is not a span field"),      \
     pr_pb_put_span_at((b), PR_SEC_OF(R), PR_##R##_SIZE, (index),             \
                       PR_##R##_OFF_##f, (s)))

#endif
