/*
 * sim_heap.c
 *	  The simulator's event queue: a binary min-heap on (time, sequence).
 *
 * The sequence number breaks ties in insertion order, so that events due at
 * the same millisecond always run in the same order and a seed replays.
 */
#include <stdlib.h>

#include "sim.h"

/* Whether event a runs before event b. */
static inline bool
ev_before(const sim_event *a, const sim_event *b)
{
	if (a->at != b->at)
		return a->at < b->at;
	return a->seq < b->seq;
}

/* Grow an array to hold 'need' elements (see sim.h). */
void *
sim_grow(void *p, size_t *cap, size_t need, size_t size, size_t first)
{
	if (need <= *cap)
		return p;
	*cap = *cap ? *cap * 2 : first;
	p = realloc(p, *cap * size);
	if (p == NULL)
		abort();
	return p;
}

/* Insert an event (its seq is assigned here). */
void
heap_push(sim_heap *h, sim_event ev)
{
	size_t		i;

	h->ev = sim_grow(h->ev, &h->cap, h->len + 1, sizeof(sim_event), 256);
	ev.seq = h->next_seq++;
	i = h->len++;
	while (i > 0)
	{
		size_t		parent = (i - 1) / 2;

		if (!ev_before(&ev, &h->ev[parent]))
			break;
		h->ev[i] = h->ev[parent];
		i = parent;
	}
	h->ev[i] = ev;
}

/* Remove the earliest event into *out; false when the queue is empty. */
bool
heap_pop(sim_heap *h, sim_event *out)
{
	sim_event	last;
	size_t		i = 0;

	if (h->len == 0)
		return false;
	*out = h->ev[0];
	last = h->ev[--h->len];
	for (;;)
	{
		size_t		l = 2 * i + 1;
		size_t		m;

		if (l >= h->len)
			break;
		m = l;
		if (l + 1 < h->len && ev_before(&h->ev[l + 1], &h->ev[l]))
			m = l + 1;
		if (!ev_before(&h->ev[m], &last))
			break;
		h->ev[i] = h->ev[m];
		i = m;
	}
	if (h->len > 0)
		h->ev[i] = last;
	return true;
}

/* Release the queue's memory (packets it still points to are freed by the caller). */
void
heap_free(sim_heap *h)
{
	free(h->ev);
	h->ev = NULL;
	h->len = h->cap = 0;
}
