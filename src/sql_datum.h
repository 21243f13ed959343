/*
 * sql_datum.h
 *	  Column values the SQL functions (sql_cluster.c, sql_status.c) build
 *	  alike (sql_datum.c).
 */
#ifndef RAFT_SQL_DATUM_H
#define RAFT_SQL_DATUM_H

/* An interval Datum of ms milliseconds. */
extern Datum raft_interval_datum(int64 ms);
/* A text Datum of 'value', or SQL NULL (*isnull set) when it is NULL. */
extern void raft_text_or_null(const char *value, Datum *datum, bool *isnull);

#endif							/* RAFT_SQL_DATUM_H */
