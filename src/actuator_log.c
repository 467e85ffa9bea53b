/*
 * actuator_log.c -- the "log" backend: applies nothing.  A set is logged
 * and remembered; a get returns the last value set through this actuator,
 * else the knob's configured initial value, else fails.  Used for dry runs
 * and tests.
 */
#include <sys/types.h>

#include <math.h>
#include <stdlib.h>

#include "meshtuned.h"

static int
actuator_log_configure(struct actuator *a, const struct mt_actuator_conf *c,
    char *err, size_t errlen)
{
	return 0;
}

static void
actuator_log_get(struct actuator_op *op)
{
	struct actuator	*a = actuator_op_actuator(op);
	double		 v;

	if (actuator_memo_get(a, actuator_op_knob(op), &v) == 0)
		actuator_op_done(op, v, 0);
	else if (!isnan(actuator_op_initial(op)))
		actuator_op_done(op, actuator_op_initial(op), 0);
	else
		actuator_op_fail(op, "no value known: nothing set yet and no "
		    "\"initial\" configured");
}

static void
actuator_log_set(struct actuator_op *op)
{
	char	 buf[64];

	if (actuator_format_value(actuator_op_value(op), buf,
	    sizeof(buf)) == -1) {
		actuator_op_fail(op, "cannot format value %g",
		    actuator_op_value(op));
		return;
	}
	log_info("actuator %s: %s = %s (log only, nothing applied)",
	    actuator_name(actuator_op_actuator(op)), actuator_op_knob(op), buf);
	actuator_op_done(op, actuator_op_value(op), 0);
}

const struct actuator_backend actuator_backend_log = {
	.name = "log",
	.configure = actuator_log_configure,
	.get = actuator_log_get,
	.set = actuator_log_set,
	.release = NULL,
	.free = NULL,
};
