/*
 * test_number.c -- number_format reads back exactly and shortest, for
 * the edges (DBL_MAX, the smallest subnormal, 0.1 + 0.2) and a million
 * random bit patterns; number_json_print does the same inside cJSON
 * documents, where cJSON's own printing turns DBL_MAX into infinity.
 */
#include <sys/types.h>

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "meshtuned.h"

/* number_format(v) reads back as v (bit for bit, but for -0). */
static void
roundtrip(double v)
{
	char	 buf[NUMBER_MAXLEN], *end;
	double	 back;
	int	 n;

	n = number_format(v, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	back = strtod(buf, &end);
	assert_true(*end == '\0');
	if (back != v || (v != 0 && memcmp(&back, &v, sizeof(v)) != 0))
		fail_msg("%.17g printed as %s reads back as %.17g", v, buf,
		    back);
}

static void
test_edges(void **state)
{
	char	buf[NUMBER_MAXLEN];

	(void)state;
	assert_int_equal(number_format(DBL_MAX, buf, sizeof(buf)), 23);
	assert_string_equal(buf, "1.7976931348623157e+308");
	roundtrip(DBL_MAX);
	roundtrip(-DBL_MAX);
	roundtrip(DBL_MIN);
	roundtrip(4.9406564584124654e-324);	/* smallest subnormal */
	roundtrip(0.1 + 0.2);
	number_format(0.1 + 0.2, buf, sizeof(buf));
	assert_string_equal(buf, "0.30000000000000004");
	/* Shortest: what reads back with 15 digits keeps 15. */
	number_format(0.1, buf, sizeof(buf));
	assert_string_equal(buf, "0.1");
	number_format(1.5e300, buf, sizeof(buf));
	assert_string_equal(buf, "1.5e+300");
	/* Integers below 1e18 in plain digits (sysctls take no exponent). */
	number_format(16, buf, sizeof(buf));
	assert_string_equal(buf, "16");
	number_format(9007199254740993.0, buf, sizeof(buf));
	assert_string_equal(buf, "9007199254740992");
	number_format(-123456789012345678.0, buf, sizeof(buf));
	assert_string_equal(buf, "-123456789012345680");
	number_format(1e18, buf, sizeof(buf));
	assert_string_equal(buf, "1e+18");
	number_format(-0.0, buf, sizeof(buf));
	assert_string_equal(buf, "0");
	/* Not numbers, or no room: -1 and "". */
	assert_int_equal(number_format(NAN, buf, sizeof(buf)), -1);
	assert_string_equal(buf, "");
	assert_int_equal(number_format(INFINITY, buf, sizeof(buf)), -1);
	assert_int_equal(number_format(-INFINITY, buf, sizeof(buf)), -1);
	assert_int_equal(number_format(DBL_MAX, buf, 23), -1);
	assert_string_equal(buf, "");
	assert_int_equal(number_format(DBL_MAX, buf, 24), 23);
}

/* Random doubles of every exponent: each reads back, none is longer. */
static void
test_random(void **state)
{
	union { uint64_t u; double d; } x;
	uint64_t	 s = 0x9e3779b97f4a7c15ULL;
	char		 buf[NUMBER_MAXLEN];
	int		 i;

	(void)state;
	for (i = 0; i < 1000000; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		x.u = s;
		if (!isfinite(x.d))
			continue;
		roundtrip(x.d);
		assert_true(number_format(x.d, buf, sizeof(buf)) <= 24);
	}
}

static void
test_json(void **state)
{
	cJSON	*doc, *back, *arr;
	char	*text, *plain;

	(void)state;
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "max", DBL_MAX);
	cJSON_AddNumberToObject(doc, "sum", 0.1 + 0.2);
	cJSON_AddNumberToObject(doc, "nan", NAN);
	cJSON_AddNumberToObject(doc, "count", 42);
	cJSON_AddStringToObject(doc, "name", "net.rtt_ms");
	arr = cJSON_AddArrayToObject(doc, "values");
	cJSON_AddItemToArray(arr, cJSON_CreateNumber(-DBL_MAX));
	cJSON_AddItemToArray(arr, cJSON_CreateNumber(1e-300));

	/* What cJSON itself makes of them: DBL_MAX reads back as inf. */
	plain = cJSON_PrintUnformatted(doc);
	back = cJSON_Parse(plain);
	assert_true(isinf(cJSON_GetObjectItem(back, "max")->valuedouble));
	cJSON_Delete(back);
	free(plain);

	text = number_json_print(doc);
	assert_string_equal(text, "{\"max\":1.7976931348623157e+308,"
	    "\"sum\":0.30000000000000004,\"nan\":null,\"count\":42,"
	    "\"name\":\"net.rtt_ms\",\"values\":[-1.7976931348623157e+308,"
	    "1e-300]}");
	back = cJSON_Parse(text);
	assert_true(cJSON_GetObjectItem(back, "max")->valuedouble == DBL_MAX);
	assert_true(cJSON_GetObjectItem(back, "sum")->valuedouble ==
	    0.1 + 0.2);
	cJSON_Delete(back);
	free(text);
	cJSON_Delete(doc);

	/* A bare number, and a document without numbers. */
	doc = cJSON_CreateNumber(DBL_MAX);
	text = number_json_print(doc);
	assert_string_equal(text, "1.7976931348623157e+308");
	free(text);
	cJSON_Delete(doc);
	doc = cJSON_CreateArray();
	text = number_json_print(doc);
	assert_string_equal(text, "[]");
	free(text);
	cJSON_Delete(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
