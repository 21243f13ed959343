/*
 * lincheck.c
 *	  A linearizability checker for histories of registers (read, write,
 *	  compare-and-set), one register per key.
 *
 *	  lincheck [-b STEPS] [-m ENTRIES] [-q] HISTORY
 *
 * This file: the command line and the check of each key; the history is
 * read by lincheck_history.c, searched by lincheck_search.c, reported by
 * lincheck_report.c.
 *
 * The algorithm is Wing and Gong's search for a linearization with Lowe's
 * memoisation (the family of Knossos and Porcupine; written here from the
 * papers).  Registers are independent, so the history is split per key
 * (P-compositionality) and every key is checked alone.
 *
 * History format: one operation per line, fields separated by blanks; a
 * line starting with '#' and an empty line are ignored:
 *
 *	 CLIENT OP KEY ARG ARG2 INVOKE_NS COMPLETE_NS OUTCOME RESULT [anything]
 *
 *	 OP       r (read), w (write ARG), c (compare-and-set: ARG expected,
 *	          ARG2 new)
 *	 ARG/ARG2 a signed 64-bit value, or "-" where the op has none
 *	 times    nanoseconds on one monotonic clock; COMPLETE_NS may be "-"
 *	          for an indeterminate operation
 *	 OUTCOME  ok   (completed: RESULT is what it returned)
 *	          fail (did certainly not take effect: dropped)
 *	          info (indeterminate: may have taken effect at any time after
 *	               its invocation, or never)
 *	 RESULT   for r ok: the value read, or "nil" (no value yet); for c ok:
 *	          1 (swapped) or 0 (the register did not hold ARG); else "-"
 *
 * Every register starts as nil.  An indeterminate read constrains nothing
 * and is dropped; an indeterminate write or compare-and-set gets an
 * infinite completion time, so that the search may place it anywhere after
 * its invocation, or after everything else (never took effect).
 *
 * Output: one line per key, "key K: N ops, linearizable" (or "NOT
 * linearizable" with an explanation, or "unknown" when the search ran out
 * of its budget), the count of definitely stale reads per key (a read, or a
 * successful compare-and-set, that observed a value overwritten by a write
 * acknowledged before it began), and a final line
 *
 *	 lincheck: keys K ops N linearizable A violations B unknown C stale_reads S
 *	           unwritten_reads U failed_dropped F info_reads_dropped I
 *
 * (U: completed reads of a value no operation of the history wrote.)
 *
 * Exit status: 0 all keys linearizable, 1 a violation, 2 unknown (no
 * violation), 3 bad input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lincheck.h"

static bool quiet = false;

/* Whether v is in seen[] (values some op compares with), sorted. */
static bool
observed(const int64_t *seen, int nseen, int64_t v)
{
	return bsearch(&v, seen, nseen, sizeof(int64_t), cmp_i64) != NULL;
}

/* Check one key; prints its verdict line; returns the verdict. */
static enum verdict
check_key(Op **kops, int n, int *stale_out, int *unwritten)
{
	Op		  **reduced = xrealloc(NULL, sizeof(Op *) * (size_t) (n + 1));
	Op		  **searched;
	int64_t    *seen = xrealloc(NULL, sizeof(int64_t) * (size_t) (n + 1));
	int			nseen = 0,
				nreduced = 0,
				ninfo = 0;
	Furthest	far;
	long		steps = 0,
				steps2 = 0;
	enum verdict v;

	/* Values nobody compares with all behave alike: one abstract value. */
	for (int i = 0; i < n; i++)
	{
		const Op   *op = kops[i];

		if (op->kind == OP_READ)
			seen[nseen++] = op->result;
		else if (op->kind == OP_CAS)
			seen[nseen++] = op->arg;
	}
	qsort(seen, nseen, sizeof(int64_t), cmp_i64);
	*stale_out = count_stale(kops, n, false, unwritten);
	for (int i = 0; i < n; i++)
	{
		Op		   *op = kops[i];

		if (op->kind == OP_WRITE && !observed(seen, nseen, op->arg))
			op->arg = UNSEEN;
		if (op->kind == OP_CAS && !observed(seen, nseen, op->arg2))
			op->arg2 = UNSEEN;
	}

	/*
	 * First without the indeterminate ops whose value nobody observed: any
	 * indeterminate op may never have taken effect, so a linearization
	 * without them is one of the whole history; they only multiply the
	 * search.  If that finds none, search with them.
	 */
	for (int i = 0; i < n; i++)
	{
		const Op   *op = kops[i];
		int64_t		w = op->kind == OP_WRITE ? op->arg : op->arg2;

		if (op->outcome == OUT_INFO && op->kind != OP_READ && w == UNSEEN)
			continue;
		reduced[nreduced++] = kops[i];
	}
	searched = reduced;
	v = search(reduced, nreduced, &far, &steps);
	if (v != LINEARIZABLE && nreduced < n)
	{
		searched = kops;
		v = search(kops, n, &far, &steps2);
		steps += steps2;
	}

	for (int i = 0; i < n; i++)
		ninfo += kops[i]->outcome == OUT_INFO;
	printf("key %s: %d ops (%d indeterminate), %s, %d stale reads, "
		   "%d reads of unwritten values, %ld search steps\n",
		   keys[kops[0]->key], n, ninfo,
		   v == LINEARIZABLE ? "linearizable" :
		   v == VIOLATION ? "NOT linearizable" : "unknown (search budget exhausted)",
		   *stale_out, *unwritten, steps);
	if (!quiet && *stale_out + *unwritten > 0)
		count_stale(kops, n, true, unwritten);
	if (v == VIOLATION && far.depth >= 0)
		explain(searched, &far);
	free(reduced);
	free(seen);
	return v;
}

/* Orders ops by key, then as in the history. */
static int
key_cmp(const void *a, const void *b)
{
	const Op   *x = *(const Op *const *) a;
	const Op   *y = *(const Op *const *) b;

	if (x->key != y->key)
		return x->key - y->key;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	Op		  **byk;
	FILE	   *in;
	int			c;
	long		total = 0;
	int			nlin = 0,
				nviol = 0,
				nunknown = 0,
				stale_total = 0,
				unwritten_total = 0;

	while ((c = getopt(argc, argv, "b:m:q")) != -1)
	{
		switch (c)
		{
			case 'b':
				budget_steps = atol(optarg);
				break;
			case 'm':
				max_memo = atol(optarg);
				break;
			case 'q':
				quiet = true;
				break;
			default:
				fprintf(stderr, "usage: lincheck [-b STEPS] [-m ENTRIES] [-q] HISTORY\n");
				return 3;
		}
	}
	if (optind != argc - 1 || budget_steps <= 0 || max_memo <= 0)
	{
		fprintf(stderr, "usage: lincheck [-b STEPS] [-m ENTRIES] [-q] HISTORY\n");
		return 3;
	}
	in = strcmp(argv[optind], "-") == 0 ? stdin : fopen(argv[optind], "r");
	if (in == NULL)
	{
		fprintf(stderr, "lincheck: cannot open %s: %s\n", argv[optind], strerror(errno));
		return 3;
	}
	read_history(in);
	byk = xrealloc(NULL, sizeof(Op *) * (size_t) (nops + 1));
	for (long i = 0; i < nops; i++)
		byk[i] = &ops[i];
	qsort(byk, nops, sizeof(Op *), key_cmp);
	for (long from = 0, to; from < nops; from = to)
	{
		int			stale,
					unwritten,
					n;
		enum verdict v;

		for (to = from; to < nops && byk[to]->key == byk[from]->key; to++)
			;
		n = (int) (to - from);
		v = check_key(byk + from, n, &stale, &unwritten);
		total += n;
		stale_total += stale;
		unwritten_total += unwritten;
		if (v == LINEARIZABLE)
			nlin++;
		else if (v == VIOLATION)
			nviol++;
		else
			nunknown++;
	}
	printf("lincheck: keys %d ops %ld linearizable %d violations %d unknown %d "
		   "stale_reads %d unwritten_reads %d failed_dropped %ld info_reads_dropped %ld\n",
		   nkeys, total, nlin, nviol, nunknown, stale_total, unwritten_total,
		   nfailed, ninfo_reads);
	free(byk);
	return nviol ? 1 : nunknown ? 2 : 0;
}
