/*
 * lincheck_search.c
 *	  The search for a linearization of one key's operations: Wing and
 *	  Gong's algorithm with Lowe's memoisation.  Calls and returns in one
 *	  list in time order; a call whose op fits the register's state is
 *	  linearized (lifted out of the list with its return) unless the memo
 *	  has seen the resulting (set of linearized ops, state); reaching a
 *	  return whose op is not linearized backtracks.
 */
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"

long		budget_steps = 20 * 1000 * 1000;
long		max_memo = 2 * 1000 * 1000;

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

/*
 * The search on one key's ops (kops[0..n-1], pointers into ops[]).
 * Fills *far when it finds no linearization.
 */
enum verdict
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
