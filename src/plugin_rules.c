/*
 * plugin_rules.c -- the rules every host applies to what a strategy hands
 * it: reading the instance's configuration by key, and checking a
 * proposal.  The daemon's loader (plugin.c) and the installed mock host
 * (libmeshtune-mockhost) both build this file, so a strategy meets one set
 * of rules in its unit tests and in production.  Pure: no I/O, no
 * logging, nothing of the daemon but cJSON.
 */
#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "meshtune/strategy.h"
#include "meshtuned.h"

#define KNOB_MAX_LEN	200	/* like series names */
#define REASON_MAX_LEN	1024
#define EVIDENCE_MAX_LEN 8192

/* Walk a '/'-separated key through nested objects. */
static const cJSON *
config_lookup(const cJSON *root, const char *key)
{
	const cJSON	*node = root;
	const char	*p, *slash;
	char		 seg[128];
	size_t		 len;

	if (root == NULL || key == NULL || *key == '\0')
		return NULL;
	for (p = key; node != NULL; p = slash + 1) {
		if (!cJSON_IsObject(node))
			return NULL;
		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || len >= sizeof(seg))
			return NULL;
		memcpy(seg, p, len);
		seg[len] = '\0';
		node = cJSON_GetObjectItemCaseSensitive(node, seg);
		if (slash == NULL)
			return node;
	}
	return NULL;
}

/*
 * Read key ("a" or "a/b" for nested objects) of a parsed configuration
 * as a number (booleans are 1 and 0).  Returns MT_OK, MT_ENOENT if
 * absent, MT_EINVAL if of another type or not finite.
 */
int
plugin_config_number(const struct cJSON *root, const char *key, double *out)
{
	const cJSON	*v;

	if ((v = config_lookup(root, key)) == NULL)
		return MT_ENOENT;
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v) ? 1.0 : 0.0;
		return MT_OK;
	}
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return MT_EINVAL;
	*out = v->valuedouble;
	return MT_OK;
}

/*
 * Copy the string at key into buf (len bytes, NUL-terminated).  Returns
 * MT_OK, MT_ENOENT if absent, MT_EINVAL if not a string or too long.
 */
int
plugin_config_string(const struct cJSON *root, const char *key, char *buf,
    size_t len)
{
	const cJSON	*v;
	size_t		 n;

	if ((v = config_lookup(root, key)) == NULL)
		return MT_ENOENT;
	if (!cJSON_IsString(v) || buf == NULL ||
	    (n = strlen(v->valuestring)) >= len)
		return MT_EINVAL;
	memcpy(buf, v->valuestring, n + 1);
	return MT_OK;
}

static int
text_ok(const char *s, size_t max)
{
	size_t	n;

	if (s == NULL || *s == '\0')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= max || (unsigned char)s[n] < 0x20)
			return 0;
	return 1;
}

/*
 * Why a full-size action is malformed (a sentence), or NULL if the host
 * accepts it.  Shared with the test mock host so both enforce one rule.
 */
const char *
plugin_action_check(const struct mt_action *a)
{
	cJSON	*ev;
	int	 obj;

	if (a->kind != MT_ACT_SET && a->kind != MT_ACT_TRIGGER)
		return "kind is neither MT_ACT_SET nor MT_ACT_TRIGGER";
	if (!text_ok(a->knob, KNOB_MAX_LEN))
		return "knob missing or not a printable name";
	if (!isfinite(a->value))
		return "value is not finite";
	if (!text_ok(a->reason, REASON_MAX_LEN))
		return "reason missing, too long or not printable";
	if (a->expect_dir < -1 || a->expect_dir > 1)
		return "expect_dir is not -1, 0 or +1";
	if (a->expect_metric != NULL &&
	    (!text_ok(a->expect_metric, KNOB_MAX_LEN) ||
	    !text_ok(a->expect_stat, 16)))
		return "expect_metric without a valid expect_stat";
	if (a->evidence != NULL) {
		if (strnlen(a->evidence, EVIDENCE_MAX_LEN + 1) >
		    EVIDENCE_MAX_LEN)
			return "evidence too long";
		ev = cJSON_Parse(a->evidence);
		obj = ev != NULL && cJSON_IsObject(ev);
		cJSON_Delete(ev);
		if (!obj)
			return "evidence is not a JSON object";
	}
	return NULL;
}
