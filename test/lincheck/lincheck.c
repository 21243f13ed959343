/*
 * lincheck.c
 *	  A linearizability checker for histories of registers (read, write,
 *	  compare-and-set), one register per key.
 *
 *	  lincheck [-b STEPS] [-m ENTRIES] [-q] HISTORY
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
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* An event of one key's history: the call or the return of an op. */
typedef struct Entry
{
	int			op;				/* index into the key's op array */
	bool		is_call;
	int64_t		time;
	struct Entry *match;		/* the call's return, the return's call */
	struct Entry *prev;
	struct Entry *next;
} Entry;

/* A choice on the search stack: the call linearized, and the state before. */
typedef struct Frame
{
	Entry	   *call;
	int64_t		state;
} Frame;

/* One memo entry: a set of linearized ops (as two hashes) and a state. */
typedef struct Memo
{
	uint64_t	h1;
	uint64_t	h2;
	int64_t		state;
	bool		used;
} Memo;

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

static char **clients;
static int	nclients;
static char **keys;
static int	nkeys;
static Op  *ops;
static long nops;
static long nfailed;
static long ninfo_reads;
static int64_t time_origin = INT64_MAX;

static long budget_steps = 20 * 1000 * 1000;
static long max_memo = 2 * 1000 * 1000;
static bool quiet = false;

/* Exit with a message about bad input. */
static void
bad_input(long line, const char *what)
{
	fprintf(stderr, "lincheck: line %ld: %s\n", line, what);
	exit(3);
}

/* Out of memory is fatal. */
static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
	{
		fprintf(stderr, "lincheck: out of memory\n");
		exit(3);
	}
	return p;
}

/* Index of name in *names, added if new (linear: few clients and keys). */
static int
intern(char ***names, int *n, const char *name)
{
	for (int i = *n - 1; i >= 0; i--)
		if (strcmp((*names)[i], name) == 0)
			return i;
	*names = xrealloc(*names, sizeof(char *) * (*n + 1));
	(*names)[*n] = xrealloc(NULL, strlen(name) + 1);
	strcpy((*names)[*n], name);
	return (*n)++;
}

/* A signed 64-bit value, or "-" (NONE), or "nil" when allow_nil. */
static int64_t
parse_value(const char *s, long line, bool allow_nil)
{
	char	   *end;
	long long	v;

	if (strcmp(s, "-") == 0)
		return NONE;
	if (allow_nil && strcmp(s, "nil") == 0)
		return NIL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v <= NONE)
		bad_input(line, "a value must be a 64-bit integer or -");
	return v;
}

/* Read the history file into ops[]. */
static void
read_history(FILE *in)
{
	char		buf[4096];
	long		line = 0;
	long		cap = 0;

	while (fgets(buf, sizeof(buf), in))
	{
		char	   *f[9];
		int			nf = 0;
		char	   *save = NULL;
		Op			op;

		memset(&op, 0, sizeof(op));
		line++;
		if (strchr(buf, '\n') == NULL && !feof(in))
			bad_input(line, "line too long");
		for (char *t = strtok_r(buf, " \t\r\n", &save); t;
			 t = strtok_r(NULL, " \t\r\n", &save))
		{
			f[nf++] = t;
			if (nf == 9)
				break;
		}
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (nf < 9)
			bad_input(line, "expected 9 fields: client op key arg arg2 invoke complete outcome result");
		/* What follows RESULT (node=, host= ...) is shown, not read. */
		save += save ? strspn(save, " \t") : 0;
		if (save && *save)
		{
			save[strcspn(save, "\r\n")] = '\0';
			op.note = *save ? xrealloc(NULL, strlen(save) + 1) : NULL;
			if (op.note)
				strcpy(op.note, save);
		}

		op.line = line;
		if (strcmp(f[1], "r") == 0)
			op.kind = OP_READ;
		else if (strcmp(f[1], "w") == 0)
			op.kind = OP_WRITE;
		else if (strcmp(f[1], "c") == 0)
			op.kind = OP_CAS;
		else
			bad_input(line, "op must be r, w or c");
		if (strcmp(f[7], "ok") == 0)
			op.outcome = OUT_OK;
		else if (strcmp(f[7], "fail") == 0)
			op.outcome = OUT_FAIL;
		else if (strcmp(f[7], "info") == 0)
			op.outcome = OUT_INFO;
		else
			bad_input(line, "outcome must be ok, fail or info");
		op.arg = parse_value(f[3], line, false);
		op.arg2 = parse_value(f[4], line, false);
		op.invoke = parse_value(f[5], line, false);
		op.complete = parse_value(f[6], line, false);
		op.result = parse_value(f[8], line, op.kind == OP_READ);
		if (op.invoke == NONE)
			bad_input(line, "the invoke time is required");
		if (op.outcome != OUT_INFO &&
			(op.complete == NONE || op.complete < op.invoke))
			bad_input(line, "a completed op needs a completion time not before its invocation");
		if (op.kind == OP_WRITE && op.arg == NONE)
			bad_input(line, "a write needs a value");
		if (op.kind == OP_CAS && (op.arg == NONE || op.arg2 == NONE))
			bad_input(line, "a compare-and-set needs an expected and a new value");
		if (op.outcome == OUT_OK && op.kind == OP_READ && op.result == NONE)
			bad_input(line, "a completed read needs its value (or nil)");
		if (op.outcome == OUT_OK && op.kind == OP_CAS &&
			op.result != 0 && op.result != 1)
			bad_input(line, "a completed compare-and-set returns 1 or 0");

		if (op.invoke < time_origin)
			time_origin = op.invoke;
		if (op.outcome == OUT_FAIL || (op.outcome == OUT_INFO && op.kind == OP_READ))
		{
			if (op.outcome == OUT_FAIL)
				nfailed++;
			else
				ninfo_reads++;
			free(op.note);
			continue;
		}
		if (op.outcome == OUT_INFO)
			op.complete = FOREVER;
		op.shown_arg = op.arg;
		op.shown_arg2 = op.arg2;
		op.client = intern(&clients, &nclients, f[0]);
		op.key = intern(&keys, &nkeys, f[2]);
		if (nops == cap)
		{
			cap = cap ? cap * 2 : 1024;
			ops = xrealloc(ops, sizeof(Op) * cap);
		}
		ops[nops++] = op;
	}
	if (ferror(in))
	{
		fprintf(stderr, "lincheck: read error\n");
		exit(3);
	}
}

/* 64-bit mixer (splitmix64): the per-op hashes of the memo. */
static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Apply op to state: whether it is legal there, and the state after. */
static bool
step(const Op *op, int64_t state, int64_t *next)
{
	switch (op->kind)
	{
		case OP_READ:
			*next = state;
			return op->result == state;
		case OP_WRITE:
			*next = op->arg;
			return true;
		case OP_CAS:
			if (op->outcome == OUT_INFO)
			{
				/* Took effect: it swapped iff the register held ARG. */
				*next = state == op->arg ? op->arg2 : state;
				return true;
			}
			if (op->result == 1)
			{
				*next = op->arg2;
				return state == op->arg;
			}
			*next = state;
			return state != op->arg;
	}
	return false;
}

/* The memo: an open-addressing table of (hash pair, state). */
static Memo *memo;
static long memo_cap;
static long memo_used;

/* Insert into the memo; false if already there.  Sets *full when full. */
static bool
memo_add(uint64_t h1, uint64_t h2, int64_t state, bool *full)
{
	uint64_t	h = h1 ^ mix64((uint64_t) state);
	long		i;

	if (memo_used * 2 >= memo_cap)
	{
		long		old_cap = memo_cap;
		Memo	   *old = memo;

		if (memo_used >= max_memo)
		{
			*full = true;
			return false;
		}
		memo_cap = memo_cap ? memo_cap * 2 : 1 << 16;
		memo = calloc(memo_cap, sizeof(Memo));
		if (memo == NULL)
		{
			fprintf(stderr, "lincheck: out of memory for the memo\n");
			exit(3);
		}
		memo_used = 0;
		for (long j = 0; j < old_cap; j++)
			if (old[j].used)
			{
				bool		ignored = false;

				memo_add(old[j].h1, old[j].h2, old[j].state, &ignored);
			}
		free(old);
	}
	for (i = (long) (h & (uint64_t) (memo_cap - 1));; i = (i + 1) & (memo_cap - 1))
	{
		Memo	   *m = &memo[i];

		if (!m->used)
		{
			m->used = true;
			m->h1 = h1;
			m->h2 = h2;
			m->state = state;
			memo_used++;
			return true;
		}
		if (m->h1 == h1 && m->h2 == h2 && m->state == state)
			return false;
	}
}

/* Empty the memo between keys. */
static void
memo_reset(void)
{
	if (memo)
		memset(memo, 0, sizeof(Memo) * memo_cap);
	memo_used = 0;
}

/* Order of events: by time; at equal times calls first (concurrent). */
static int
entry_cmp(const void *a, const void *b)
{
	const Entry *x = a;
	const Entry *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->is_call != y->is_call)
		return x->is_call ? -1 : 1;
	return x->op - y->op;
}

/* Remove a call and its return from the list. */
static void
lift(Entry **head, Entry *call)
{
	Entry	   *ret = call->match;

	if (call->prev)
		call->prev->next = call->next;
	else
		*head = call->next;
	call->next->prev = call->prev;
	if (ret->prev)
		ret->prev->next = ret->next;
	else
		*head = ret->next;
	if (ret->next)
		ret->next->prev = ret->prev;
}

/* Put a lifted call and its return back, in the reverse order of lift. */
static void
unlift(Entry **head, Entry *call)
{
	Entry	   *ret = call->match;

	if (ret->prev)
		ret->prev->next = ret;
	else
		*head = ret;
	if (ret->next)
		ret->next->prev = ret;
	if (call->prev)
		call->prev->next = call;
	else
		*head = call;
	call->next->prev = call;
}

enum verdict { LINEARIZABLE, VIOLATION, UNKNOWN };

/*
 * The search on one key's ops (kops[0..n-1], pointers into ops[]).
 * Fills *far when it finds no linearization.
 */
static enum verdict
search(Op **kops, int n, Furthest *far, long *steps_out)
{
	Entry	   *ev = xrealloc(NULL, sizeof(Entry) * 2 * (size_t) n);
	Frame	   *stack = xrealloc(NULL, sizeof(Frame) * (size_t) (n + 1));
	uint64_t   *z1 = xrealloc(NULL, sizeof(uint64_t) * (size_t) n);
	uint64_t   *z2 = xrealloc(NULL, sizeof(uint64_t) * (size_t) n);
	Entry	  **call_of = xrealloc(NULL, sizeof(Entry *) * (size_t) n);
	Entry	   *head;
	int			depth = 0;
	int			ok_left = 0;
	int			ok_done = 0;
	uint64_t	h1 = 0,
				h2 = 0;
	int64_t		state = NIL;
	long		steps = 0;
	enum verdict result = LINEARIZABLE;

	memo_reset();
	far->depth = -1;
	for (int i = 0; i < n; i++)
	{
		ev[2 * i] = (Entry) {.op = i, .is_call = true, .time = kops[i]->invoke};
		ev[2 * i + 1] = (Entry) {.op = i, .is_call = false, .time = kops[i]->complete};
		z1[i] = mix64((uint64_t) i * 2 + 1);
		z2[i] = mix64(z1[i] ^ 0x5bd1e995u);
		if (kops[i]->outcome == OUT_OK)
			ok_left++;
	}
	qsort(ev, 2 * (size_t) n, sizeof(Entry), entry_cmp);
	for (int i = 0; i < 2 * n; i++)
	{
		ev[i].prev = i > 0 ? &ev[i - 1] : NULL;
		ev[i].next = i < 2 * n - 1 ? &ev[i + 1] : NULL;
		if (ev[i].is_call)
			call_of[ev[i].op] = &ev[i];
	}
	for (int i = 0; i < 2 * n; i++)
		if (!ev[i].is_call)
		{
			ev[i].match = call_of[ev[i].op];
			call_of[ev[i].op]->match = &ev[i];
		}
	head = n > 0 ? &ev[0] : NULL;

	{
		Entry	   *e = head;

		while (ok_left > 0)
		{
			if (++steps > budget_steps)
			{
				result = UNKNOWN;
				break;
			}
			if (e->is_call)
			{
				const Op   *op = kops[e->op];
				int64_t		next;

				if (step(op, state, &next))
				{
					bool		full = false;
					uint64_t	n1 = h1 ^ z1[e->op],
								n2 = h2 ^ z2[e->op];

					if (memo_add(n1, n2, next, &full))
					{
						stack[depth++] = (Frame) {.call = e, .state = state};
						state = next;
						h1 = n1;
						h2 = n2;
						if (op->outcome == OUT_OK)
						{
							ok_left--;
							ok_done++;
						}
						lift(&head, e);
						e = head;
						continue;
					}
					if (full)
					{
						result = UNKNOWN;
						break;
					}
				}
				e = e->next;
				continue;
			}

			/* A return: its op is not linearized; no choice before it works. */
			if (ok_done > far->depth)
			{
				int			k = 0;

				far->depth = ok_done;
				far->stuck = e->op;
				far->state = state;
				far->ntail = depth < EXPLAIN_TAIL ? depth : EXPLAIN_TAIL;
				for (int i = depth - far->ntail; i < depth; i++, k++)
				{
					far->tail[k] = stack[i].call->op;
					far->tail_state[k] = i + 1 < depth ? stack[i + 1].state : state;
				}
				far->npending = 0;
				for (Entry *p = head; p && p != e && far->npending < EXPLAIN_PENDING; p = p->next)
					if (p->is_call && p->op != e->op)
						far->pending[far->npending++] = p->op;
			}
			if (depth == 0)
			{
				result = VIOLATION;
				break;
			}
			depth--;
			e = stack[depth].call;
			state = stack[depth].state;
			h1 ^= z1[e->op];
			h2 ^= z2[e->op];
			if (kops[e->op]->outcome == OUT_OK)
			{
				ok_left++;
				ok_done--;
			}
			unlift(&head, e);
			e = e->next;
		}
	}
	*steps_out = steps;
	free(ev);
	free(stack);
	free(z1);
	free(z2);
	free(call_of);
	return result;
}

/* Print a value as the history spells it. */
static void
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
static void
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
static void
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
static int
cmp_i64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return x < y ? -1 : x > y;
}

/* Whether v is in seen[] (values some op compares with), sorted. */
static bool
observed(const int64_t *seen, int nseen, int64_t v)
{
	return bsearch(&v, seen, nseen, sizeof(int64_t), cmp_i64) != NULL;
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
static int
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
