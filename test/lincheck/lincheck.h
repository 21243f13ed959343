/*
 * lincheck.h
 *	  The linearizability checker's operations, its search and its reports
 *	  (lincheck.c has the history format and the command line).
 */
#ifndef LINCHECK_H
#define LINCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define NIL INT64_MIN			/* the register holds no value yet */
#define UNSEEN (INT64_MIN + 1)	/* a value no operation ever compares with */
#define NONE (INT64_MIN + 2)	/* "-": the field has no value */
#define FOREVER INT64_MAX		/* completion of an indeterminate op */

enum op_kind { OP_READ, OP_WRITE, OP_CAS };
enum outcome { OUT_OK, OUT_FAIL, OUT_INFO };

/* One operation of the history. */
typedef struct Op
{
	int			client;			/* index into clients[] */
	int			key;			/* index into keys[] */
	enum op_kind kind;
	enum outcome outcome;
	int64_t		arg;			/* written value, or CAS expected */
	int64_t		arg2;			/* CAS new value */
	int64_t		result;			/* read value, or CAS 1/0 */
	int64_t		shown_arg;		/* arg and arg2 as the history spelled */
	int64_t		shown_arg2;		/* them (the search may abstract them) */
	int64_t		invoke;
	int64_t		complete;		/* FOREVER when indeterminate */
	long		line;			/* line number in the history file */
	char	   *note;			/* the line's fields after RESULT, or NULL */
} Op;

/* What a failed search reached furthest: for the explanation. */
#define EXPLAIN_TAIL 6
#define EXPLAIN_PENDING 12
typedef struct Furthest
{
	int			depth;			/* ok ops linearized */
	int			stuck;			/* op whose return was reached */
	int64_t		state;
	int			ntail;
	int			tail[EXPLAIN_TAIL]; /* last ops linearized, oldest first */
	int64_t		tail_state[EXPLAIN_TAIL];	/* state after each */
	int			npending;
	int			pending[EXPLAIN_PENDING];	/* calls open at that point */
} Furthest;

enum verdict { LINEARIZABLE, VIOLATION, UNKNOWN };

/* The history (lincheck_history.c). */
extern char **clients;
extern int	nclients;
extern char **keys;
extern int	nkeys;
extern Op  *ops;
extern long nops;
extern long nfailed;
extern long ninfo_reads;
extern int64_t time_origin;

/* The search's limits (lincheck_search.c). */
extern long budget_steps;
extern long max_memo;

extern void *xrealloc(void *p, size_t n);
extern void read_history(FILE *in);
extern enum verdict search(Op **kops, int n, Furthest *far, long *steps_out);
extern int	cmp_i64(const void *a, const void *b);
extern void print_value(FILE *out, int64_t v);
extern void print_op(FILE *out, const Op *op);
extern void explain(Op **kops, const Furthest *far);
extern int	count_stale(Op **kops, int n, bool show, int *unwritten);

#endif							/* LINCHECK_H */
