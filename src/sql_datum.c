/*
 * sql_datum.c
 *	  Column values the SQL functions build alike (see sql_datum.h).
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "sql_datum.h"

/* See sql_datum.h. */
Datum
raft_interval_datum(int64 ms)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = ms * INT64CONST(1000);
	return IntervalPGetDatum(iv);
}

/* See sql_datum.h. */
void
raft_text_or_null(const char *value, Datum *datum, bool *isnull)
{
	if (value)
		*datum = CStringGetTextDatum(value);
	else
		*isnull = true;
}
