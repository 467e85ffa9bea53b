/*
 * number.c -- doubles printed so that they read back exactly.
 *
 * Every number meshtune prints for a program to read (JSON of the API,
 * the audit log and the actuators, the Prometheus page, meshtunectl's
 * --json) goes through number_format.  printf's %.15g is not enough:
 * 0.1 + 0.2 needs 17 digits, and DBL_MAX (1.7976931348623157e308) at
 * 15 digits rounds up past the largest double and reads back as
 * infinity.  cJSON tries %.15g and keeps it when it reads back within a
 * relative epsilon, which passes both of these; number_json_print
 * replaces cJSON's numbers with number_format's text before printing.
 */
#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "meshtuned.h"

/*
 * Write v into buf (len bytes) as the shortest decimal text that strtod
 * reads back as v: integers below 1e18 in plain digits (a file actuator
 * writes them to sysctls and cgroup files, which refuse exponents),
 * anything else with 15, 16 or 17 significant digits.  Negative zero is
 * written "0".  Returns the length, or -1 if v is not finite or buf is
 * too small (NUMBER_MAXLEN always fits); buf is then "".
 */
int
number_format(double v, char *buf, size_t len)
{
	int	 n = -1, prec;

	if (len > 0)
		buf[0] = '\0';
	if (!isfinite(v))
		return -1;
	if (v == 0)
		n = snprintf(buf, len, "0");
	else if (v == trunc(v) && fabs(v) < 1e18)
		n = snprintf(buf, len, "%.0f", v);
	else
		for (prec = 15; prec <= 17; prec++) {
			n = snprintf(buf, len, "%.*g", prec, v);
			if (n < 0 || (size_t)n >= len || strtod(buf, NULL) == v)
				break;
		}
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	return n;
}

/* Turn every number under item into raw text: number_format, or null. */
static int
number_json_raw(cJSON *item)
{
	char	 text[NUMBER_MAXLEN], *copy;
	size_t	 n;

	for (; item != NULL; item = item->next) {
		if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
			if (number_json_raw(item->child) == -1)
				return -1;
			continue;
		}
		if (!cJSON_IsNumber(item))
			continue;
		if (number_format(item->valuedouble, text, sizeof(text)) == -1)
			snprintf(text, sizeof(text), "null");
		n = strlen(text) + 1;
		if ((copy = cJSON_malloc(n)) == NULL)
			return -1;
		memcpy(copy, text, n);
		/* Keep the flag that says whether item owns its name. */
		item->type = cJSON_Raw | (item->type & cJSON_StringIsConst);
		item->valuestring = copy;
	}
	return 0;
}

/*
 * cJSON_PrintUnformatted(doc), with every number printed by
 * number_format (NaN and infinities as null, as cJSON does).  The
 * numbers of doc become raw text on the way: print doc, then delete it.
 * Returns the text, which the caller frees with free(); fatal if out of
 * memory.
 */
char *
number_json_print(cJSON *doc)
{
	char	*text;

	if (number_json_raw(doc) == -1 ||
	    (text = cJSON_PrintUnformatted(doc)) == NULL)
		fatalx("%s: out of memory", __func__);
	return text;
}
