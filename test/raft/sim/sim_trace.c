/*
 * sim_trace.c
 *	  Readable traces and failure reports of the simulator.
 *
 * With --trace every event of a run is printed as it happens; a failing run
 * in batch mode is replayed into a ring buffer so that its last lines can be
 * shown next to the failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

/* One trace line: "[  12.345s] n2  text". */
void
sim_trace(sim_cluster *c, int node, const char *fmt,...)
{
	char		line[SIM_LINE];
	int			off;
	va_list		ap;

	if (c->trace == TRACE_OFF || (c->trace == TRACE_STDOUT && c->now < c->trace_from))
		return;
	if (node >= 0)
		off = snprintf(line, sizeof(line), "[%5lld.%03llds] n%-2d ",
					   (long long) (c->now / 1000), (long long) (c->now % 1000),
					   node + 1);
	else
		off = snprintf(line, sizeof(line), "[%5lld.%03llds] --  ",
					   (long long) (c->now / 1000), (long long) (c->now % 1000));
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - (size_t) off, fmt, ap);
	va_end(ap);
	if (c->trace == TRACE_STDOUT)
		puts(line);
	else if (c->ring)
	{
		memcpy(c->ring[c->ring_next], line, SIM_LINE);
		c->ring_next = (c->ring_next + 1) % SIM_RING_LINES;
		if (c->ring_count < SIM_RING_LINES)
			c->ring_count++;
	}
}

/* Print the ring buffer, oldest line first. */
void
sim_trace_dump_ring(sim_cluster *c, FILE *out)
{
	int			start = (c->ring_next - c->ring_count + SIM_RING_LINES) % SIM_RING_LINES;

	for (int k = 0; k < c->ring_count; k++)
		fprintf(out, "    %s\n", c->ring[(start + k) % SIM_RING_LINES]);
}

/* Record the first invariant failure of the run. */
void
sim_fail(sim_cluster *c, const char *invariant, const char *fmt,...)
{
	char		detail[768];
	va_list		ap;

	if (c->failed || c->done)
		return;
	if (c->no_liveness && strcmp(invariant, "liveness") == 0)
	{
		TRACE(c, -1, "liveness not checked (--no-liveness)");
		c->done = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	c->failed = true;
	snprintf(c->failure, sizeof(c->failure), "%s: %s (at %lld ms)", invariant,
			 detail, (long long) c->now);
	TRACE(c, -1, "INVARIANT FAILED %s", c->failure);
}

/* One-line summary of a message for traces. */
const char *
sim_msg_summary(const raft_message *m, char *buf, size_t cap)
{
	int			n;

	n = snprintf(buf, cap, "%s n%u->n%u t%llu", raft_msg_type_name(m->type),
				 m->from, m->to, (unsigned long long) m->term);
	if (n < 0 || (size_t) n >= cap)
		return buf;
	switch (m->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			snprintf(buf + n, cap - (size_t) n, " last=%llu/t%llu%s",
					 (unsigned long long) m->last_log_index,
					 (unsigned long long) m->last_log_term,
					 m->transfer ? " transfer" : "");
			break;
		case RAFT_MSG_PREVOTE_RESPONSE:
		case RAFT_MSG_VOTE_RESPONSE:
			if (m->granted)
				snprintf(buf + n, cap - (size_t) n, " granted");
			else
				snprintf(buf + n, cap - (size_t) n, " refused reason=%d", m->refusal);
			break;
		case RAFT_MSG_APPEND:
			snprintf(buf + n, cap - (size_t) n, " prev=%llu/t%llu n=%u commit=%llu echo=%lld",
					 (unsigned long long) m->prev_log_index,
					 (unsigned long long) m->prev_log_term, m->n_entries,
					 (unsigned long long) m->commit, (long long) m->echo);
			break;
		case RAFT_MSG_APPEND_RESPONSE:
			snprintf(buf + n, cap - (size_t) n, " %s match=%llu hint=%llu echo=%lld pos=%llu/%llu",
					 m->success ? "ok" : "reject",
					 (unsigned long long) m->match_index,
					 (unsigned long long) m->reject_hint, (long long) m->echo,
					 (unsigned long long) m->position.major,
					 (unsigned long long) m->position.minor);
			break;
		default:
			break;
	}
	return buf;
}
