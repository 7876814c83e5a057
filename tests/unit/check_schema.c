/* check_schema.c -- runtime/schema.c: the JSON Schema subset a model's
 * structured reply is checked against, each keyword and the place a
 * failure names.
 */
#include <check.h>
#include <stdlib.h>

#include "schema.h"

/* Checks the JSON text VALUE against the JSON text SCHEMA; ERR gets the
 * reason ("" when it conforms). */
static bool check(const char *value, const char *schema, char *err, size_t cap)
{
    cJSON *v = cJSON_Parse(value), *s = cJSON_Parse(schema);
    ck_assert_msg(v != NULL, "bad test value %s", value);
    ck_assert_msg(s != NULL, "bad test schema %s", schema);
    bool ok = pr_schema_check(v, s, err, cap);
    cJSON_Delete(v);
    cJSON_Delete(s);
    return ok;
}

#define OK(v, s)                                                              \
    do {                                                                      \
        char e_[300];                                                         \
        ck_assert_msg(check(v, s, e_, sizeof e_), "%s against %s: %s", v, s,  \
                      e_);                                                    \
        ck_assert_str_eq(e_, "");                                             \
    } while (0)
#define BAD(v, s, why)                                                        \
    do {                                                                      \
        char e_[300];                                                         \
        ck_assert_msg(!check(v, s, e_, sizeof e_), "%s against %s", v, s);    \
        ck_assert_str_eq(e_, why);                                            \
    } while (0)

START_TEST(test_types)
{
    OK("{}", "{\"type\":\"object\"}");
    OK("[1]", "{\"type\":\"array\"}");
    OK("\"x\"", "{\"type\":\"string\"}");
    OK("true", "{\"type\":\"boolean\"}");
    OK("null", "{\"type\":\"null\"}");
    OK("1.5", "{\"type\":\"number\"}");
    OK("3", "{\"type\":\"integer\"}");
    OK("3.0", "{\"type\":\"integer\"}");
    BAD("3.5", "{\"type\":\"integer\"}", "$: expected integer, got number");
    BAD("\"3\"", "{\"type\":\"number\"}", "$: expected number, got string");
    BAD("[]", "{\"type\":\"object\"}", "$: expected object, got list");
    BAD("0", "{\"type\":\"boolean\"}", "$: expected boolean, got number");
    /* an unknown type name, or a list of names, is not read */
    OK("1", "{\"type\":\"thing\"}");
    OK("1", "{\"type\":[\"string\"]}");
}
END_TEST

START_TEST(test_enum_required)
{
    OK("\"b\"", "{\"enum\":[\"a\",\"b\"]}");
    OK("{\"k\":[1,2]}", "{\"enum\":[{\"k\":[1,2]}]}");
    BAD("\"c\"", "{\"enum\":[\"a\",\"b\"]}", "$: not one of the enum values");
    OK("{\"a\":1,\"b\":2}", "{\"required\":[\"a\",\"b\"]}");
    BAD("{\"a\":1}", "{\"required\":[\"a\",\"b\"]}",
        "$: missing required field 'b'");
    /* required applies to objects only, and names are case sensitive */
    OK("[1]", "{\"required\":[\"a\"]}");
    BAD("{\"A\":1}", "{\"required\":[\"a\"]}",
        "$: missing required field 'a'");
}
END_TEST

START_TEST(test_nested_paths)
{
    static const char schema[] =
        "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\","
        "\"items\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":"
        "\"string\"}},\"required\":[\"n\"]}}}}";
    OK("{\"items\":[{\"n\":\"a\"},{\"n\":\"b\"}]}", schema);
    OK("{}", schema); /* properties do not make members required */
    BAD("{\"items\":[{\"n\":\"a\"},{\"n\":2}]}", schema,
        "$.items[1].n: expected string, got number");
    BAD("{\"items\":[{}]}", schema, "$.items[0]: missing required field 'n'");
    BAD("{\"items\":{}}", schema, "$.items: expected array, got object");
}
END_TEST

START_TEST(test_not_a_schema)
{
    char err[64];
    OK("1", "true");
    OK("1", "[]");
    /* a schema nested past the limit is not followed */
    char v[1024] = "", s[4096] = "";
    size_t vl = 0, sl = 0;
    for (int i = 0; i < 70; i++) {
        vl += (size_t)snprintf(v + vl, sizeof v - vl, "[");
        sl += (size_t)snprintf(s + sl, sizeof s - sl, "{\"items\":");
    }
    vl += (size_t)snprintf(v + vl, sizeof v - vl, "1");
    sl += (size_t)snprintf(s + sl, sizeof s - sl, "{\"type\":\"string\"}");
    for (int i = 0; i < 70; i++) {
        vl += (size_t)snprintf(v + vl, sizeof v - vl, "]");
        sl += (size_t)snprintf(s + sl, sizeof s - sl, "}");
    }
    ck_assert(check(v, s, err, sizeof err));
    /* a small buffer is cut, never overrun */
    char tiny[8];
    ck_assert(
        !check("{}", "{\"required\":[\"long-name\"]}", tiny, sizeof tiny));
    ck_assert_str_eq(tiny, "$: miss");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_enum_required);
    tcase_add_test(tc, test_nested_paths);
    tcase_add_test(tc, test_not_a_schema);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
