/* check_types.c -- unit tests of the type lattice (compiler/types.c)
 *
 * Joins of branch types (primitives, numbers, enums, arrays, objects),
 * element and field types, enum narrowing, assignability, the printed form
 * and types read from JSON Schema.  The checks that use them are pinned by
 * the lint corpus (tests/lint/invalid/types-*.poml).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

static struct pr_arena arena;

static void setup(void)
{
    pr_arena_init(&arena);
}

static void teardown(void)
{
    pr_arena_free(&arena);
}

static const char *text(const struct pc_ty *t)
{
    static char buf[256];
    ck_assert_ptr_nonnull(t);
    ck_assert_int_lt(pc_ty_print(t, buf, sizeof buf), (int)sizeof buf);
    return buf;
}

static const struct pc_ty *schema(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    ck_assert_ptr_nonnull(j);
    const struct pc_ty *t = pc_ty_from_schema(&arena, j);
    cJSON_Delete(j);
    ck_assert_ptr_nonnull(t);
    return t;
}

static const struct pc_ty *enum2(const char *a, const char *b)
{
    const char *v[] = {a, b};
    return pc_ty_enum(&arena, v, b ? 2 : 1);
}

START_TEST(test_join_primitives)
{
    struct pr_arena *a = &arena;
    ck_assert_ptr_eq(pc_ty_join(a, &pc_ty_string, &pc_ty_string),
                     &pc_ty_string);
    ck_assert_ptr_eq(pc_ty_join(a, &pc_ty_integer, &pc_ty_integer),
                     &pc_ty_integer);
    /* integer is a number */
    ck_assert_ptr_eq(pc_ty_join(a, &pc_ty_integer, &pc_ty_number),
                     &pc_ty_number);
    ck_assert_ptr_eq(pc_ty_join(a, &pc_ty_number, &pc_ty_integer),
                     &pc_ty_number);
    /* different kinds meet at any, and any absorbs */
    ck_assert_ptr_eq(pc_ty_join(a, &pc_ty_string, &pc_ty_integer), &pc_ty_any);
    ck_assert_ptr_eq(pc_ty_join(a, &pc_ty_boolean, &pc_ty_null), &pc_ty_any);
    ck_assert_ptr_eq(pc_ty_join(a, &pc_ty_any, &pc_ty_string), &pc_ty_any);
    ck_assert_ptr_eq(pc_ty_join(a, &pc_ty_boolean, &pc_ty_any), &pc_ty_any);
    ck_assert_ptr_null(pc_ty_join(a, NULL, &pc_ty_any));
}
END_TEST

START_TEST(test_join_enums)
{
    const struct pc_ty *ab = enum2("a", "b"), *bc = enum2("b", "c");
    const struct pc_ty *j = pc_ty_join(&arena, ab, bc);
    ck_assert_str_eq(text(j), "'a' | 'b' | 'c'");
    ck_assert(pc_ty_enum_allows(j, "c"));
    ck_assert(!pc_ty_enum_allows(j, "d"));
    /* an enum joined with any string is a string */
    ck_assert_ptr_eq(pc_ty_join(&arena, ab, &pc_ty_string), &pc_ty_string);
    ck_assert_ptr_eq(pc_ty_join(&arena, &pc_ty_string, ab), &pc_ty_string);
    /* duplicates are dropped */
    const char *v[] = {"x", "x", "y"};
    ck_assert_str_eq(text(pc_ty_enum(&arena, v, 3)), "'x' | 'y'");
}
END_TEST

START_TEST(test_join_arrays_objects)
{
    const struct pc_ty *ai = pc_ty_array(&arena, &pc_ty_integer);
    const struct pc_ty *an = pc_ty_array(&arena, &pc_ty_number);
    const struct pc_ty *as = pc_ty_array(&arena, &pc_ty_string);
    ck_assert_str_eq(text(pc_ty_join(&arena, ai, an)), "array<number>");
    ck_assert_str_eq(text(pc_ty_join(&arena, ai, as)), "array<any>");
    ck_assert_ptr_eq(pc_ty_array(&arena, &pc_ty_any), &pc_ty_any_array);

    const char *n1[] = {"a", "b"};
    const struct pc_ty *t1[] = {&pc_ty_integer, &pc_ty_string};
    const char *n2[] = {"a"};
    const struct pc_ty *t2[] = {&pc_ty_number};
    const struct pc_ty *o1 = pc_ty_object(&arena, n1, t1, 2, false);
    const struct pc_ty *o2 = pc_ty_object(&arena, n2, t2, 1, false);
    ck_assert_str_eq(text(o1), "{a: integer, b: string}");
    /* the fields both have, joined; open since b is missing from one */
    const struct pc_ty *j = pc_ty_join(&arena, o1, o2);
    ck_assert_str_eq(text(j), "{a: number, ...}");
    ck_assert(j->open);
    ck_assert_ptr_eq(pc_ty_field(j, "b"), &pc_ty_any);
    /* the same closed shapes stay closed */
    const struct pc_ty *o3 = pc_ty_object(&arena, n1, t1, 2, false);
    ck_assert(!pc_ty_join(&arena, o1, o3)->open);
}
END_TEST

START_TEST(test_elements_fields)
{
    const struct pc_ty *as = pc_ty_array(&arena, &pc_ty_string);
    ck_assert_ptr_eq(pc_ty_elem(as), &pc_ty_string);
    ck_assert_ptr_eq(pc_ty_elem(&pc_ty_any), &pc_ty_any);
    ck_assert_ptr_eq(pc_ty_elem(&pc_ty_any_array), &pc_ty_any);
    ck_assert_ptr_null(pc_ty_elem(&pc_ty_string));
    ck_assert_ptr_null(pc_ty_elem(&pc_ty_open_object));
    /* nested: array of array of integer */
    const struct pc_ty *aai = pc_ty_array(&arena,
                                          pc_ty_array(&arena, &pc_ty_integer));
    ck_assert_str_eq(text(aai), "array<array<integer>>");
    ck_assert_ptr_eq(pc_ty_elem(pc_ty_elem(aai)), &pc_ty_integer);

    const char *n[] = {"name"};
    const struct pc_ty *t[] = {&pc_ty_string};
    const struct pc_ty *closed = pc_ty_object(&arena, n, t, 1, false);
    const struct pc_ty *open = pc_ty_object(&arena, n, t, 1, true);
    ck_assert_ptr_eq(pc_ty_field(closed, "name"), &pc_ty_string);
    ck_assert_ptr_null(pc_ty_field(closed, "size"));
    ck_assert_ptr_eq(pc_ty_field(open, "size"), &pc_ty_any);
    ck_assert_ptr_eq(pc_ty_field(&pc_ty_any, "x"), &pc_ty_any);
    ck_assert_ptr_null(pc_ty_field(&pc_ty_string, "length"));
    ck_assert_ptr_null(pc_ty_field(as, "first"));
    ck_assert_str_eq(text(open), "{name: string, ...}");
    ck_assert_str_eq(text(&pc_ty_open_object), "object");
}
END_TEST

START_TEST(test_narrow)
{
    const char *abc[] = {"a", "b", "c"};
    const struct pc_ty *e = pc_ty_enum(&arena, abc, 3);
    const char *bd[] = {"b", "d"};
    const struct pc_ty *n = pc_ty_narrow(&arena, e, bd, 2);
    ck_assert_str_eq(text(n), "'b'");
    ck_assert(pc_ty_enum_allows(n, "b"));
    ck_assert(!pc_ty_enum_allows(n, "a"));
    /* a plain string narrows to the values */
    ck_assert_str_eq(text(pc_ty_narrow(&arena, &pc_ty_string, bd, 2)),
                     "'b' | 'd'");
    /* an empty intersection holds no value at all */
    const char *z[] = {"z"};
    const struct pc_ty *none = pc_ty_narrow(&arena, e, z, 1);
    ck_assert_uint_eq(none->nenum, 0);
    ck_assert(!pc_ty_enum_allows(none, "a"));
    /* not a string: unchanged */
    ck_assert_ptr_eq(pc_ty_narrow(&arena, &pc_ty_integer, bd, 2),
                     &pc_ty_integer);
    ck_assert(pc_ty_enum_allows(&pc_ty_string, "anything"));
}
END_TEST

START_TEST(test_assignable)
{
    ck_assert(pc_ty_assignable(&pc_ty_integer, &pc_ty_number));
    ck_assert(!pc_ty_assignable(&pc_ty_number, &pc_ty_integer));
    ck_assert(!pc_ty_assignable(&pc_ty_string, &pc_ty_integer));
    ck_assert(pc_ty_assignable(&pc_ty_any, &pc_ty_integer));
    ck_assert(pc_ty_assignable(&pc_ty_boolean, &pc_ty_any));
    const struct pc_ty *ab = enum2("a", "b"), *a = enum2("a", NULL);
    ck_assert(pc_ty_assignable(a, ab));
    ck_assert(!pc_ty_assignable(ab, a));
    ck_assert(pc_ty_assignable(&pc_ty_string, ab)); /* decided at run time */
    ck_assert(pc_ty_assignable(pc_ty_array(&arena, &pc_ty_integer),
                               pc_ty_array(&arena, &pc_ty_number)));
    ck_assert(!pc_ty_assignable(pc_ty_array(&arena, &pc_ty_string),
                                pc_ty_array(&arena, &pc_ty_number)));
    ck_assert(!pc_ty_assignable(&pc_ty_string, &pc_ty_any_array));
}
END_TEST

START_TEST(test_from_schema)
{
    const struct pc_ty *t = schema(
        "{\"type\":\"object\",\"properties\":{"
        "\"verdict\":{\"type\":\"string\",\"enum\":[\"approve\",\"reject\"]},"
        "\"score\":{\"type\":\"number\"},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
        "\"n\":{\"type\":[\"integer\",\"null\"]}},"
        "\"additionalProperties\":false}");
    ck_assert_str_eq(text(t), "{verdict: 'approve' | 'reject', score: number, "
                              "tags: array<string>, n: integer}");
    ck_assert(!t->open);
    ck_assert_str_eq(text(schema("{\"anyOf\":[{\"type\":\"integer\"},"
                                 "{\"type\":\"number\"}]}")),
                     "number");
    ck_assert_str_eq(text(schema("{\"const\":\"x\"}")), "'x'");
    ck_assert_str_eq(text(schema("{\"enum\":[1,2]}")), "any");
    ck_assert_str_eq(text(schema("{\"type\":\"integer\",\"enum\":[1,2]}")),
                     "integer");
    ck_assert_str_eq(text(schema("{\"type\":\"array\"}")), "array<any>");
    ck_assert_str_eq(text(schema("{\"properties\":{\"a\":{}}}")),
                     "{a: any, ...}");
    ck_assert_str_eq(text(schema("{\"type\":\"wat\"}")), "any");
    ck_assert_str_eq(text(schema("{}")), "any");
    ck_assert_str_eq(text(schema("[1]")), "any");
    ck_assert_ptr_eq(pc_ty_from_name("list"), &pc_ty_any_array);
    ck_assert_ptr_eq(pc_ty_from_name("integer"), &pc_ty_integer);
    ck_assert_ptr_null(pc_ty_from_name("intger"));
}
END_TEST

START_TEST(test_deep_and_short)
{
    /* a schema nested deeper than the lattice follows ends in any */
    char json[4096] = "";
    for (int i = 0; i < 60; i++)
        strcat(json, "{\"type\":\"array\",\"items\":");
    strcat(json, "{\"type\":\"string\"}");
    for (int i = 0; i < 60; i++)
        strcat(json, "}");
    const struct pc_ty *t = schema(json);
    char small[8];
    int n = pc_ty_print(t, small, sizeof small);
    ck_assert_int_gt(n, (int)sizeof small);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_int_eq(pc_ty_print(&pc_ty_null, NULL, 0), 4);
}
END_TEST

static Suite *types_suite(void)
{
    Suite *s = suite_create("types");
    TCase *tc = tcase_create("lattice");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_join_primitives);
    tcase_add_test(tc, test_join_enums);
    tcase_add_test(tc, test_join_arrays_objects);
    tcase_add_test(tc, test_elements_fields);
    tcase_add_test(tc, test_narrow);
    tcase_add_test(tc, test_assignable);
    tcase_add_test(tc, test_from_schema);
    tcase_add_test(tc, test_deep_and_short);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(types_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
