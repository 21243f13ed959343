/*
 * lincheck_report.c
 *	  What lincheck prints besides its verdicts: operations and values as
 *	  the history spells them, the explanation of a key with no
 *	  linearization, and the definitely stale reads.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"

/* Print a value as the history spells it. */
void
print_value(FILE *out, int64_t v)
{
	if (v == NIL)
		fputs("nil", out);
	else if (v == UNSEEN)
		fputs("(a value nobody read)", out);
	else
		fprintf(out, "%" PRId64, v);
}

/* Print one op for the explanation: client, op, times (s from start). */
void
print_op(FILE *out, const Op *op)
{
	fprintf(out, "%s ", clients[op->client]);
	switch (op->kind)
	{
		case OP_READ:
			fputs("read -> ", out);
			print_value(out, op->result);
			break;
		case OP_WRITE:
			fputs("write ", out);
			print_value(out, op->shown_arg);
			break;
		case OP_CAS:
			fputs("cas ", out);
			print_value(out, op->shown_arg);
			fputs(" -> ", out);
			print_value(out, op->shown_arg2);
			if (op->outcome == OUT_OK)
				fputs(op->result ? " (swapped)" : " (not swapped)", out);
			break;
	}
	fprintf(out, " [%.3f s, ", (double) (op->invoke - time_origin) / 1e9);
	if (op->complete == FOREVER)
		fputs("indeterminate]", out);
	else
		fprintf(out, "%.3f s]", (double) (op->complete - time_origin) / 1e9);
	fprintf(out, " (line %ld%s%s)\n", op->line, op->note ? ": " : "",
			op->note ? op->note : "");
}

/*
 * A state after op: an abstract value nobody read is shown as the value op
 * wrote, when op wrote it.
 */
static void
print_state(const Op *op, int64_t state)
{
	if (state == UNSEEN && op && op->kind == OP_WRITE)
		print_value(stdout, op->shown_arg);
	else if (state == UNSEEN && op && op->kind == OP_CAS)
		print_value(stdout, op->shown_arg2);
	else
		print_value(stdout, state);
	if (state == UNSEEN)
		fputs(" (a value nobody read)", stdout);
}

/* The explanation of a key with no linearization. */
void
explain(Op **kops, const Furthest *far)
{
	printf("  the search linearized at most %d completed ops; after these:\n",
		   far->depth);
	for (int i = 0; i < far->ntail; i++)
	{
		printf("    ");
		print_op(stdout, kops[far->tail[i]]);
		printf("      then the register holds ");
		print_state(kops[far->tail[i]], far->tail_state[i]);
		putchar('\n');
	}
	printf("  the register holds ");
	print_state(far->ntail > 0 ? kops[far->tail[far->ntail - 1]] : NULL, far->state);
	printf(", and no order of the ops still open fits this one before it returned:\n    ");
	print_op(stdout, kops[far->stuck]);
	if (far->npending > 0)
	{
		printf("  ops open then (invoked, not linearized):\n");
		for (int i = 0; i < far->npending; i++)
		{
			printf("    ");
			print_op(stdout, kops[far->pending[i]]);
		}
	}
}

/* Orders 64-bit values. */
int
cmp_i64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return x < y ? -1 : x > y;
}

/* A completed write or successful CAS: the value it wrote, else NONE. */
static int64_t
written(const Op *op)
{
	if (op->outcome != OUT_OK)
		return NONE;
	if (op->kind == OP_WRITE)
		return op->arg;
	if (op->kind == OP_CAS && op->result == 1)
		return op->arg2;
	return NONE;
}

/* Orders ops by invocation time. */
static int
invoke_cmp(const void *a, const void *b)
{
	const Op   *x = *(const Op *const *) a;
	const Op   *y = *(const Op *const *) b;

	return x->invoke < y->invoke ? -1 : x->invoke > y->invoke;
}

/* Orders ops by the value they wrote. */
static int
written_cmp(const void *a, const void *b)
{
	int64_t		x = written(*(const Op *const *) a);
	int64_t		y = written(*(const Op *const *) b);

	return x < y ? -1 : x > y;
}

/*
 * Definitely stale observations: a completed read (or successful CAS) of
 * value v that began after a write w' had been acknowledged, where w'
 * began after the write of v had been acknowledged.  Each such read saw a
 * value already overwritten, whatever the order of the concurrent ops.
 * The first few are printed; all are counted.  Values are unique per write
 * in the workloads (a value written twice is looked up by its first
 * writer only).
 */
int
count_stale(Op **kops, int n, bool show, int *unwritten)
{
	int64_t    *any = xrealloc(NULL, sizeof(int64_t) * (size_t) (n + 1));
	int			nany = 0;
	int		   *by_client = xrealloc(NULL, sizeof(int) * (size_t) (nclients + 1));
	Op		  **w = xrealloc(NULL, sizeof(Op *) * (size_t) (n + 1));
	Op		  **byval;
	int64_t    *sufmin;
	int			nw = 0,
				stale = 0;

	memset(by_client, 0, sizeof(int) * (size_t) (nclients + 1));
	*unwritten = 0;
	/* Every value any write or compare-and-set may have written. */
	for (int i = 0; i < n; i++)
		if (kops[i]->kind == OP_WRITE)
			any[nany++] = kops[i]->shown_arg;
		else if (kops[i]->kind == OP_CAS)
			any[nany++] = kops[i]->shown_arg2;
	qsort(any, nany, sizeof(int64_t), cmp_i64);
	for (int i = 0; i < n; i++)
		if (written(kops[i]) != NONE)
			w[nw++] = kops[i];
	byval = xrealloc(NULL, sizeof(Op *) * (size_t) (nw + 1));
	memcpy(byval, w, sizeof(Op *) * (size_t) nw);
	qsort(byval, nw, sizeof(Op *), written_cmp);
	qsort(w, nw, sizeof(Op *), invoke_cmp);
	/* sufmin[i]: the earliest completion among writes w[i..]. */
	sufmin = xrealloc(NULL, sizeof(int64_t) * (size_t) (nw + 1));
	sufmin[nw] = FOREVER;
	for (int i = nw - 1; i >= 0; i--)
		sufmin[i] = w[i]->complete < sufmin[i + 1] ? w[i]->complete : sufmin[i + 1];

	for (int i = 0; i < n; i++)
	{
		const Op   *r = kops[i];
		const Op   *src = NULL;
		int64_t		v;
		int			lo,
					hi;

		if (r->outcome != OUT_OK)
			continue;
		if (r->kind == OP_READ)
			v = r->result;
		else if (r->kind == OP_CAS && r->result == 1)
			v = r->arg;
		else
			continue;
		if (v == NIL)
			continue;
		/* The write of v. */
		for (lo = 0, hi = nw; lo < hi;)
		{
			int			mid = (lo + hi) / 2;

			if (written(byval[mid]) < v)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < nw && written(byval[lo]) == v)
			src = byval[lo];
		if (!src)
		{
			/* A value no operation of the history may have written. */
			if (!bsearch(&v, any, nany, sizeof(int64_t), cmp_i64))
			{
				if (show && *unwritten < 3)
				{
					printf("  read of a value nobody wrote: ");
					print_op(stdout, r);
				}
				by_client[r->client]++;
				(*unwritten)++;
			}
			continue;
		}
		/* The first write invoked after src completed. */
		for (lo = 0, hi = nw; lo < hi;)
		{
			int			mid = (lo + hi) / 2;

			if (w[mid]->invoke <= src->complete)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (sufmin[lo] >= r->invoke)
			continue;
		by_client[r->client]++;
		if (show && stale < 3)
		{
			for (int j = lo; j < nw; j++)
				if (w[j]->complete < r->invoke)
				{
					printf("  stale: ");
					print_op(stdout, r);
					printf("    its value was written by ");
					print_op(stdout, src);
					printf("    and overwritten before it began by ");
					print_op(stdout, w[j]);
					break;
				}
		}
		stale++;
	}
	if (show && stale + *unwritten > 0)
	{
		printf("  stale reads and reads of unwritten values by client:");
		for (int c = 0; c < nclients; c++)
			if (by_client[c] > 0)
				printf(" %s %d", clients[c], by_client[c]);
		putchar('\n');
	}
	free(by_client);
	free(any);
	free(w);
	free(byval);
	free(sufmin);
	return stale;
}
